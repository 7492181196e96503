// One application: its name, the Endpoints / Events / Deliveries tabs, and (console) a
// button that makes a portal link for the application's owner.

import { get, post, enc } from '../api.js';
import { h, code, dialog, field, busy, toast } from '../dom.js';

export async function appShell(ctx, appId, tab, inner) {
  const app = await get(`/v1/apps/${enc(appId)}`);
  const body = await inner(ctx, app);
  if (ctx.stale()) return null;
  const base = `#/apps/${enc(app.id)}`;
  const tabLink = (name, label) => h('a', { href: `${base}/${name}`, class: tab === name ? 'active' : null,
    'aria-current': tab === name ? 'page' : null }, label);
  return h('div', {},
    h('div', { class: 'page-head' },
      h('div', {},
        ctx.mode === 'console' && !ctx.session.app_id ? h('a', { href: '#/', class: 'crumb' }, '← Applications') : null,
        h('h1', { 'data-testid': 'app-title' }, app.name),
        h('div', { class: 'dim' }, code(app.id), app.uid ? [' · ', code(app.uid)] : null)),
      ctx.mode === 'console' && ctx.session.scope === 'admin' ? portalButton(app) : null),
    h('nav', { class: 'tabs', 'aria-label': 'Application' },
      tabLink('endpoints', 'Endpoints'), tabLink('events', 'Events'), tabLink('deliveries', 'Deliveries')),
    body);
}

function portalButton(app) {
  const button = h('button', { type: 'button', 'data-testid': 'portal-link', onclick: async () => {
    const hours = h('input', { type: 'number', min: 1, max: 168, value: 1, name: 'hours' });
    const readOnly = h('input', { type: 'checkbox', name: 'read_only' });
    const ok = await dialog('Portal link', h('div', {},
      h('p', {}, 'A link your customer can open (or you can embed in an iframe) to manage this application’s endpoints and see its deliveries.'),
      field('Valid for (hours)', hours),
      h('label', { class: 'check' }, readOnly, ' Read-only')),
    [{ label: 'Cancel', value: false }, { label: 'Create link', value: true, kind: 'primary' }]);
    if (!ok) return;
    await busy(button, async () => {
      const s = await post(`/v1/apps/${enc(app.id)}/portal-sessions`,
        { expires_in: Math.round(Number(hours.value) * 3600), read_only: readOnly.checked });
      const link = h('input', { readonly: true, value: s.url, class: 'mono wide', 'data-testid': 'portal-url' });
      await dialog('Portal link created', h('div', {},
        h('p', {}, 'Copy it now: it is shown only once. It works until ', new Date(s.expires_at).toLocaleString(), '.'),
        link,
        h('button', { type: 'button', onclick: () => copy(s.url) }, 'Copy')),
      [{ label: 'Done', value: true, kind: 'primary' }]);
    });
  } }, 'Portal link');
  return button;
}

export async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    toast('Copied');
  } catch {
    toast('Select the text and copy it with your keyboard.', 'error');
  }
}
