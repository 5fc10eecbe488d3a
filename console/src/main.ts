// The console's entry: a hash router (#/ models, #/models/<name> one model) over pages that refresh every few
// seconds while shown. Without a token in sessionStorage every route shows the sign-in form.
import { type Answer, errorText, session, setUnauthorizedHandler } from './api.js';
import { h, setText } from './dom.js';
import { modelPage } from './model-page.js';
import { modelsPage } from './models-page.js';
import { type Page, REFRESH_MS } from './page.js';
import { signInPage } from './signin.js';

const view = document.getElementById('view')!;
const crumbs = document.getElementById('crumbs')!;
const status = document.getElementById('status')!;
const who = document.getElementById('who')!;
const signOutButton = document.getElementById('signout') as HTMLButtonElement;

let page: Page | undefined;
let timer: number | undefined;
let generation = 0;

function stop(): void {
  generation++;
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
  page?.destroy();
  page = undefined;
}

function showSignIn(message?: string): void {
  stop();
  who.textContent = '';
  signOutButton.hidden = true;
  crumbs.replaceChildren();
  setText(status, '');
  view.replaceChildren(signInPage(message, route));
}

function signOut(message?: string): void {
  session.clear();
  showSignIn(message);
}

/** Refreshes the page now and then every REFRESH_MS (never two at once); stops when the route changes. */
async function poll(p: Page, gen: number): Promise<void> {
  try {
    await p.refresh();
    if (gen !== generation) return;
    status.classList.remove('bad');
    setText(status, `updated ${new Date().toLocaleTimeString('en-GB')}`);
  } catch (err) {
    if (gen !== generation) return;
    status.classList.add('bad');
    setText(status, `refresh failed: ${(err as Error).message}`);
  }
  if (gen === generation) timer = window.setTimeout(() => void poll(p, gen), REFRESH_MS);
}

function route(): void {
  if (!session.token()) return showSignIn();
  stop();
  const m = /^#\/models\/([^/]+)$/.exec(location.hash);
  let name: string | undefined;
  try {
    name = m ? decodeURIComponent(m[1]!) : undefined;
  } catch {
    name = undefined; // a fragment that is not valid percent-encoding: show the models page
  }
  page = name !== undefined ? modelPage(name) : modelsPage();
  crumbs.replaceChildren(h('a', { href: '#/' }, 'Models'), ...(name !== undefined ? [' / ', h('span', {}, page.title)] : []));
  setText(who, session.subject() ? `signed in as ${session.subject()}` : 'signed in');
  signOutButton.hidden = false;
  view.replaceChildren(page.el);
  void poll(page, generation);
}

setUnauthorizedHandler((a: Answer) => signOut(`Signed out: the server refused the token (${errorText(a)}). Sign in again.`));
signOutButton.addEventListener('click', () => signOut());
window.addEventListener('hashchange', route);
route();
