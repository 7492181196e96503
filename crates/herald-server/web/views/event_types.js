// Event types with their descriptions and JSON Schemas (console only).

import { get, path } from '../api.js';
import { h, table, when, jsonBlock } from '../dom.js';
import { pager } from './pager.js';

export async function eventTypesPage() {
  const list = pager(cursor => get(path('/v1/event-types', { limit: 100, cursor })), rows => table({
    testid: 'event-types',
    columns: [
      { label: 'Name', cell: t => h('span', { class: 'chip' }, t.name) },
      { label: 'Description', cell: t => t.description || h('span', { class: 'dim' }, '—') },
      { label: 'Schema', cell: t => (t.schema
        ? h('details', {}, h('summary', {}, 'JSON Schema'), jsonBlock(t.schema))
        : h('span', { class: 'dim' }, 'any payload')) },
      { label: 'State', cell: t => (t.archived ? h('span', { class: 'badge badge-muted' }, 'archived') : h('span', { class: 'badge badge-ok' }, 'active')), optional: true },
      { label: 'Updated', cell: t => when(t.updated_at), optional: true },
    ],
    rows,
    empty: 'No event types registered. Events of any type are accepted unless the server runs with strict_event_types.',
  }));
  await list.load();
  return h('div', {}, h('div', { class: 'page-head' }, h('h1', {}, 'Event types')), list.node);
}
