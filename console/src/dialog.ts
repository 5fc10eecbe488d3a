// Confirmation for destructive actions (a modal <dialog>, not window.confirm, so it can show what changes) and
// the answer panel that shows what the server said to the last action.
import { type Answer, errorText } from './api.js';
import { h, setText } from './dom.js';

/** Resolves true when the operator confirms. `lines` say what will change. */
export function confirmAction(title: string, lines: string[], confirmLabel = 'Confirm'): Promise<boolean> {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'button', class: 'danger', 'data-testid': 'confirm-ok' }, confirmLabel);
    const cancel = h('button', { type: 'button', 'data-testid': 'confirm-cancel' }, 'Cancel');
    const dialog = h('dialog', { class: 'confirm', 'data-testid': 'confirm' }, h('h3', {}, title), h('ul', {}, ...lines.map((l) => h('li', {}, l))), h('div', { class: 'buttons' }, cancel, ok));
    const done = (answer: boolean) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    ok.addEventListener('click', () => done(true));
    cancel.addEventListener('click', () => done(false));
    dialog.addEventListener('cancel', (ev) => {
      ev.preventDefault();
      done(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}

/** Shows one answer: the call, its status, and the body as the server sent it. */
export class AnswerPanel {
  readonly el: HTMLElement;
  private readonly title: HTMLElement;
  private readonly status: HTMLElement;
  private readonly body: HTMLElement;
  /** Answers shown so far (data-seq), so a reader can tell a new answer from the previous one. */
  private seq = 0;

  constructor() {
    this.title = h('code', {});
    this.status = h('span', { class: 'answer-status', 'data-testid': 'answer-status' });
    this.body = h('pre', { 'data-testid': 'answer-body' });
    this.el = h('section', { class: 'answer', 'data-testid': 'answer', hidden: true }, h('div', { class: 'answer-head' }, h('span', {}, 'Server answer'), this.title, this.status), this.body);
  }

  show(what: string, a: Answer): void {
    this.el.hidden = false;
    this.el.dataset.seq = String(++this.seq);
    this.el.classList.toggle('failed', !a.ok);
    setText(this.title, `${a.method} ${decodeURI(a.url)}`);
    setText(this.status, a.ok ? String(a.status) : errorText(a));
    this.el.dataset.status = String(a.status);
    this.el.dataset.action = what;
    this.body.textContent = a.body === null || a.body === '' ? '(empty body)' : JSON.stringify(a.body, null, 2);
  }

  showError(what: string, err: unknown): void {
    this.el.hidden = false;
    this.el.dataset.seq = String(++this.seq);
    this.el.classList.add('failed');
    this.el.dataset.action = what;
    this.el.dataset.status = 'error';
    setText(this.title, what);
    setText(this.status, 'request failed');
    this.body.textContent = String(err);
  }
}
