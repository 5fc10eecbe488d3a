// Every model with each version's state, sha256, load time, traffic weight and shadow, and its rates, latency,
// error rate and queue over the last minutes (GET /admin/models and GET /admin/stats).
import { enc, get } from './api.js';
import { h, setText } from './dom.js';
import type { Page } from './page.js';
import type { AdminModel, AdminModels, StatsResponse, TrafficView } from './types.js';
import { VersionTable } from './version-table.js';

const WINDOWS = [60, 300, 900];
let windowSeconds = 300;

export function describeTraffic(t: TrafficView): string {
  const weights = t.weights
    ? Object.entries(t.weights)
        .filter(([, w]) => w > 0)
        .sort((a, b) => Number(a[0]) - Number(b[0]))
        .map(([v, w]) => `v${v} ${w}%`)
        .join(', ')
    : `default policy: latest ready version${t.default_version ? ` (v${t.default_version})` : ''}`;
  const shadow = t.shadow ? `; shadow v${t.shadow.version} at ${Math.round(t.shadow.fraction * 100)}%` : '';
  return `${weights}${shadow} · revision ${t.revision}`;
}

interface Card {
  el: HTMLElement;
  traffic: HTMLElement;
  reason: HTMLElement;
  table: VersionTable;
}

export function modelsPage(): Page {
  const list = h('div', { class: 'cards' });
  const none = h('p', { class: 'muted', hidden: true }, 'No models in the repository.');
  const select = h(
    'select',
    {
      'aria-label': 'window',
      onchange: () => {
        windowSeconds = Number(select.value);
        void page.refresh();
      },
    },
    ...WINDOWS.map((s) => h('option', { value: s, selected: s === windowSeconds }, `last ${s / 60} min`)),
  );
  const note = h('span', { class: 'muted' });
  const el = h('section', { class: 'page models-page', 'data-testid': 'models-page' }, h('div', { class: 'page-head' }, h('h1', {}, 'Models'), h('label', { class: 'window' }, 'Rates over ', select), note), none, list);
  const cards = new Map<string, Card>();

  const card = (name: string): Card => {
    let c = cards.get(name);
    if (c) return c;
    const traffic = h('p', { class: 'traffic', 'data-field': 'traffic' });
    const reason = h('p', { class: 'reason', hidden: true });
    const table = new VersionTable();
    const link = h('a', { href: `#/models/${enc(name)}`, 'data-testid': 'model-link' }, name);
    c = { el: h('article', { class: 'card', 'data-model': name }, h('h2', {}, link), traffic, reason, table.el), traffic, reason, table };
    cards.set(name, c);
    return c;
  };

  const page: Page = {
    el,
    title: 'Models',
    async refresh() {
      const [models, stats] = await Promise.all([get<AdminModels>('/admin/models'), get<StatsResponse>(`/admin/stats?window_seconds=${windowSeconds}`)]);
      setText(note, `sampled every ${stats.sample_interval_seconds} s`);
      const names = new Set<string>();
      for (const m of models.models) {
        names.add(m.name);
        const c = card(m.name);
        list.append(c.el);
        update(c, m, stats);
      }
      for (const [name, c] of cards) {
        if (names.has(name)) continue;
        c.el.remove();
        cards.delete(name);
      }
      none.hidden = models.models.length > 0;
    },
    destroy() {},
  };
  return page;
}

function update(c: Card, m: AdminModel, stats: StatsResponse): void {
  setText(c.traffic, describeTraffic(m.traffic));
  c.reason.hidden = !m.reason;
  setText(c.reason, m.reason ?? '');
  c.table.update(m, stats.models.find((s) => s.name === m.name)?.versions);
}
