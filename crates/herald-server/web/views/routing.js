// An endpoint's filter (CEL) and transformation (JavaScript): editors, and "Test" buttons that
// run the server's test routes on a recent event of the app or a typed payload, showing
// whether it matches, the request that would be sent, or the error (routing.md).

import { get, post, patch, path, enc } from '../api.js';
import { h, fill, card, field, busy, toast, errorBox, jsonBlock } from '../dom.js';

const EXAMPLE = `function handler(webhook) {
  // webhook = {method, url, headers, eventType, eventId, payload, cancel}
  webhook.payload = { text: \`\${webhook.eventType}: \${JSON.stringify(webhook.payload.data)}\` };
  return webhook;
}`;

export function routingCard(ctx, app, base, ep, reload) {
  const ro = ctx.readOnly;
  const filter = h('textarea', {
    class: 'mono code-input', rows: 3, name: 'filter', readonly: ro, spellcheck: 'false',
    placeholder: 'type == "order.paid" && data.amount >= 100 (empty = every event)', 'data-testid': 'filter-input',
  });
  filter.value = ep.filter || '';
  const js = h('textarea', {
    class: 'mono code-input', rows: 10, name: 'transformation', readonly: ro, spellcheck: 'false',
    placeholder: EXAMPLE, 'data-testid': 'transformation-input',
  });
  js.value = ep.transformation ? ep.transformation.code : '';
  const enabled = h('input', { type: 'checkbox', name: 'enabled', disabled: ro, 'data-testid': 'transformation-enabled' });
  enabled.checked = ep.transformation ? ep.transformation.enabled : true;

  // What the tests run on: a recent event of the app, or a typed one.
  const recent = h('select', { name: 'recent', 'data-testid': 'test-event' }, h('option', { value: '' }, 'A typed payload'));
  const type = h('input', { name: 'type', value: 'test.event', 'data-testid': 'test-type' });
  const payload = h('textarea', { class: 'mono code-input', rows: 4, name: 'payload', spellcheck: 'false', 'data-testid': 'test-payload' });
  payload.value = '{}';
  const events = new Map();
  get(path(`/v1/apps/${enc(app.id)}/events`, { limit: 10 })).then(page => {
    for (const e of page.data) {
      events.set(e.id, e);
      recent.append(h('option', { value: e.id }, `${e.type} · ${e.id}`));
    }
  }).catch(() => {});
  recent.addEventListener('change', async () => {
    if (!recent.value) return;
    const e = events.get(recent.value).payload !== undefined
      ? events.get(recent.value)
      : await get(`/v1/apps/${enc(app.id)}/events/${enc(recent.value)}`);
    type.value = e.type;
    payload.value = JSON.stringify(e.payload, null, 2);
  });

  const result = h('div', { 'data-testid': 'routing-result' });
  const sample = () => {
    let parsed;
    try { parsed = JSON.parse(payload.value || 'null'); } catch (e) { throw new Error(`The test payload is not JSON: ${e.message}`); }
    return { type: type.value.trim(), payload: parsed };
  };
  const show = (...nodes) => fill(result, ...nodes);
  const failed = e => show(h('div', { class: 'alert', role: 'alert', 'data-testid': 'routing-error' }, e.message || String(e)));

  const testFilter = h('button', { type: 'button', 'data-testid': 'test-filter', onclick: () => busy(testFilter, async () => {
    try {
      const body = { ...sample() };
      if (filter.value.trim()) body.filter = filter.value.trim();
      const r = await post(`${base}/filter/test`, body);
      show(h('div', { class: r.matches ? 'match yes' : 'match no', 'data-testid': 'filter-result' },
        r.matches ? 'Matches: this event would be delivered.' : 'No match: this event would not be delivered.'),
      r.error ? h('div', { class: 'dim small' }, r.error) : null);
    } catch (e) { failed(e); }
  }) }, 'Test filter');

  const testJs = h('button', { type: 'button', 'data-testid': 'test-transformation', onclick: () => busy(testJs, async () => {
    try {
      const body = { ...sample() };
      if (js.value.trim()) body.code = js.value;
      const r = await post(`${base}/transformation/test`, body);
      if (r.cancelled) {
        show(h('div', { class: 'match no', 'data-testid': 'transformation-result' }, 'Cancelled: no request would be sent.'));
        return;
      }
      let shownBody = r.body;
      try { shownBody = JSON.stringify(JSON.parse(r.body), null, 2); } catch { /* not JSON: as sent */ }
      show(h('div', { 'data-testid': 'transformation-result' },
        h('div', { class: 'mono' }, h('strong', {}, r.method), ' ', r.url),
        jsonBlock(r.headers, 'transformation-headers'),
        h('pre', { class: 'json', 'data-testid': 'transformation-body' }, shownBody)));
    } catch (e) { failed(e); }
  }) }, 'Test transformation');

  const error = h('div');
  const save = h('button', { type: 'button', class: 'primary', 'data-testid': 'save-routing', onclick: () => busy(save, async () => {
    error.replaceChildren();
    try {
      await patch(base, {
        filter: filter.value.trim() || null,
        transformation: js.value.trim() ? { code: js.value, enabled: enabled.checked } : null,
      });
      toast('Filter and transformation saved');
      await reload();
    } catch (e) { error.append(errorBox(e)); }
  }) }, 'Save');

  return card('Filter and transformation',
    h('div', { class: 'grid-form' },
      field('Filter (CEL)', filter, 'Variables: type, data, source, subject, metadata. Only events for which it is true are delivered.'),
      field('Transformation (JavaScript)', js, 'Defines handler(webhook) and returns it, changed; set webhook.cancel = true to send nothing.'),
      h('label', { class: 'check' }, enabled, ' Transformation on'),
      ro ? null : h('div', { class: 'actions' }, save),
      error,
      h('h3', {}, 'Try it'),
      field('Event', recent), field('Type', type), field('Payload (JSON)', payload),
      ro ? null : h('div', { class: 'actions' }, testFilter, testJs),
      result));
}
