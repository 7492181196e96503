// Small DOM helpers. Every piece of data reaches the page as text nodes or attributes,
// never as HTML, so nothing a producer or receiver sends can run in the console.

/** h('a', {href, class, onclick}, child, ...) → element. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const BADGE = {
  succeeded: 'ok', active: 'ok',
  pending: 'warn',
  failed: 'bad', auto_disabled: 'bad',
  cancelled: 'muted', disabled: 'muted',
};

/** A coloured status pill. */
export function badge(status) {
  return h('span', { class: `badge badge-${BADGE[status] || 'muted'}`, 'data-status': status },
    status.replace('_', ' '));
}

/** "3 min ago", with the exact time on hover. */
export function when(ts) {
  if (!ts) return h('span', { class: 'dim' }, '—');
  const t = new Date(ts);
  return h('time', { datetime: ts, title: t.toLocaleString() }, relative(t));
}

function relative(t) {
  const s = Math.round((Date.now() - t.getTime()) / 1000);
  const future = s < 0;
  const a = Math.abs(s);
  const text = a < 5 ? 'just now'
    : a < 60 ? `${a} s`
      : a < 3600 ? `${Math.round(a / 60)} min`
        : a < 86400 ? `${Math.round(a / 3600)} h`
          : t.toLocaleDateString();
  if (text === 'just now' || a >= 86400) return text;
  return future ? `in ${text}` : `${text} ago`;
}

/**
 * A table. columns: [{label, cell: row => node|string, optional: bool}]. Optional columns
 * are hidden on narrow screens.
 */
export function table({ columns, rows, empty, testid }) {
  if (!rows.length) return h('div', { class: 'empty', 'data-testid': testid && `${testid}-empty` }, empty);
  return h('div', { class: 'table-wrap' },
    h('table', { 'data-testid': testid },
      h('thead', {}, h('tr', {}, columns.map(c => h('th', { class: c.optional ? 'opt' : null }, c.label)))),
      h('tbody', {}, rows.map(r => h('tr', {},
        columns.map(c => h('td', { class: c.optional ? 'opt' : null }, c.cell(r))))))));
}

/** A label/value list. */
export function facts(pairs) {
  return h('dl', { class: 'facts' },
    pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

export function code(text) {
  return h('code', { class: 'mono' }, text);
}

/** Pretty JSON in a scrollable block. */
export function jsonBlock(value, testid) {
  return h('pre', { class: 'json', 'data-testid': testid }, JSON.stringify(value, null, 2));
}

export function card(title, ...body) {
  return h('section', { class: 'card' }, title ? h('h2', {}, title) : null, ...body);
}

/** A short message at the corner of the screen. */
export function toast(message, kind = 'ok') {
  const box = document.getElementById('toasts');
  const el = h('div', { class: `toast toast-${kind}` }, message);
  box.append(el);
  while (box.children.length > 3) box.firstChild.remove(); // the latest news only
  setTimeout(() => el.remove(), kind === 'error' ? 8000 : 3500);
}

/** An inline error box in plain words. */
export function errorBox(err) {
  return h('div', { class: 'alert', role: 'alert' }, err.message || String(err));
}

/**
 * A modal dialog; resolves with the clicked button's value (or null when dismissed).
 * buttons: [{label, value, kind}].
 */
export function dialog(title, body, buttons) {
  return new Promise(resolve => {
    const dlg = h('dialog', { class: 'modal' },
      h('h2', {}, title),
      h('div', { class: 'modal-body' }, body),
      h('div', { class: 'actions' }, buttons.map(b =>
        h('button', { class: b.kind || '', type: 'button', onclick: () => { dlg.close(); resolve(b.value); } }, b.label))));
    dlg.addEventListener('cancel', () => resolve(null));
    dlg.addEventListener('close', () => dlg.remove());
    document.body.append(dlg);
    dlg.showModal();
  });
}

/** Runs an action from a button: disables it meanwhile, reports failure in a toast. */
export async function busy(button, fn) {
  button.disabled = true;
  try {
    return await fn();
  } catch (e) {
    toast(e.message || String(e), 'error');
    return undefined;
  } finally {
    button.disabled = false;
  }
}

/** A text field with its label. */
export function field(label, input, hint) {
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), input,
    hint ? h('span', { class: 'hint' }, hint) : null);
}
