// Deliveries: the live list (filterable by status and endpoint) and one delivery with every
// attempt and a retry button.

import { get, post, path, enc } from '../api.js';
import { h, fill, table, badge, when, code, card, facts, jsonBlock, busy, toast } from '../dom.js';
import { pager } from './pager.js';

const STATUSES = ['pending', 'succeeded', 'failed', 'cancelled'];

/** The deliveries table and its live refresh, for the Deliveries tab and an endpoint's page. */
export function liveDeliveries(ctx, app, filters, endpoints) {
  const urls = new Map(endpoints.map(e => [e.id, e.url]));
  const base = `/v1/apps/${enc(app.id)}`;
  const list = pager(cursor => get(path(`${base}/deliveries`, { ...filters, limit: 50, cursor })), rows => table({
    testid: 'deliveries',
    columns: [
      { label: 'Delivery', cell: d => h('a', { href: `#/apps/${enc(app.id)}/deliveries/${d.id}`, class: 'mono' }, short(d.id)) },
      { label: 'Status', cell: d => badge(d.status) },
      filters.endpoint_id ? null : { label: 'Endpoint', cell: d => h('span', { class: 'url' }, urls.get(d.endpoint_id) || d.endpoint_id), optional: true },
      { label: 'Event', cell: d => h('a', { href: `#/apps/${enc(app.id)}/events/${d.event_id}`, class: 'mono' }, short(d.event_id)), optional: true },
      { label: 'Attempts', cell: d => h('span', { class: 'num' }, String(d.attempts)) },
      { label: 'Last code', cell: d => statusCode(d.last_status_code), optional: true },
      { label: 'Created', cell: d => when(d.created_at) },
      { label: 'Next attempt', cell: d => (d.status === 'pending' ? when(d.next_attempt_at) : h('span', { class: 'dim' }, '—')), optional: true },
    ].filter(Boolean),
    rows,
    empty: Object.values(filters).some(Boolean)
      ? 'No deliveries match these filters.'
      : 'No deliveries yet. They appear here as soon as an event is sent to a subscribed endpoint.',
  }));
  const live = h('label', { class: 'check live' },
    h('input', { type: 'checkbox', checked: true, 'data-testid': 'live' }), ' Live');
  ctx.every(2000, () => { if (live.firstChild.checked) list.refresh(); });
  return { node: list.node, live, load: list.load, refresh: list.refresh };
}

export async function deliveriesPage(ctx, app) {
  const endpoints = (await get(`/v1/apps/${enc(app.id)}/endpoints?limit=250`)).data;
  const filters = { status: ctx.query.get('status') || '', endpoint_id: ctx.query.get('endpoint_id') || '' };
  const setFilter = (k, v) => {
    const q = new URLSearchParams({ ...filters, [k]: v });
    [...q.keys()].forEach(key => { if (!q.get(key)) q.delete(key); });
    const s = q.toString();
    ctx.go(`/apps/${enc(app.id)}/deliveries${s ? `?${s}` : ''}`);
  };
  const status = h('select', { name: 'status', 'data-testid': 'status-filter', onchange: e => setFilter('status', e.target.value) },
    h('option', { value: '' }, 'All statuses'),
    STATUSES.map(s => h('option', { value: s, selected: filters.status === s }, s)));
  const endpoint = h('select', { name: 'endpoint_id', 'data-testid': 'endpoint-filter', onchange: e => setFilter('endpoint_id', e.target.value) },
    h('option', { value: '' }, 'All endpoints'),
    endpoints.map(e => h('option', { value: e.id, selected: filters.endpoint_id === e.id }, e.url)));
  const list = liveDeliveries(ctx, app, filters, endpoints);
  await list.load();
  return h('div', {}, h('div', { class: 'toolbar' }, status, endpoint, list.live), list.node);
}

export async function deliveryPage(ctx, app, id) {
  const base = `/v1/apps/${enc(app.id)}/deliveries/${enc(id)}`;
  const [d, endpoint] = await get(`${base}?include_payload=true`).then(async d =>
    [d, await get(`/v1/apps/${enc(app.id)}/endpoints/${enc(d.endpoint_id)}`).catch(() => null)]);
  const summary = h('div');
  const attempts = h('div');
  let current = d;

  const drawSummary = () => fill(summary, facts([
    ['Status', badge(current.status)],
    ['Endpoint', endpoint
      ? h('a', { href: `#/apps/${enc(app.id)}/endpoints/${endpoint.id}`, class: 'url' }, endpoint.url)
      : code(current.endpoint_id)],
    ['Event', h('a', { href: `#/apps/${enc(app.id)}/events/${current.event_id}`, class: 'mono' }, current.event_id)],
    ['Attempts', String(current.attempts)],
    ['Last status code', statusCode(current.last_status_code)],
    ['Last attempt', when(current.last_attempt_at)],
    current.status === 'pending' ? ['Next attempt', when(current.next_attempt_at)] : null,
    ['Created', when(current.created_at)],
  ]));

  const loadAttempts = async () => {
    const rows = [];
    let cursor;
    do {
      const page = await get(path(`${base}/attempts`, { limit: 250, cursor }));
      rows.push(...page.data);
      cursor = page.next_cursor;
    } while (cursor);
    fill(attempts, attemptsTable(rows));
  };
  const refresh = async () => {
    current = await get(base);
    drawSummary();
    await loadAttempts();
  };

  let watchUntil = 0; // after a retry, follow the delivery for a while whatever its status
  const retry = ctx.readOnly ? null : h('button', { type: 'button', class: 'primary', 'data-testid': 'retry',
    onclick: () => busy(retry, async () => {
      await post(`${base}/retry`);
      watchUntil = Date.now() + 60_000;
      toast('Retry scheduled: one more attempt now');
      setTimeout(() => refresh().catch(() => {}), 600);
    }) }, 'Retry now');

  drawSummary();
  await loadAttempts();
  // Live while something can still change: a pending delivery, or one just retried.
  ctx.every(2000, () => {
    if (current.status === 'pending' || Date.now() < watchUntil) refresh().catch(() => {});
  });
  return h('div', {},
    h('div', { class: 'page-head' },
      h('div', {}, h('a', { class: 'crumb', href: `#/apps/${enc(app.id)}/deliveries` }, '← Deliveries'),
        h('h2', { class: 'mono' }, d.id)),
      retry),
    card('Delivery', summary),
    card('Attempts', attempts),
    d.payload !== undefined ? card('Payload', jsonBlock(d.payload, 'payload')) : null);
}

function attemptsTable(rows) {
  return table({
    testid: 'attempts',
    columns: [
      { label: '#', cell: a => String(a.number) },
      { label: 'Started', cell: a => when(a.started_at) },
      { label: 'Duration', cell: a => h('span', { class: 'num' }, `${a.duration_ms} ms`) },
      { label: 'Status code', cell: a => statusCode(a.status_code) },
      { label: 'Error', cell: a => (a.error
        ? h('span', { class: 'err' }, h('strong', {}, a.error.kind.replace('_', ' ')), ': ', a.error.message)
        : h('span', { class: 'dim' }, '—')) },
      { label: 'Response body', cell: a => (a.response_body
        ? h('details', {}, h('summary', {}, `${a.response_body.length} characters`), h('pre', { class: 'body' }, a.response_body))
        : h('span', { class: 'dim' }, a.status_code === null ? 'no response' : 'empty')) },
    ],
    rows,
    empty: 'No attempt yet. The first one starts in a moment.',
  });
}

export function statusCode(c) {
  if (c === null || c === undefined) return h('span', { class: 'dim' }, '—');
  const kind = c >= 200 && c < 300 ? 'ok' : c >= 500 ? 'bad' : 'warn';
  return h('span', { class: `code code-${kind}` }, String(c));
}

/** Ids are long; the tail is what tells them apart. */
export function short(id) {
  const [prefix, rest] = id.split('_');
  return rest && rest.length > 10 ? `${prefix}_…${rest.slice(-8)}` : id;
}
