// The console's sign-in form and the portal's "link expired" page.

import { h, errorBox, field } from '../dom.js';

export function signIn(submit) {
  const input = h('input', { type: 'password', name: 'api_key', autocomplete: 'off', required: true,
    placeholder: 'hrd_…', 'data-testid': 'api-key' });
  const error = h('div');
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'card signin', 'data-testid': 'sign-in',
    onsubmit: async ev => {
      ev.preventDefault();
      error.replaceChildren();
      const key = input.value.trim();
      if (!key.startsWith('hrd_')) {
        error.append(errorBox(new Error('An API key starts with “hrd_”. Paste the whole key.')));
        return;
      }
      button.disabled = true;
      try { await submit(key); } catch (e) { error.append(errorBox(e)); } finally { button.disabled = false; }
    } },
  h('h1', {}, 'Sign in to Herald'),
  h('p', { class: 'dim' }, 'Use an API key. It is kept in this browser tab only and forgotten when you close it.'),
  field('API key', input),
  error,
  h('div', { class: 'actions' }, button));
  return h('div', { class: 'center' }, form);
}

export function expired() {
  return h('div', { class: 'center' },
    h('section', { class: 'card signin', 'data-testid': 'expired' },
      h('h1', {}, 'This link has expired'),
      h('p', {}, 'Portal links are valid for a limited time. Ask for a new link to keep managing your webhooks.')));
}
