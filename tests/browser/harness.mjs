// What every browser test needs: a real `herald serve` on a free loopback port with its own
// SQLite directory, a real receiver on 127.0.0.1, and headless Debian Chromium.

import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const ADMIN_KEY = 'hrd_browserTestAdminKey0123456789abcdefghijk';
export const SCREENSHOTS = process.env.HERALD_SCREENSHOTS || join(root, 'target/browser-screenshots');

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
    s.on('error', fail);
  });
}

/**
 * Time limits of the files' hooks: a start or a stop that hangs fails its own hook, by name,
 * well before the runner's limit for the whole file (which would say only "timed out").
 */
export const START = { timeout: 90_000 };
export const STOP = { timeout: 30_000 };

/** A running `herald serve`; `stop()` ends exactly this process. */
export async function startHerald() {
  const bin = process.env.HERALD_BIN || join(root, 'target/debug/herald');
  const dir = mkdtempSync(join(tmpdir(), 'herald-browser-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = { ...process.env, HERALD_ADMIN_KEY: ADMIN_KEY, HERALD_RETRY_SCHEDULE: '30s,30s', HERALD_RETRY_JITTER: '0' };
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'data'), '--allow-private-targets'],
    { env, stdio: ['ignore', 'ignore', 'pipe'] });
  // Never outlive the test process (a failed or forced exit must not leave a server behind).
  // The runner ends a file that ran out of time with SIGTERM, which Playwright catches and
  // then stays alive: exit here, so that the 'exit' handlers (this one, Playwright's) run.
  process.once('exit', () => { if (child.exitCode === null) child.kill('SIGKILL'); });
  process.once('SIGTERM', () => process.exit(143));
  let stderr = '';
  child.stderr.on('data', d => { stderr += d; });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`herald exited early: ${stderr}`);
    try {
      // Every request is bounded: Node's fetch can wait forever on a request sent on a
      // connection that the server closed at the same moment.
      const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2_000) });
      await r.arrayBuffer();
      if (r.ok) break;
    } catch { /* not listening yet, or that request timed out */ }
    if (Date.now() > deadline) throw new Error(`herald not ready: ${stderr}`);
    await new Promise(r => setTimeout(r, 50));
  }
  const call = async (method, path, body, key = ADMIN_KEY) => {
    const r = await fetch(`${url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path} → ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  return {
    url,
    call,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise(r => child.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A webhook receiver on 127.0.0.1. `answers` is a queue of status codes to reply with
 * (then 200); every arrival is recorded with its headers and body.
 */
export async function startReceiver() {
  const arrivals = [];
  const answers = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', c => { body += c; });
    req.on('end', () => {
      arrivals.push({ path: req.url, headers: req.headers, body });
      const status = answers.length ? answers.shift() : 200;
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(status >= 400 ? `receiver says no (${status})` : 'ok');
    });
  });
  await new Promise(r => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/hooks`,
    arrivals,
    answers,
    /** Resolves once n arrivals were recorded (fails after timeoutMs). */
    async waitFor(n, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (arrivals.length < n) {
        if (Date.now() > deadline) throw new Error(`receiver got ${arrivals.length} of ${n} requests`);
        await new Promise(r => setTimeout(r, 50));
      }
    },
    // Stop accepting first, then close every connection: the other order leaves one that
    // Herald opens in between, and close() would wait for it.
    stop: () => new Promise(r => { server.close(r); server.closeAllConnections(); }),
  };
}

/**
 * Headless Debian Chromium, as the issue prescribes. The machine has no network beyond
 * loopback: Chromium's background services (updates, sync, Google lookups) are switched off,
 * since their refused connections can stall a start. A start gets 45 s and one more try.
 * (The hangs once blamed on Chromium's start were startHerald's /readyz fetch: see there.)
 */
export async function launchBrowser() {
  const options = {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 45_000,
  };
  try {
    return await chromium.launch(options);
  } catch (e) {
    console.error(`chromium did not start (${e.message}); trying once more`);
    return chromium.launch(options);
  }
}

/** Saves a full-page screenshot under target/browser-screenshots/. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  // Toasts from the test's fast clicks would cover the page; the page is what is shown.
  await page.evaluate(() => document.getElementById('toasts')?.replaceChildren());
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Fails the test on any error the page logs or throws (a broken page must not pass). */
export function watchPageErrors(page) {
  const errors = [];
  page.on('pageerror', e => errors.push(String(e)));
  page.on('console', m => {
    // Failed API calls the page shows to the user (401 on expiry, etc.) are expected.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(m.text());
  });
  return errors;
}

