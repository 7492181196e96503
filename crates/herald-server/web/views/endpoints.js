// An application's endpoints: the list with status, subscription filters and 24 h counts, and
// the form that adds one.

import { get, post, path, enc } from '../api.js';
import { h, fill, table, badge, card, field, busy, toast, errorBox } from '../dom.js';

export async function endpointsPage(ctx, app) {
  const base = `/v1/apps/${enc(app.id)}/endpoints`;
  const all = [];
  let cursor;
  do { // endpoints per application are few; show them all so the filters see every one
    const page = await get(path(base, { limit: 250, cursor }));
    all.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor && all.length < 1000);

  const status = h('select', { name: 'status', 'data-testid': 'endpoint-status-filter' },
    h('option', { value: '' }, 'All statuses'),
    ['active', 'disabled', 'auto_disabled'].map(s => h('option', { value: s }, s.replace('_', ' '))));
  const search = h('input', { type: 'search', name: 'q', placeholder: 'Filter by URL or description' });
  const list = h('div');
  const stats = new Map();

  const statCell = (ep, key) => {
    return h('span', { class: `num stat-${key}`, 'data-endpoint': ep.id, 'data-stat': key },
      stats.has(ep.id) ? String(stats.get(ep.id)[key]) : '…');
  };
  const draw = () => {
    const q = search.value.trim().toLowerCase();
    const rows = all.filter(ep => (!status.value || ep.status === status.value)
      && (!q || ep.url.toLowerCase().includes(q) || (ep.description || '').toLowerCase().includes(q)));
    fill(list, table({
      testid: 'endpoints',
      columns: [
        { label: 'URL', cell: ep => h('div', {}, h('a', { href: `#/apps/${enc(app.id)}/endpoints/${ep.id}`, class: 'url' }, ep.url),
          ep.description ? h('div', { class: 'dim small' }, ep.description) : null) },
        { label: 'Status', cell: ep => badge(ep.status) },
        { label: 'Event types', cell: ep => eventTypes(ep.event_types), optional: true },
        { label: 'OK 24 h', cell: ep => statCell(ep, 'succeeded'), optional: true },
        { label: 'Failed 24 h', cell: ep => statCell(ep, 'failed'), optional: true },
        { label: 'Pending', cell: ep => statCell(ep, 'pending'), optional: true },
      ],
      rows,
      empty: all.length
        ? 'No endpoint matches these filters.'
        : 'No endpoints yet. Add the URL that should receive this application’s webhooks.',
    }));
  };
  status.addEventListener('change', draw);
  search.addEventListener('input', draw);
  draw();
  // 24 h counts arrive after the list is on screen, and keep up while it is.
  const loadStats = () => Promise.all(all.slice(0, 100).map(ep => get(`${base}/${ep.id}/stats`)
    .then(s => stats.set(ep.id, s)).catch(() => {}))).then(() => {
    // In place: the rows stay put under the pointer.
    for (const cell of list.querySelectorAll('[data-endpoint]')) {
      const s = stats.get(cell.dataset.endpoint);
      if (s) cell.textContent = String(s[cell.dataset.stat]);
    }
  });
  loadStats();
  ctx.every(5000, loadStats);

  return h('div', {},
    h('div', { class: 'toolbar' }, status, search,
      ctx.readOnly ? null : h('a', { class: 'button primary', href: `#/apps/${enc(app.id)}/endpoints/new`, 'data-testid': 'new-endpoint' }, 'Add endpoint')),
    list);
}

/** The formats an endpoint can take, as people call them. */
export const FORMATS = {
  standard_webhooks: 'Standard Webhooks',
  cloudevents: 'CloudEvents (structured)',
  cloudevents_binary: 'CloudEvents (binary)',
  slack: 'Slack incoming webhook',
  discord: 'Discord webhook',
};

export function formatSelect(current) {
  const select = h('select', { name: 'format', 'data-testid': 'format-select' },
    Object.entries(FORMATS).map(([value, label]) => h('option', { value }, label)));
  select.value = current || 'standard_webhooks';
  return select;
}

export function eventTypes(types) {
  if (!types) return h('span', { class: 'dim' }, 'all events');
  return h('span', { class: 'chips' }, types.map(t => h('span', { class: 'chip' }, t)));
}

/** "a, b c" → ["a", "b", "c"]; empty → null (every type). */
export function parseTypes(text) {
  const list = text.split(/[\s,]+/).map(s => s.trim()).filter(Boolean);
  return list.length ? list : null;
}

export async function newEndpointPage(ctx, app) {
  if (ctx.readOnly) return h('div', { class: 'alert' }, 'This session is read-only.');
  const known = await get('/v1/event-types?limit=250').catch(() => ({ data: [] }));
  const url = h('input', { type: 'url', name: 'url', required: true, placeholder: 'https://example.com/webhooks', 'data-testid': 'endpoint-url' });
  const description = h('input', { name: 'description', placeholder: 'Optional' });
  const types = h('input', { name: 'event_types', placeholder: 'order.paid, invoice.* (empty = all events)', list: 'known-types' });
  const format = formatSelect('standard_webhooks');
  const rate = h('input', { type: 'number', name: 'rate_limit', min: 1, placeholder: 'unlimited' });
  const error = h('div');
  const button = h('button', { type: 'submit', class: 'primary', 'data-testid': 'create-endpoint' }, 'Add endpoint');
  const form = h('form', { class: 'grid-form', onsubmit: ev => {
    ev.preventDefault();
    error.replaceChildren();
    busy(button, async () => {
      const body = { url: url.value.trim(), format: format.value };
      if (description.value.trim()) body.description = description.value.trim();
      const t = parseTypes(types.value);
      if (t) body.event_types = t;
      if (rate.value) body.rate_limit = Number(rate.value);
      try {
        const ep = await post(`/v1/apps/${enc(app.id)}/endpoints`, body);
        toast('Endpoint added');
        ctx.go(`/apps/${enc(app.id)}/endpoints/${ep.id}`);
      } catch (e) { error.append(errorBox(e)); }
    });
  } },
  field('URL', url), field('Description', description),
  field('Event types', types, 'Names or prefix wildcards, separated by commas.'),
  h('datalist', { id: 'known-types' }, known.data.map(t => h('option', { value: t.name }))),
  field('Format', format), field('Rate limit (per second)', rate),
  error,
  h('div', { class: 'actions' },
    h('a', { class: 'button', href: `#/apps/${enc(app.id)}/endpoints` }, 'Cancel'), button));
  return card('Add endpoint', form);
}

