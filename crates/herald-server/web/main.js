// Boot, sign-in state and the hash router shared by the console and the portal.

import { api, credential, setCredential, mode, onUnauthorized, enc } from './api.js';
import { h, fill, badge, toast } from './dom.js';
import { signIn, expired } from './views/signin.js';
import { appsPage } from './views/apps.js';
import { appShell } from './views/app.js';
import { endpointsPage, newEndpointPage } from './views/endpoints.js';
import { endpointPage } from './views/endpoint.js';
import { eventsPage, eventPage } from './views/events.js';
import { deliveriesPage, deliveryPage } from './views/deliveries.js';
import { eventTypesPage } from './views/event_types.js';

const view = document.getElementById('view');
const ROUTES = [
  [/^\/apps\/([^/]+)\/endpoints\/new$/, (c, [app]) => appShell(c, app, 'endpoints', newEndpointPage)],
  [/^\/apps\/([^/]+)\/endpoints\/([^/]+)$/, (c, [app, ep]) => appShell(c, app, 'endpoints', (cx, a) => endpointPage(cx, a, ep))],
  [/^\/apps\/([^/]+)\/endpoints$/, (c, [app]) => appShell(c, app, 'endpoints', endpointsPage)],
  [/^\/apps\/([^/]+)\/events\/([^/]+)$/, (c, [app, evt]) => appShell(c, app, 'events', (cx, a) => eventPage(cx, a, evt))],
  [/^\/apps\/([^/]+)\/events$/, (c, [app]) => appShell(c, app, 'events', eventsPage)],
  [/^\/apps\/([^/]+)\/deliveries\/([^/]+)$/, (c, [app, del]) => appShell(c, app, 'deliveries', (cx, a) => deliveryPage(cx, a, del))],
  [/^\/apps\/([^/]+)\/deliveries$/, (c, [app]) => appShell(c, app, 'deliveries', deliveriesPage)],
  [/^\/apps\/([^/]+)$/, (c, [app]) => go(`/apps/${enc(app)}/endpoints`, true)],
  [/^\/event-types$/, c => eventTypesPage(c)],
  [/^\/?$/, c => (c.session.app_id ? go(`/apps/${enc(c.session.app_id)}/endpoints`, true) : appsPage(c))],
];

let session = null;   // GET /v1/session of the signed-in credential
let timers = [];      // live updates of the page on screen
let expiryTimer = null;
let generation = 0;   // ignores pages that finish loading after the user moved on

/** Navigates to a hash route (`/apps/x/deliveries?status=failed`). */
export function go(route, replace = false) {
  const target = `#${route}`;
  if (replace) history.replaceState(null, '', target);
  else if (location.hash !== target) { location.hash = target; return; }
  render();
}

function currentRoute() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [p, q] = raw.split('?');
  return { path: decodeURI(p), query: new URLSearchParams(q || '') };
}

function stopTimers() {
  timers.forEach(clearInterval);
  timers = [];
}

async function render() {
  stopTimers();
  const gen = ++generation;
  if (!session) return;
  const { path, query } = currentRoute();
  const ctx = {
    session,
    mode,
    readOnly: session.read_only,
    query,
    go,
    /** Re-runs fn every ms while this page is shown and the tab is visible. */
    every(ms, fn) {
      if (gen !== generation) return;
      timers.push(setInterval(() => { if (!document.hidden && gen === generation) fn(); }, ms));
    },
    stale: () => gen !== generation,
  };
  renderNav();
  const match = ROUTES.find(([re]) => re.test(path));
  if (!match) { fill(view, h('div', { class: 'empty' }, 'There is no such page. ', h('a', { href: '#/' }, 'Go home'))); return; }
  fill(view, h('div', { class: 'loading' }, 'Loading…'));
  try {
    const node = await match[1](ctx, match[0].exec(path).slice(1).map(decodeURIComponent));
    if (node && gen === generation) { fill(view, node); view.focus({ preventScroll: true }); }
  } catch (e) {
    if (gen === generation) fill(view, h('div', { class: 'alert', role: 'alert' }, e.message || String(e)));
  }
}

function renderNav() {
  const nav = document.getElementById('nav');
  const { path } = currentRoute();
  const link = (href, label, active) => h('a', { href, class: active ? 'active' : null }, label);
  if (mode === 'console' && !session.app_id) {
    fill(nav,
      link('#/', 'Applications', path === '/' || path.startsWith('/apps')),
      link('#/event-types', 'Event types', path === '/event-types'));
  } else {
    fill(nav);
  }
  const who = document.getElementById('who');
  if (mode === 'portal') {
    fill(who, session.read_only ? badge('read-only') : null);
  } else {
    fill(who,
      h('span', { class: 'dim' }, `${session.scope} key`),
      h('button', { class: 'link', type: 'button', 'data-testid': 'sign-out', onclick: signOut }, 'Sign out'));
  }
}

function signOut() {
  setCredential(null);
  session = null;
  stopTimers();
  start();
}

/** Portal links carry the token in the fragment: keep it in the tab, drop it from the URL. */
function takeTokenFromLink() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m) return;
  setCredential(decodeURIComponent(m[1]));
  history.replaceState(null, '', `${location.pathname}${location.search}#/`);
}

/** `?accent=#rrggbb&logo=https://…` on portal links. */
function applyTheme() {
  const q = new URLSearchParams(location.search);
  const accent = q.get('accent');
  if (accent && /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(accent)) {
    document.documentElement.style.setProperty('--accent', accent);
  }
  const logo = q.get('logo');
  if (logo && /^https?:\/\//i.test(logo)) {
    const img = document.getElementById('logo');
    img.src = logo;
    img.hidden = false;
  }
  if (mode === 'portal') {
    document.getElementById('brand-name').textContent = 'Webhooks';
    document.title = 'Webhooks';
    if (window.self !== window.top) document.body.classList.add('embedded');
  }
}

function showExpired() {
  session = null;
  stopTimers();
  fill(document.getElementById('nav'));
  fill(document.getElementById('who'));
  fill(view, expired());
}

async function start() {
  if (!credential()) {
    if (mode === 'portal') { showExpired(); return; }
    fill(document.getElementById('nav'));
    fill(document.getElementById('who'));
    fill(view, signIn(async key => {
      setCredential(key);
      try {
        session = await api('GET', '/v1/session');
      } catch (e) {
        setCredential(null);
        throw e;
      }
      if (session.scope === 'portal') {
        setCredential(null);
        session = null;
        throw new Error('That is a portal link token, not an API key. Open the portal link instead.');
      }
      toast('Signed in');
      render();
    }));
    return;
  }
  try {
    session = await api('GET', '/v1/session');
  } catch (e) {
    if (e.status === 401) {
      setCredential(null);
      if (mode === 'portal') showExpired(); else start();
      return;
    }
    fill(view, h('div', { class: 'alert', role: 'alert' }, e.message));
    return;
  }
  if (session.expires_at) {
    clearTimeout(expiryTimer);
    const left = new Date(session.expires_at).getTime() - Date.now();
    expiryTimer = setTimeout(showExpired, Math.max(0, Math.min(left, 2 ** 31 - 1)));
  }
  render();
}

onUnauthorized(() => {
  if (!session) return; // signing in or starting: the caller shows the reason
  if (mode === 'portal') { showExpired(); return; }
  if (credential()) toast('Your API key is no longer accepted. Sign in again.', 'error');
  setCredential(null);
  session = null;
  start();
});

window.addEventListener('hashchange', () => {
  if (mode === 'portal' && /token=/.test(location.hash)) { takeTokenFromLink(); start(); } else render();
});
if (mode === 'portal') takeTokenFromLink();
applyTheme();
start();
