// The customer portal in headless Chromium: one application only, read-only sessions,
// expiry, theming, and embedding in another site's iframe.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { startHerald, startReceiver, launchBrowser, screenshot, watchPageErrors, START, STOP } from './harness.mjs';

// A 1×1 PNG: the operator's logo, served by the operator's own (loopback) site.
const LOGO = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');

let herald; let receiver; let browser; let site; let siteUrl;
let acme; let globex; let acmeEp;

before(async () => {
  [herald, receiver, browser] = await Promise.all([startHerald(), startReceiver(), launchBrowser()]);
  // The operator's site on another origin, which embeds the portal.
  site = createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname === '/logo.png') { res.writeHead(200, { 'Content-Type': 'image/png' }); res.end(LOGO); return; }
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end(`<!doctype html><h1>Operator's settings page</h1>
      <iframe id="portal" src="${u.searchParams.get('portal')}" width="1000" height="700"></iframe>
      <iframe id="console" src="${herald.url}/console/" width="400" height="200"></iframe>`);
  });
  await new Promise(r => site.listen(0, '127.0.0.1', r));
  siteUrl = `http://127.0.0.1:${site.address().port}`;

  acme = await herald.call('POST', '/v1/apps', { name: 'Acme Corp', uid: 'acme' });
  globex = await herald.call('POST', '/v1/apps', { name: 'Globex' });
  acmeEp = await herald.call('POST', `/v1/apps/${acme.id}/endpoints`, { url: `${receiver.url}?tenant=acme`, description: 'Acme orders' });
  await herald.call('POST', `/v1/apps/${globex.id}/endpoints`, { url: `${receiver.url}?tenant=globex`, description: 'Globex secret endpoint' });
  receiver.answers.push(500, 200);
  await herald.call('POST', `/v1/apps/${acme.id}/events`, { type: 'invoice.created', payload: { invoice: 'INV-7' } });
  await herald.call('POST', `/v1/apps/${globex.id}/events`, { type: 'invoice.created', payload: { invoice: 'GLOBEX-1' } });
  await receiver.waitFor(2);
}, START);

after(async () => {
  await browser?.close();
  await new Promise(r => (site ? site.close(r) : r()));
  await receiver?.stop();
  await herald?.stop();
}, STOP);

async function openPortal(session, viewport = { width: 1280, height: 860 }) {
  const page = await browser.newPage({ viewport });
  page.setDefaultTimeout(10_000);
  const errors = watchPageErrors(page);
  await page.goto(session.url);
  return { page, errors };
}

const rows = (page, testid) => page.getByTestId(testid).locator('tbody tr');

test('portal: sees only its application, manages endpoints, retries, themed', async () => {
  const session = await herald.call('POST', `/v1/apps/${acme.id}/portal-sessions`,
    { accent_color: '#e11d48', logo_url: `${siteUrl}/logo.png` });
  assert.match(session.url, /\/portal\/\?accent=%23e11d48&logo=.*#token=hrd_/);
  const { page, errors } = await openPortal(session);

  await page.getByTestId('app-title').filter({ hasText: 'Acme Corp' }).waitFor();
  assert.ok(!page.url().includes('token='), 'the token is taken out of the address bar');
  assert.equal(await page.locator('#nav a').count(), 0, 'no way to other applications');
  assert.equal(await page.getByRole('link', { name: '← Applications' }).count(), 0);

  // Theming from the session request.
  const accent = await page.getByTestId('new-endpoint').evaluate(el => getComputedStyle(el).backgroundColor);
  assert.equal(accent, 'rgb(225, 29, 72)');
  await page.waitForFunction(() => document.getElementById('logo').naturalWidth === 1);
  assert.equal(await page.locator('#logo').getAttribute('src'), `${siteUrl}/logo.png`);

  // Only Acme's endpoint is listed; Globex is not reachable even by address.
  await rows(page, 'endpoints').first().waitFor();
  assert.equal(await rows(page, 'endpoints').count(), 1);
  assert.match(await page.getByTestId('endpoints').textContent(), /tenant=acme/);
  assert.doesNotMatch(await page.content(), /globex/i);
  await screenshot(page, 'portal-endpoints');
  await page.goto(`${session.url.split('#')[0]}#/apps/${globex.id}/endpoints`);
  await page.getByRole('alert').filter({ hasText: 'Not found' }).waitFor();
  await page.goto(`${session.url.split('#')[0]}#/`);
  await page.getByTestId('app-title').filter({ hasText: 'Acme Corp' }).waitFor();

  // Create an endpoint: it lands in Acme.
  await page.getByTestId('new-endpoint').click();
  await page.getByTestId('endpoint-url').fill(`${receiver.url}?tenant=acme-2`);
  await page.getByLabel('Event types').fill('invoice.*, order.paid');
  await page.getByTestId('create-endpoint').click();
  await page.getByRole('heading', { name: 'tenant=acme-2' }).waitFor();
  const eps = (await herald.call('GET', `/v1/apps/${acme.id}/endpoints`)).data;
  const created = eps.find(e => e.url.endsWith('acme-2'));
  assert.deepEqual(created.event_types, ['invoice.*', 'order.paid']);
  assert.equal((await herald.call('GET', `/v1/apps/${globex.id}/endpoints`)).data.length, 1);

  // Edit it, then delete it.
  await page.getByTestId('edit').click();
  await page.getByRole('dialog').getByLabel('Description').fill('Billing system');
  await page.getByRole('dialog').getByRole('button', { name: 'Save' }).click();
  await page.getByText('Billing system').waitFor();
  assert.equal((await herald.call('GET', `/v1/apps/${acme.id}/endpoints/${created.id}`)).description, 'Billing system');
  await page.getByTestId('reveal-secret').click();
  assert.equal(await page.getByTestId('secret').inputValue(),
    (await herald.call('GET', `/v1/apps/${acme.id}/endpoints/${created.id}/secret`)).secret);
  await page.getByRole('button', { name: 'Done' }).click();
  await page.getByTestId('delete').click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await rows(page, 'endpoints').first().waitFor();
  assert.equal(await rows(page, 'endpoints').count(), 1);
  assert.equal((await herald.call('GET', `/v1/apps/${acme.id}/endpoints`)).data.length, 1);

  // Deliveries and attempts of Acme only; retry one.
  await page.getByRole('link', { name: 'Deliveries', exact: true }).click();
  await rows(page, 'deliveries').first().waitFor();
  assert.equal(await rows(page, 'deliveries').count(), 1);
  await rows(page, 'deliveries').first().locator('a').first().click();
  await rows(page, 'attempts').first().waitFor();
  const before = receiver.arrivals.length;
  await page.getByTestId('retry').click();
  await receiver.waitFor(before + 1);
  assert.match(receiver.arrivals.at(-1).path, /tenant=acme/);
  await page.waitForFunction(n => document.querySelectorAll('[data-testid=attempts] tbody tr').length === n,
    (await herald.call('GET', `/v1/apps/${acme.id}/deliveries/${(await herald.call('GET', `/v1/apps/${acme.id}/deliveries`)).data[0].id}`)).attempts);
  await screenshot(page, 'portal-delivery');

  await page.setViewportSize({ width: 390, height: 844 });
  await page.getByRole('link', { name: 'Endpoints', exact: true }).click();
  await rows(page, 'endpoints').first().waitFor();
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1));
  await screenshot(page, 'portal-endpoints-phone');
  assert.deepEqual(errors, []);
  await page.close();
});

test('portal: a customer writes and tests a filter and a transformation', async () => {
  const session = await herald.call('POST', `/v1/apps/${acme.id}/portal-sessions`, {});
  const { page, errors } = await openPortal(session);
  await page.goto(`${session.url.split('#')[0]}#/apps/${acme.id}/endpoints/${acmeEp.id}`);
  await page.getByTestId('filter-input').waitFor();
  // The recent event of this application only.
  await page.getByTestId('test-event').locator('option', { hasText: 'invoice.created' }).waitFor({ state: 'attached' });
  const labels = await page.getByTestId('test-event').locator('option').allTextContents();
  assert.equal(labels.length, 2, labels.join(' | '));
  await page.getByTestId('test-event').selectOption({ index: 1 });
  await page.waitForFunction(() => document.querySelector('[data-testid=test-payload]').value.includes('INV-7'));
  await page.getByTestId('filter-input').fill('data.invoice.startsWith("INV-")');
  await page.getByTestId('test-filter').click();
  await page.getByTestId('filter-result').filter({ hasText: 'Matches' }).waitFor();
  await page.getByTestId('transformation-input').fill('function handler(w) { w.cancel = true; return w; }');
  await page.getByTestId('test-transformation').click();
  await page.getByTestId('transformation-result').filter({ hasText: 'Cancelled' }).waitFor();
  await page.getByTestId('transformation-input').fill('function handler(w) { w.payload = {invoice: w.payload.data.invoice}; return w; }');
  await page.getByTestId('save-routing').click();
  await page.getByText('Filter and transformation saved').waitFor();
  const saved = await herald.call('GET', `/v1/apps/${acme.id}/endpoints/${acmeEp.id}`);
  assert.equal(saved.filter, 'data.invoice.startsWith("INV-")');
  assert.equal(saved.transformation.enabled, true);
  await screenshot(page, 'portal-routing');
  // Put the endpoint back as the other tests expect it.
  await herald.call('PATCH', `/v1/apps/${acme.id}/endpoints/${acmeEp.id}`, { filter: null, transformation: null });
  assert.deepEqual(errors, []);
  await page.close();
});

test('portal: a read-only session shows no way to change anything and the API refuses it', async () => {
  const session = await herald.call('POST', `/v1/apps/${acme.id}/portal-sessions`, { read_only: true });
  const { page, errors } = await openPortal(session);
  await page.getByTestId('app-title').filter({ hasText: 'Acme Corp' }).waitFor();
  await page.locator('#who [data-status=read-only]').waitFor();
  await rows(page, 'endpoints').first().waitFor();
  assert.equal(await page.getByTestId('new-endpoint').count(), 0);
  await rows(page, 'endpoints').first().locator('a').click();
  await page.getByTestId('stats').locator('.stat').first().waitFor();
  for (const id of ['send-test', 'disable', 'rotate', 'recover', 'edit', 'delete', 'reveal-secret',
    'save-routing', 'test-filter', 'test-transformation']) {
    assert.equal(await page.getByTestId(id).count(), 0, `${id} is hidden`);
  }
  assert.equal(await page.getByTestId('filter-input').getAttribute('readonly'), '');
  await rows(page, 'deliveries').first().locator('a').first().click();
  await rows(page, 'attempts').first().waitFor();
  assert.equal(await page.getByTestId('retry').count(), 0);
  await screenshot(page, 'portal-read-only');
  // Even a hand-made request with the session's token is refused.
  const status = await page.evaluate(async ([ep, app]) => {
    const token = sessionStorage.getItem('herald.portal.credential');
    const r = await fetch(`/v1/apps/${app}/endpoints/${ep}/test`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
    return r.status;
  }, [acmeEp.id, acme.id]);
  assert.equal(status, 403);
  assert.deepEqual(errors, []);
  await page.close();
});

test('portal: the link stops working at expires_at', async () => {
  const session = await herald.call('POST', `/v1/apps/${acme.id}/portal-sessions`, { expires_in: 3 });
  const { page } = await openPortal(session);
  await page.getByTestId('app-title').filter({ hasText: 'Acme Corp' }).waitFor();
  await page.getByTestId('expired').waitFor({ timeout: 8_000 }); // the page notices by itself
  assert.equal(await page.getByTestId('app-title').count(), 0);
  await page.reload();
  await page.getByTestId('expired').waitFor();
  assert.equal(await page.getByTestId('endpoints').count(), 0);
  await screenshot(page, 'portal-expired');
  // The API agrees.
  await assert.rejects(herald.call('GET', `/v1/apps/${acme.id}/endpoints`, undefined, session.token), /401/);
  // A link without a token is not a way in either.
  await page.goto(`${herald.url}/portal/`);
  await page.getByTestId('expired').waitFor();
  await page.close();
});

test('portal: renders inside another site\'s iframe; the console refuses to be framed', async () => {
  const session = await herald.call('POST', `/v1/apps/${acme.id}/portal-sessions`, {});
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.setDefaultTimeout(10_000);
  await page.goto(`${siteUrl}/?portal=${encodeURIComponent(session.url)}`);
  const portal = page.frameLocator('#portal');
  await portal.getByTestId('app-title').filter({ hasText: 'Acme Corp' }).waitFor();
  await portal.getByTestId('endpoints').waitFor();
  assert.ok(await portal.locator('body').evaluate(b => b.classList.contains('embedded')));
  await screenshot(page, 'portal-embedded');
  // The console frame is blocked by frame-ancestors 'none': its sign-in form never renders.
  await page.waitForTimeout(500);
  const consoleFrame = page.frames().find(f => f !== page.mainFrame() && !f.url().includes('/portal/'));
  assert.ok(consoleFrame, 'the console iframe exists');
  assert.equal(await consoleFrame.locator('[data-testid=sign-in]').count(), 0);
  await page.close();
});
