// The only way the pages talk to Herald: the public HTTP API with the signed-in key or the
// portal token, failures turned into sentences a person can act on.

/** `console` for operators, `portal` for an operator's customer (one application). */
export const mode = location.pathname.startsWith('/portal') ? 'portal' : 'console';

const STORAGE_KEY = `herald.${mode}.credential`;
let memory = null; // when storage is blocked (some embedded iframes), keep it in the page

export function credential() {
  try { return sessionStorage.getItem(STORAGE_KEY) || memory; } catch { return memory; }
}

export function setCredential(value) {
  memory = value;
  try {
    if (value) sessionStorage.setItem(STORAGE_KEY, value); else sessionStorage.removeItem(STORAGE_KEY);
  } catch { /* memory only */ }
}

/** A failed request, with the contract's error fields and a plain-words message. */
export class ApiError extends Error {
  constructor(status, body, message) {
    const e = body && body.error ? body.error : {};
    super(message || explain(status, e));
    this.status = status;
    this.type = e.type;
    this.code = e.code;
    this.param = e.param;
  }
}

function explain(status, e) {
  const detail = e.message ? e.message.replace(/\.$/, '') : '';
  switch (status) {
    case 400: return detail ? `Please check ${e.param ? `“${e.param}”` : 'the form'}: ${detail}.` : 'The request was not valid.';
    case 401: return mode === 'portal'
      ? 'This link has expired or is no longer valid. Ask for a new link.'
      : `Your API key was not accepted${detail ? ` (${detail})` : ''}. Sign in again.`;
    case 403: return `You are not allowed to do this${detail ? `: ${detail}` : ''}.`;
    case 404: return `Not found${detail ? `: ${detail}` : ''}. It may have been deleted.`;
    case 409: return detail ? `${detail}.` : 'That conflicts with something that already exists.';
    case 413: return 'That is too large for Herald to accept.';
    case 429: return 'Too many requests right now. Wait a moment and try again.';
    default:
      if (status >= 500) return 'Herald had a problem handling this. Try again in a moment.';
      return detail || `Request failed (${status}).`;
  }
}

const listeners = [];
/** Called with every 401, so the page can sign out or show that the link expired. */
export function onUnauthorized(fn) { listeners.push(fn); }

/** One API call; resolves with the decoded JSON body (null for empty bodies). */
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  const cred = credential();
  if (cred) headers.Authorization = `Bearer ${cred}`;
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch {
    throw new ApiError(0, null, 'Herald could not be reached. Check your connection and that the server is running.');
  }
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!resp.ok) {
    const err = new ApiError(resp.status, data);
    if (resp.status === 401) listeners.forEach(fn => fn(err));
    throw err;
  }
  return data;
}

export const get = path => api('GET', path);
export const post = (path, body) => api('POST', path, body === undefined ? {} : body);
export const patch = (path, body) => api('PATCH', path, body);
export const del = path => api('DELETE', path);

/** Builds `/v1/...?a=b` leaving out empty parameters. */
export function path(base, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `${base}?${s}` : base;
}

export const enc = encodeURIComponent;
