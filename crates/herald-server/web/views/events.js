// An application's events (filterable by type) and one event with its payload and deliveries.

import { get, path, enc } from '../api.js';
import { h, table, badge, when, card, facts, jsonBlock } from '../dom.js';
import { pager } from './pager.js';
import { short } from './deliveries.js';

export async function eventsPage(ctx, app) {
  const type = ctx.query.get('type') || '';
  const list = pager(cursor => get(path(`/v1/apps/${enc(app.id)}/events`, { type, limit: 50, cursor })), rows => table({
    testid: 'events',
    columns: [
      { label: 'Event', cell: e => h('a', { href: `#/apps/${enc(app.id)}/events/${e.id}`, class: 'mono' }, short(e.id)) },
      { label: 'Type', cell: e => h('span', { class: 'chip' }, e.type) },
      { label: 'Subject', cell: e => e.subject || h('span', { class: 'dim' }, '—'), optional: true },
      { label: 'Created', cell: e => when(e.created_at) },
    ],
    rows,
    empty: type ? `No “${type}” events yet.` : 'No events yet. Events sent to this application appear here.',
  }));
  await list.load();
  const filter = h('input', { type: 'search', name: 'type', value: type, placeholder: 'Filter by event type, e.g. order.paid',
    onchange: e => ctx.go(`/apps/${enc(app.id)}/events${e.target.value.trim() ? `?type=${enc(e.target.value.trim())}` : ''}`) });
  ctx.every(3000, () => list.refresh());
  return h('div', {}, h('div', { class: 'toolbar' }, filter), list.node);
}

export async function eventPage(ctx, app, id) {
  const e = await get(`/v1/apps/${enc(app.id)}/events/${enc(id)}`);
  const endpoints = new Map((await get(`/v1/apps/${enc(app.id)}/endpoints?limit=250`)).data.map(x => [x.id, x.url]));
  return h('div', {},
    h('div', { class: 'page-head' }, h('div', {},
      h('a', { class: 'crumb', href: `#/apps/${enc(app.id)}/events` }, '← Events'),
      h('h2', { class: 'mono' }, e.id))),
    card('Event', facts([
      ['Type', h('span', { class: 'chip' }, e.type)],
      ['Created', when(e.created_at)],
      e.source ? ['Source', e.source] : null,
      e.subject ? ['Subject', e.subject] : null,
    ])),
    card('Payload', jsonBlock(e.payload, 'payload')),
    card('Deliveries', table({
      testid: 'event-deliveries',
      columns: [
        { label: 'Delivery', cell: d => h('a', { href: `#/apps/${enc(app.id)}/deliveries/${d.id}`, class: 'mono' }, short(d.id)) },
        { label: 'Endpoint', cell: d => h('span', { class: 'url' }, endpoints.get(d.endpoint_id) || d.endpoint_id) },
        { label: 'Status', cell: d => badge(d.status) },
        { label: 'Attempts', cell: d => String(d.attempts) },
        { label: 'Next attempt', cell: d => (d.status === 'pending' ? when(d.next_attempt_at) : h('span', { class: 'dim' }, '—')), optional: true },
      ],
      rows: e.deliveries || [],
      empty: 'No endpoint was subscribed to this event when it arrived.',
    })));
}

