// Console home: every application, and a form to add one.

import { get, post, path } from '../api.js';
import { h, table, when, code, card, field, toast, busy, errorBox } from '../dom.js';
import { pager } from './pager.js';

export async function appsPage(ctx) {
  const list = pager(cursor => get(path('/v1/apps', { limit: 50, cursor })), rows => table({
    testid: 'apps',
    columns: [
      { label: 'Name', cell: a => h('a', { href: `#/apps/${a.id}` }, a.name) },
      { label: 'UID', cell: a => (a.uid ? code(a.uid) : h('span', { class: 'dim' }, '—')), optional: true },
      { label: 'ID', cell: a => code(a.id), optional: true },
      { label: 'Created', cell: a => when(a.created_at) },
    ],
    rows,
    empty: 'No applications yet. Create one for each of your customers (tenants) below.',
  }));
  await list.load();
  return h('div', {},
    h('div', { class: 'page-head' }, h('h1', {}, 'Applications')),
    list.node,
    ctx.session.scope === 'admin' && !ctx.session.app_id && !ctx.readOnly ? newApp(ctx) : null);
}

function newApp(ctx) {
  const name = h('input', { name: 'name', required: true, placeholder: 'Acme Inc.', 'data-testid': 'app-name' });
  const uid = h('input', { name: 'uid', placeholder: 'acme (optional)', pattern: '[a-zA-Z0-9_.\\-]{1,64}' });
  const error = h('div');
  const button = h('button', { type: 'submit', class: 'primary' }, 'Create application');
  return card('New application', h('form', { class: 'grid-form', onsubmit: ev => {
    ev.preventDefault();
    error.replaceChildren();
    busy(button, async () => {
      try {
        const app = await post('/v1/apps', { name: name.value.trim(), ...(uid.value.trim() ? { uid: uid.value.trim() } : {}) });
        toast(`Application “${app.name}” created`);
        ctx.go(`/apps/${app.id}/endpoints`);
      } catch (e) { error.append(errorBox(e)); }
    });
  } }, field('Name', name), field('UID', uid, 'Your own id for it; usable in API paths.'), error,
  h('div', { class: 'actions' }, button)));
}
