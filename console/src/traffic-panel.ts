// Traffic of one model: a slider per version (two versions are linked, so moving one moves the other: a
// canary), save, roll back, and shadow start/stop. Every change names the revision it replaces (409 when stale).
import { type Answer, call, enc } from './api.js';
import { confirmAction } from './dialog.js';
import { h, setText } from './dom.js';
import { describeTraffic } from './models-page.js';
import { type AdminModel, type Shadow, type TrafficView, weightOf } from './types.js';

export type Act = (what: string, run: () => Promise<Answer | undefined>) => Promise<void>;

/** The weights in force, as a table (the default policy is its default version at 100). */
export function effectiveWeights(t: TrafficView): Record<string, number> | null {
  if (t.weights) return { ...t.weights };
  return t.default_version ? { [t.default_version]: 100 } : null;
}

export function putTraffic(model: string, weights: Record<string, number>, shadow: Shadow | null, revision: number): Promise<Answer> {
  return call('PUT', `/admin/models/${enc(model)}/traffic`, { weights, shadow, revision });
}

interface Slider {
  row: HTMLElement;
  input: HTMLInputElement;
  out: HTMLElement;
}

export class TrafficPanel {
  readonly el: HTMLElement;
  private readonly summary = h('p', { class: 'traffic', 'data-field': 'traffic' });
  private readonly sliders = h('div', { class: 'sliders' });
  private readonly total = h('span', { class: 'total' });
  private readonly note = h('span', { class: 'muted' });
  private readonly save: HTMLButtonElement;
  private readonly reset: HTMLButtonElement;
  private readonly rollback: HTMLButtonElement;
  private readonly shadowVersion = h('select', { 'aria-label': 'shadow version', 'data-testid': 'shadow-version' });
  private readonly shadowFraction = h('input', { type: 'number', min: '0.01', max: '1', step: '0.01', value: '0.1', 'aria-label': 'shadow fraction', 'data-testid': 'shadow-fraction' });
  private readonly shadowStart: HTMLButtonElement;
  private readonly shadowStop: HTMLButtonElement;
  private readonly bySlider = new Map<string, Slider>();
  private versionsKey = '';
  private server: AdminModel | undefined;
  /** The operator's unsaved weights, and the revision they were made against. */
  private draft: { revision: number; weights: Record<string, number> } | null = null;

  constructor(
    private readonly model: string,
    private readonly act: Act,
  ) {
    this.save = h('button', { type: 'button', class: 'primary', 'data-testid': 'save-weights', onclick: () => void this.saveWeights() }, 'Save weights');
    this.reset = h('button', { type: 'button', onclick: () => this.discard() }, 'Reset');
    this.rollback = h('button', { type: 'button', class: 'danger', 'data-testid': 'rollback', onclick: () => void this.rollBack() }, 'Roll back');
    this.shadowStart = h('button', { type: 'button', 'data-testid': 'shadow-start', onclick: () => void this.startShadow() }, 'Start shadow');
    this.shadowStop = h('button', { type: 'button', 'data-testid': 'shadow-stop', onclick: () => void this.stopShadow() }, 'Stop shadow');
    this.el = h(
      'section',
      { class: 'panel traffic-panel', 'data-testid': 'traffic-panel' },
      h('h2', {}, 'Traffic'),
      this.summary,
      this.sliders,
      h('div', { class: 'buttons' }, this.total, this.save, this.reset, h('span', { class: 'spacer' }), this.rollback),
      this.note,
      h('h3', {}, 'Shadow'),
      h('p', { class: 'muted' }, 'A shadow gets a copy of a fraction of the requests after the primary answered; its answers are compared, never returned.'),
      h('div', { class: 'buttons' }, h('label', {}, 'Version ', this.shadowVersion), h('label', {}, 'Fraction ', this.shadowFraction), this.shadowStart, this.shadowStop),
    );
  }

  update(m: AdminModel): void {
    this.server = m;
    const t = m.traffic;
    if (this.draft && this.draft.revision !== t.revision) {
      this.draft = null;
      setText(this.note, 'The table changed on the server; your unsaved weights were discarded.');
    }
    setText(this.summary, describeTraffic(t));
    const ready = m.versions.filter((v) => v.state === 'ready').map((v) => v.version);
    const shown = [...new Set([...ready, ...Object.entries(t.weights ?? {}).filter(([, w]) => w > 0).map(([v]) => v)])].sort((a, b) => Number(a) - Number(b));
    const key = shown.join(',');
    if (key !== this.versionsKey) {
      this.versionsKey = key;
      this.bySlider.clear();
      this.sliders.replaceChildren(...shown.map((v) => this.createSlider(v)));
      if (shown.length === 0) this.sliders.append(h('p', { class: 'muted' }, 'No ready version.'));
    }
    const weights = this.draft?.weights ?? effectiveWeights(t) ?? {};
    for (const [v, s] of this.bySlider) {
      const w = weights[v] ?? 0;
      if (s.input.value !== String(w)) s.input.value = String(w);
      setText(s.out, `${w}%`);
      s.row.classList.toggle('changed', w !== weightOf(t, v));
      s.row.classList.toggle('not-ready', !ready.includes(v));
    }
    const sum = Object.values(weights).reduce((a, b) => a + b, 0);
    setText(this.total, `Total ${sum}%`);
    this.total.classList.toggle('bad', sum !== 100);
    this.save.disabled = !this.draft || sum !== 100;
    this.reset.disabled = !this.draft;
    this.rollback.disabled = false;
    const options = ready.map((v) => `v${v}`).join(',');
    if (this.shadowVersion.dataset.options !== options) {
      const keep = this.shadowVersion.value;
      this.shadowVersion.replaceChildren(...ready.map((v) => h('option', { value: v }, `v${v}`)));
      this.shadowVersion.dataset.options = options;
      if (ready.includes(keep)) this.shadowVersion.value = keep;
    }
    this.shadowStart.disabled = ready.length === 0;
    this.shadowStop.disabled = !t.shadow;
  }

  private createSlider(version: string): HTMLElement {
    const input = h('input', { type: 'range', min: '0', max: '100', step: '1', value: '0', 'data-version': version, 'aria-label': `weight of v${version}` });
    const out = h('output', { 'data-version': version }, '0%');
    const row = h('div', { class: 'slider', 'data-version': version }, h('span', { class: 'slider-label' }, `v${version}`), input, out);
    input.addEventListener('input', () => this.moved(version, Number(input.value)));
    this.bySlider.set(version, { row, input, out });
    return row;
  }

  /** Two versions: the other takes the rest (a canary). More: each slider is free and the total must be 100. */
  private moved(version: string, value: number): void {
    const t = this.server?.traffic;
    if (!t) return;
    if (!this.draft) {
      const weights: Record<string, number> = {};
      for (const v of this.bySlider.keys()) weights[v] = weightOf(t, v);
      this.draft = { revision: t.revision, weights };
    }
    this.draft.weights[version] = value;
    const others = [...this.bySlider.keys()].filter((v) => v !== version);
    if (others.length === 1) this.draft.weights[others[0]!] = 100 - value;
    setText(this.note, '');
    this.update(this.server!);
  }

  private discard(): void {
    this.draft = null;
    if (this.server) this.update(this.server);
  }

  private async saveWeights(): Promise<void> {
    const t = this.server?.traffic;
    const draft = this.draft;
    if (!t || !draft) return;
    const lines = Object.entries(draft.weights)
      .sort((a, b) => Number(a[0]) - Number(b[0]))
      .map(([v, w]) => `v${v}: ${weightOf(t, v)}% → ${w}%`);
    if (!(await confirmAction(`Change the traffic of ${this.model}?`, lines, 'Save weights'))) return;
    await this.act('save weights', async () => {
      const answer = await putTraffic(this.model, draft.weights, t.shadow, draft.revision);
      if (answer.ok) this.draft = null;
      return answer;
    });
  }

  private async rollBack(): Promise<void> {
    if (!(await confirmAction(`Roll back the traffic of ${this.model}?`, ['The previous traffic table comes back (409 when there is none).'], 'Roll back'))) return;
    await this.act('roll back', () => call('POST', `/admin/models/${enc(this.model)}/traffic/rollback`));
  }

  private async startShadow(): Promise<void> {
    const t = this.server?.traffic;
    const weights = t && effectiveWeights(t);
    if (!t || !weights) return;
    const fraction = Number(this.shadowFraction.value);
    await this.act('start shadow', () => putTraffic(this.model, weights, { version: this.shadowVersion.value, fraction }, t.revision));
  }

  private async stopShadow(): Promise<void> {
    const t = this.server?.traffic;
    const weights = t && effectiveWeights(t);
    if (!t || !weights) return;
    await this.act('stop shadow', () => putTraffic(this.model, weights, null, t.revision));
  }
}
