// The operator console in headless Chromium against a real herald serve and a real receiver.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHerald, startReceiver, launchBrowser, screenshot, watchPageErrors, ADMIN_KEY, START, STOP } from './harness.mjs';

let herald; let receiver; let browser; let page; let errors;

before(async () => {
  [herald, receiver, browser] = await Promise.all([startHerald(), startReceiver(), launchBrowser()]);
  page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.setDefaultTimeout(10_000);
  errors = watchPageErrors(page);
}, START);

after(async () => {
  if (page) await screenshot(page, 'console-last-state').catch(() => {});
  await browser?.close();
  await receiver?.stop();
  await herald?.stop();
}, STOP);

const rows = testid => page.getByTestId(testid).locator('tbody tr');

test('console: sign in, endpoints, test event, attempts, retry, secrets, recover, live list', async () => {
  await page.goto(`${herald.url}/console/`);
  await page.getByTestId('sign-in').waitFor();
  await screenshot(page, 'console-sign-in');

  // A wrong key is refused in plain words and nothing is stored.
  await page.getByTestId('api-key').fill('hrd_notARealKey');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Your API key was not accepted').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);

  await page.getByTestId('api-key').fill(ADMIN_KEY);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Applications' }).waitFor();
  assert.match(await page.getByText('No applications yet').textContent(), /No applications yet/);

  // An application made from the form lands on its (empty) endpoints tab.
  await page.getByTestId('app-name').fill('Acme Payments');
  await page.getByRole('button', { name: 'Create application' }).click();
  await page.getByTestId('app-title').filter({ hasText: 'Acme Payments' }).waitFor();
  await page.getByTestId('endpoints-empty').waitFor();
  const apps = await herald.call('GET', '/v1/apps');
  assert.equal(apps.data.length, 1);
  const app = apps.data[0];
  assert.equal(app.name, 'Acme Payments');

  // Add an endpoint pointing at the real receiver.
  await page.getByTestId('new-endpoint').click();
  await page.getByTestId('endpoint-url').fill(receiver.url);
  await page.getByLabel('Description').fill('Order service');
  await page.getByTestId('create-endpoint').click();
  await page.getByRole('heading', { name: receiver.url }).waitFor();
  const [ep] = (await herald.call('GET', `/v1/apps/${app.id}/endpoints`)).data;
  assert.equal(ep.url, receiver.url);
  assert.equal(ep.description, 'Order service');
  assert.equal(await page.getByRole('heading', { name: receiver.url }).locator('[data-status]').getAttribute('data-status'), 'active');

  // Send a test event; the receiver answers 500, so the attempt shows the failure.
  receiver.answers.push(500);
  await page.getByTestId('send-test').click();
  await receiver.waitFor(1);
  assert.equal(JSON.parse(receiver.arrivals[0].body).type, 'herald.ping');
  await rows('deliveries').first().waitFor(); // appears via the live refresh
  await page.getByTestId('deliveries').locator('tbody tr').first().locator('a').first().click();
  const attempts = rows('attempts');
  await attempts.first().waitFor();
  assert.equal(await attempts.count(), 1);
  const first = attempts.first();
  assert.match(await first.textContent(), /500/);
  assert.match(await first.textContent(), /http status/);
  await first.locator('summary').click();
  assert.equal(await first.locator('pre').textContent(), 'receiver says no (500)');
  await screenshot(page, 'console-delivery-failed');

  // Retry: a second attempt arrives, succeeds, and the page shows it without a reload.
  await page.getByTestId('retry').click();
  await receiver.waitFor(2);
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=attempts] tbody tr').length === 2);
  assert.match(await attempts.nth(1).textContent(), /200/);
  await page.locator('.facts [data-status=succeeded]').waitFor();
  await screenshot(page, 'console-delivery');

  // Deliveries tab: filters by status.
  await page.getByRole('link', { name: 'Deliveries', exact: true }).click();
  await rows('deliveries').first().waitFor();
  await page.getByTestId('status-filter').selectOption('failed');
  await page.getByTestId('deliveries-empty').waitFor();
  await page.getByTestId('status-filter').selectOption('succeeded');
  await rows('deliveries').first().waitFor();
  assert.equal(await rows('deliveries').count(), 1);
  await page.getByTestId('status-filter').selectOption('');

  // Live list: an event sent through the API appears on the open page.
  await herald.call('POST', `/v1/apps/${app.id}/events`, { type: 'order.paid', payload: { order: 'A-1001', amount: 4200 } });
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=deliveries] tbody tr').length === 2, null, { timeout: 10_000 });
  await receiver.waitFor(3);
  await screenshot(page, 'console-deliveries');

  // The event with its payload.
  await page.getByRole('link', { name: 'Events', exact: true }).click();
  await rows('events').first().waitFor();
  assert.equal(await rows('events').count(), 2);
  await rows('events').filter({ hasText: 'order.paid' }).locator('a').click();
  const payload = JSON.parse(await page.getByTestId('payload').textContent());
  assert.deepEqual(payload, { order: 'A-1001', amount: 4200 });
  assert.equal(await rows('event-deliveries').count(), 1);
  await screenshot(page, 'console-event');

  // Endpoint page: stats, rotate (new secret shown once and really in force), disable/enable.
  await page.getByRole('link', { name: 'Endpoints', exact: true }).click();
  await rows('endpoints').first().waitFor();
  await page.waitForFunction(() => document.querySelector('.stat-succeeded')?.textContent === '2');
  await screenshot(page, 'console-endpoints');
  await rows('endpoints').locator('a').first().click();
  await page.getByTestId('stat-succeeded').filter({ hasText: '2' }).waitFor();
  const before = (await herald.call('GET', `/v1/apps/${app.id}/endpoints/${ep.id}/secret`)).secret;
  await page.getByTestId('rotate').click();
  await page.getByRole('button', { name: 'Rotate', exact: true }).click();
  const shown = await page.getByTestId('secret').inputValue();
  assert.match(shown, /^whsec_/);
  assert.notEqual(shown, before);
  assert.equal((await herald.call('GET', `/v1/apps/${app.id}/endpoints/${ep.id}/secret`)).secret, shown);
  await page.getByRole('button', { name: 'Done' }).click();

  // A pending delivery is cancelled by disabling, then recovered after enabling.
  receiver.answers.push(503);
  await herald.call('POST', `/v1/apps/${app.id}/events`, { type: 'order.refunded', payload: { order: 'A-1001' } });
  await receiver.waitFor(4);
  await page.getByTestId('disable').click();
  await page.getByRole('dialog').getByRole('button', { name: 'Disable' }).click();
  await page.getByRole('heading', { name: receiver.url }).locator('[data-status=disabled]').waitFor();
  assert.equal((await herald.call('GET', `/v1/apps/${app.id}/endpoints/${ep.id}`)).status, 'disabled');
  assert.equal((await herald.call('GET', `/v1/apps/${app.id}/deliveries?status=cancelled`)).data.length, 1);
  await page.getByTestId('enable').click();
  await page.getByRole('heading', { name: receiver.url }).locator('[data-status=active]').waitFor();
  await page.getByTestId('recover').click();
  await page.getByRole('dialog').getByRole('button', { name: 'Recover' }).click();
  await page.getByText('1 delivery requeued').waitFor();
  await receiver.waitFor(5);
  assert.equal(JSON.parse(receiver.arrivals[4].body).type, 'order.refunded');
  await screenshot(page, 'console-endpoint');

  // Event types with their schemas.
  await herald.call('POST', '/v1/event-types', { name: 'order.paid', description: 'An order was paid',
    schema: { type: 'object', required: ['order'], properties: { order: { type: 'string' } } } });
  await page.getByRole('link', { name: 'Event types' }).click();
  await rows('event-types').first().waitFor();
  await rows('event-types').first().locator('summary').click();
  assert.deepEqual(JSON.parse(await rows('event-types').first().locator('pre').textContent()).required, ['order']);
  await screenshot(page, 'console-event-types');

  // Phone width: still usable (no horizontal overflow of the page itself).
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${herald.url}/console/#/apps/${app.id}/deliveries`);
  await rows('deliveries').first().waitFor();
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1));
  await screenshot(page, 'console-deliveries-phone');

  // Signing out forgets the key.
  await page.getByTestId('sign-out').click();
  await page.getByTestId('sign-in').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  assert.deepEqual(errors, []);
});

test('console: cannot be framed, and its files are served from the binary', async () => {
  const r = await fetch(`${herald.url}/console/`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-security-policy'), /frame-ancestors 'none'/);
  assert.match(await r.text(), /<script type="module" src="main.js">/);
  const js = await fetch(`${herald.url}/console/main.js`);
  assert.match(js.headers.get('content-type'), /javascript/);
  const missing = await fetch(`${herald.url}/console/nope.js`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.type, 'not_found');
});

test('console: filter and transformation editors, their tests on a recent event, chat formats', async () => {
  const app = await herald.call('POST', '/v1/apps', { name: 'Routing Co' });
  const ep = await herald.call('POST', `/v1/apps/${app.id}/endpoints`, { url: `${receiver.url}?routing=1` });
  const first = receiver.arrivals.length;
  await herald.call('POST', `/v1/apps/${app.id}/events`, { type: 'sale.made', payload: { id: 'ord_9', amount: 250 } });
  await receiver.waitFor(first + 1);
  const start = receiver.arrivals.length;
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.goto(`${herald.url}/console/`);
  if (await page.getByTestId('sign-in').count()) {
    await page.getByTestId('api-key').fill(ADMIN_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Applications' }).waitFor();
  }
  await page.goto(`${herald.url}/console/#/apps/${app.id}/endpoints/${ep.id}`);
  await page.getByTestId('filter-input').waitFor();

  // Test the filter on the app's recent event.
  await page.getByTestId('test-event').locator('option', { hasText: 'sale.made' }).waitFor({ state: 'attached' });
  await page.getByTestId('test-event').selectOption({ index: 1 });
  await page.waitForFunction(() => document.querySelector('[data-testid=test-payload]').value.includes('ord_9'));
  assert.equal(await page.getByTestId('test-type').inputValue(), 'sale.made');
  await page.getByTestId('filter-input').fill('data.amount >= 100');
  await page.getByTestId('test-filter').click();
  await page.getByTestId('filter-result').filter({ hasText: 'Matches' }).waitFor();
  await page.getByTestId('filter-input').fill('data.amount >= 1000');
  await page.getByTestId('test-filter').click();
  await page.getByTestId('filter-result').filter({ hasText: 'No match' }).waitFor();
  await page.getByTestId('filter-input').fill('data.amount >=');
  await page.getByTestId('test-filter').click();
  assert.match(await page.getByTestId('routing-error').textContent(), /line 1, column/);

  // Test a transformation on a typed payload: the request that would be sent.
  await page.getByTestId('test-event').selectOption('');
  await page.getByTestId('test-type').fill('invoice.created');
  await page.getByTestId('test-payload').fill('{"invoice": "INV-1"}');
  await page.getByTestId('transformation-input').fill(
    'function handler(w) {\n  w.payload = {text: "Invoice " + w.payload.data.invoice};\n  w.headers["X-Via"] = "console";\n  return w;\n}');
  await page.getByTestId('test-transformation').click();
  await page.getByTestId('transformation-body').waitFor();
  assert.deepEqual(JSON.parse(await page.getByTestId('transformation-body').textContent()), { text: 'Invoice INV-1' });
  assert.equal(JSON.parse(await page.getByTestId('transformation-headers').textContent())['x-via'], 'console');
  await screenshot(page, 'console-routing');
  await page.getByTestId('transformation-input').fill('function handler(w) { throw new Error("no invoices today"); }');
  await page.getByTestId('test-transformation').click();
  assert.match(await page.getByTestId('routing-error').textContent(), /no invoices today/);

  // A bad filter is not saved; a good pair is, and applies to what is delivered.
  await page.getByTestId('filter-input').fill('data.amount >=');
  await page.getByTestId('save-routing').click();
  await page.getByRole('alert').filter({ hasText: 'filter' }).waitFor();
  assert.equal((await herald.call('GET', `/v1/apps/${app.id}/endpoints/${ep.id}`)).filter, null);
  await page.getByTestId('filter-input').fill('data.amount >= 100');
  await page.getByTestId('transformation-input').fill('function handler(w) { w.payload = {paid: w.payload.data.id}; return w; }');
  await page.getByTestId('save-routing').click();
  await page.getByText('Filter and transformation saved').waitFor();
  const saved = await herald.call('GET', `/v1/apps/${app.id}/endpoints/${ep.id}`);
  assert.equal(saved.filter, 'data.amount >= 100');
  assert.deepEqual(saved.transformation, { code: 'function handler(w) { w.payload = {paid: w.payload.data.id}; return w; }', enabled: true });
  await herald.call('POST', `/v1/apps/${app.id}/events`, { type: 'sale.made', payload: { id: 'ord_small', amount: 5 } });
  await herald.call('POST', `/v1/apps/${app.id}/events`, { type: 'sale.made', payload: { id: 'ord_big', amount: 500 } });
  await receiver.waitFor(start + 1);
  await new Promise(r => setTimeout(r, 300));
  const mine = receiver.arrivals.slice(start).filter(a => a.path.includes('routing=1'));
  assert.deepEqual(mine.map(a => JSON.parse(a.body)), [{ paid: 'ord_big' }]);

  // The format, Slack and Discord included, from the edit dialog.
  await page.getByTestId('edit').click();
  await page.getByRole('dialog').getByTestId('format-select').selectOption('slack');
  await page.getByRole('dialog').getByRole('button', { name: 'Save' }).click();
  await page.getByTestId('endpoint-format').filter({ hasText: 'Slack' }).waitFor();
  assert.equal((await herald.call('GET', `/v1/apps/${app.id}/endpoints/${ep.id}`)).format, 'slack');
  await page.goto(`${herald.url}/console/#/apps/${app.id}/endpoints/new`);
  await page.getByTestId('create-endpoint').waitFor();
  const options = await page.getByTestId('format-select').locator('option').evaluateAll(os => os.map(o => o.value));
  assert.deepEqual(options, ['standard_webhooks', 'cloudevents', 'cloudevents_binary', 'slack', 'discord']);
  assert.deepEqual(errors, []);
});
