// Sign-in: the operator pastes a token with scope `admin`. It is checked against the server (GET /admin/models)
// before it is kept, in sessionStorage only; the form never puts it in the URL (POST-less, no action).
import { call, errorText, session } from './api.js';
import { h, setText } from './dom.js';

export function signInPage(message: string | undefined, onSignedIn: () => void): HTMLElement {
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', spellcheck: 'false', required: true, placeholder: 'eyJhbGciOi…', 'aria-label': 'admin token' });
  const error = h('p', { class: 'error', role: 'alert', 'data-testid': 'signin-error' }, message ?? '');
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h(
    'form',
    { class: 'signin', 'data-testid': 'signin', autocomplete: 'off' },
    h('h1', {}, 'Sign in'),
    h('p', {}, 'Paste a token with scope ', h('code', {}, 'admin'), ' (for example ', h('code', {}, 'npm run -s token -- --sub alice --scope admin'), '). It is kept in this tab only (sessionStorage) and sent in the Authorization header of every call.'),
    h('label', { for: 'token' }, 'Admin token'),
    input,
    button,
    error,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    button.disabled = true;
    setText(error, '');
    call('GET', '/admin/models', undefined, { token })
      .then((a) => {
        if (a.ok) {
          session.set(token);
          input.value = '';
          onSignedIn();
          return;
        }
        const hint = a.status === 403 ? ' (the token is valid but has no admin scope)' : a.status === 401 ? ' (the server did not accept the token)' : '';
        setText(error, `Refused: ${errorText(a)}${hint}`);
      })
      .catch((err: unknown) => setText(error, `Cannot reach the server: ${String(err)}`))
      .finally(() => (button.disabled = false));
  });
  queueMicrotask(() => input.focus());
  return form;
}
