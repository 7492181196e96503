// One endpoint: settings, 24 h stats, its deliveries (live), and the operator's actions —
// send a test event, enable/disable, rotate or reveal the secret, recover, edit, delete.

import { get, post, patch, del, enc } from '../api.js';
import { h, fill, badge, when, code, card, facts, field, dialog, busy, toast, errorBox } from '../dom.js';
import { eventTypes, parseTypes, FORMATS, formatSelect } from './endpoints.js';
import { liveDeliveries, statusCode } from './deliveries.js';
import { copy } from './app.js';
import { routingCard } from './routing.js';

export async function endpointPage(ctx, app, id) {
  const base = `/v1/apps/${enc(app.id)}/endpoints/${enc(id)}`;
  let ep = await get(base);
  const head = h('div');
  const info = h('div');
  const stats = h('div', { 'data-testid': 'stats' });
  const deliveries = liveDeliveries(ctx, app, { endpoint_id: ep.id }, [ep]);

  const loadStats = async () => {
    const s = await get(`${base}/stats`);
    fill(stats, h('div', { class: 'stat-row' },
      stat('Succeeded', s.succeeded, 'ok'), stat('Failed', s.failed, 'bad'),
      stat('Pending', s.pending, 'warn'), stat('Cancelled', s.cancelled, 'muted')),
    facts([
      ['Last attempt', when(s.last_attempt_at)],
      ['Last outcome', s.last_outcome ? h('span', {}, s.last_outcome, ' ', statusCode(s.last_status_code)) : h('span', { class: 'dim' }, '—')],
    ]));
  };
  const reload = async () => {
    ep = await get(base);
    draw();
    await Promise.all([loadStats(), deliveries.refresh()]);
  };

  const action = (label, fn, opts = {}) => {
    const b = h('button', { type: 'button', class: opts.kind || '', 'data-testid': opts.testid, onclick: () => busy(b, fn) }, label);
    return b;
  };

  const actions = () => (ctx.readOnly ? null : h('div', { class: 'actions wrap' },
    action('Send test event', async () => {
      await post(`${base}/test`);
      toast('Test event sent');
      setTimeout(() => reload().catch(() => {}), 500);
    }, { kind: 'primary', testid: 'send-test' }),
    ep.status === 'active'
      ? action('Disable', async () => {
        if (!await confirm('Disable this endpoint?', 'Its pending deliveries are cancelled and no new events are sent until it is enabled again.', 'Disable')) return;
        await patch(base, { disabled: true });
        toast('Endpoint disabled');
        await reload();
      }, { testid: 'disable' })
      : action('Enable', async () => {
        await patch(base, { disabled: false });
        toast('Endpoint enabled');
        await reload();
      }, { testid: 'enable' }),
    action('Recover…', () => recover(base, reload), { testid: 'recover' }),
    action('Rotate secret…', () => rotate(base, ep), { testid: 'rotate' }),
    action('Edit…', () => edit(base, ep, reload), { testid: 'edit' }),
    action('Delete…', async () => {
      if (!await confirm('Delete this endpoint?', 'It stops receiving events at once and its pending deliveries are cancelled. This cannot be undone.', 'Delete')) return;
      await del(base);
      toast('Endpoint deleted');
      ctx.go(`/apps/${enc(app.id)}/endpoints`);
    }, { kind: 'danger', testid: 'delete' })));

  const draw = () => {
    fill(head, h('div', { class: 'page-head' },
      h('div', {},
        h('a', { class: 'crumb', href: `#/apps/${enc(app.id)}/endpoints` }, '← Endpoints'),
        h('h2', { class: 'url', 'data-testid': 'endpoint-url' }, ep.url, ' ', badge(ep.status)),
        ep.disabled_reason ? h('div', { class: 'alert' }, ep.disabled_reason) : null)),
    actions());
    fill(info, facts([
      ['ID', code(ep.id)],
      ['Description', ep.description || h('span', { class: 'dim' }, '—')],
      ['Event types', eventTypes(ep.event_types)],
      ['Format', h('span', { 'data-testid': 'endpoint-format' }, FORMATS[ep.format] || ep.format)],
      ['Signature', ep.signature_scheme === 'v1a' ? 'ed25519 (v1a)' : 'HMAC-SHA256 (v1)'],
      ['Rate limit', ep.rate_limit ? `${ep.rate_limit}/s` : 'unlimited'],
      ['Concurrent attempts', String(ep.max_in_flight)],
      ['Ordered', ep.ordered ? 'yes' : 'no'],
      ['Secret', ctx.readOnly ? h('span', { class: 'dim' }, 'hidden') : action('Reveal', async () => {
        const s = await get(`${base}/secret`);
        await showSecret('Signing secret', s.secret || s.public_key, 'Receivers verify signatures with it. Keep it private.');
      }, { kind: 'link', testid: 'reveal-secret' })],
      ['Updated', when(ep.updated_at)],
    ]));
  };
  draw();
  await Promise.all([loadStats(), deliveries.load()]);
  ctx.every(5000, () => loadStats().catch(() => {}));
  return h('div', {}, head,
    h('div', { class: 'two-col' }, card('Settings', info), card('Last 24 hours', stats)),
    routingCard(ctx, app, base, ep, reload),
    card('Deliveries', h('div', { class: 'toolbar' }, deliveries.live), deliveries.node));
}

function stat(label, n, kind) {
  return h('div', { class: `stat stat-${kind}` }, h('div', { class: 'stat-n', 'data-testid': `stat-${label.toLowerCase()}` }, String(n)), h('div', { class: 'dim small' }, label));
}

function confirm(title, text, label) {
  return dialog(title, h('p', {}, text), [{ label: 'Cancel', value: false }, { label, value: true, kind: 'danger' }]);
}

async function showSecret(title, secret, text) {
  const input = h('input', { readonly: true, value: secret, class: 'mono wide', 'data-testid': 'secret' });
  await dialog(title, h('div', {}, h('p', {}, text), input, h('button', { type: 'button', onclick: () => copy(secret) }, 'Copy')),
    [{ label: 'Done', value: true, kind: 'primary' }]);
}

async function rotate(base, ep) {
  const ok = await dialog('Rotate the signing secret?', h('p', {},
    'A new secret is generated. The old one keeps working for a grace period (24 h by default), so receivers have time to switch.'),
  [{ label: 'Cancel', value: false }, { label: 'Rotate', value: true, kind: 'primary' }]);
  if (!ok) return;
  const r = await post(`${base}/secret/rotate`, {});
  toast('Secret rotated');
  await showSecret('New signing secret', r.secret || r.public_key,
    ep.signature_scheme === 'v1a'
      ? 'The new public key. Receivers verify with it.'
      : 'Copy it now and give it to the receiver. You can reveal it again later from this page.');
}

async function recover(base, reload) {
  const since = h('input', { type: 'datetime-local', name: 'since', required: true, 'data-testid': 'recover-since' });
  const d = new Date(Date.now() - 24 * 3600 * 1000);
  since.value = new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const ok = await dialog('Recover failed deliveries', h('div', {},
    h('p', {}, 'Every failed or cancelled delivery of this endpoint created since this time is attempted again.'),
    field('Since (your local time)', since)),
  [{ label: 'Cancel', value: false }, { label: 'Recover', value: true, kind: 'primary' }]);
  if (!ok) return;
  const t = new Date(since.value);
  if (Number.isNaN(t.getTime())) throw new Error('Pick a date and time to recover from.');
  const r = await post(`${base}/recover`, { since: t.toISOString() });
  toast(r.requeued === 1 ? '1 delivery requeued' : `${r.requeued} deliveries requeued`);
  await reload();
}

async function edit(base, ep, reload) {
  const url = h('input', { type: 'url', value: ep.url, required: true, name: 'url' });
  const description = h('input', { value: ep.description || '', name: 'description' });
  const types = h('input', { value: (ep.event_types || []).join(', '), name: 'event_types', placeholder: 'empty = all events' });
  const rate = h('input', { type: 'number', min: 1, value: ep.rate_limit || '', name: 'rate_limit', placeholder: 'unlimited' });
  const format = formatSelect(ep.format);
  const error = h('div');
  for (;;) {
    const ok = await dialog('Edit endpoint', h('div', { class: 'grid-form' },
      field('URL', url), field('Description', description),
      field('Event types', types, 'Names or prefix wildcards, separated by commas.'),
      field('Format', format), field('Rate limit (per second)', rate), error),
    [{ label: 'Cancel', value: false }, { label: 'Save', value: true, kind: 'primary' }]);
    if (!ok) return;
    try {
      await patch(base, {
        url: url.value.trim(),
        description: description.value.trim() || null,
        event_types: parseTypes(types.value),
        rate_limit: rate.value ? Number(rate.value) : null,
        format: format.value,
      });
      toast('Endpoint saved');
      await reload();
      return;
    } catch (e) {
      fill(error, errorBox(e)); // show the form again with the reason
    }
  }
}
