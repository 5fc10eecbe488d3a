// The versions of one model as a table: state, sha256, load time, traffic weight and shadow, and the window's
// rates and latency. Rows are keyed by version and updated in place on each refresh, so buttons in them stay
// the same elements (a click is never lost to a re-render).
import { h, fmtMs, fmtNumber, fmtPercent, fmtTime, setText } from './dom.js';
import { type AdminModel, type AdminVersion, type StatsVersion, weightOf } from './types.js';

export interface RowActions {
  el: HTMLElement;
  update(v: AdminVersion, model: AdminModel): void;
}

const COLUMNS: [field: string, title: string, hint?: string][] = [
  ['version', 'Version'],
  ['state', 'State'],
  ['sha256', 'SHA-256'],
  ['loaded', 'Loaded'],
  ['weight', 'Traffic'],
  ['shadow', 'Shadow'],
  ['rps', 'Req/s', 'requests per second over the window'],
  ['rows', 'Rows/s', 'rows inferred per second over the window'],
  ['p50', 'p50', 'median request latency over the window'],
  ['p99', 'p99', '99th percentile request latency over the window'],
  ['errors', 'Errors', 'failed requests / requests over the window'],
  ['queue', 'Queue', 'requests waiting in the batcher now'],
  ['total', 'Requests', 'requests answered since the version loaded'],
];

interface Row {
  tr: HTMLTableRowElement;
  cells: Map<string, HTMLTableCellElement>;
  actions?: RowActions;
}

export class VersionTable {
  readonly el: HTMLTableElement;
  private readonly body: HTMLTableSectionElement;
  private readonly rows = new Map<string, Row>();

  constructor(private readonly makeActions?: (version: string) => RowActions) {
    const head = h('tr', {}, ...COLUMNS.map(([, title, hint]) => h('th', { title: hint }, title)), makeActions ? h('th', {}, 'Actions') : null);
    this.body = h('tbody', {});
    this.el = h('table', { class: 'versions' }, h('thead', {}, head), this.body);
  }

  update(model: AdminModel, stats: StatsVersion[] | undefined): void {
    const byVersion = new Map((stats ?? []).map((s) => [s.version, s]));
    const seen = new Set<string>();
    const sorted = [...model.versions].sort((a, b) => Number(a.version) - Number(b.version));
    for (const v of sorted) {
      seen.add(v.version);
      let row = this.rows.get(v.version);
      if (!row) {
        row = this.createRow(v.version);
        this.rows.set(v.version, row);
      }
      this.body.append(row.tr); // keeps version order (moves the existing element)
      this.fill(row, v, model, byVersion.get(v.version));
    }
    for (const [version, row] of this.rows) {
      if (seen.has(version)) continue;
      row.tr.remove();
      this.rows.delete(version);
    }
  }

  private createRow(version: string): Row {
    const cells = new Map<string, HTMLTableCellElement>();
    const tr = h('tr', { 'data-version': version });
    for (const [field] of COLUMNS) {
      const td = h('td', { 'data-field': field });
      cells.set(field, td);
      tr.append(td);
    }
    const actions = this.makeActions?.(version);
    if (actions) tr.append(h('td', { class: 'actions' }, actions.el));
    return { tr, cells, actions };
  }

  private fill(row: Row, v: AdminVersion, model: AdminModel, s: StatsVersion | undefined): void {
    const c = (field: string) => row.cells.get(field)!;
    setText(c('version'), `v${v.version}`);
    const badge = c('state').firstElementChild ?? c('state').appendChild(h('span', {}));
    badge.className = `badge state-${v.state}`;
    setText(badge, v.state);
    if (v.reason) badge.setAttribute('title', v.reason);
    else badge.removeAttribute('title');
    setText(c('sha256'), v.sha256 ? v.sha256.slice(0, 12) : '–');
    c('sha256').title = v.sha256 ?? '';
    setText(c('loaded'), fmtTime(v.load_time));
    const weight = weightOf(model.traffic, v.version);
    setText(c('weight'), `${weight}%`);
    c('weight').classList.toggle('hot', weight > 0);
    const shadow = model.traffic.shadow?.version === v.version ? model.traffic.shadow : null;
    setText(c('shadow'), shadow ? `${fmtPercent(shadow.fraction, 0)} mirrored` : '–');
    setText(c('rps'), fmtNumber(s?.requests_per_second, 2));
    setText(c('rows'), fmtNumber(s?.rows_per_second, 2));
    setText(c('p50'), fmtMs(s?.p50_ms));
    setText(c('p99'), fmtMs(s?.p99_ms));
    setText(c('errors'), s?.error_rate === undefined ? '–' : fmtPercent(s.error_rate));
    c('errors').classList.toggle('bad', (s?.error_rate ?? 0) > 0.01);
    setText(c('queue'), String(s?.queue_depth ?? v.queue_depth));
    setText(c('total'), s?.requests_total === undefined ? '–' : s.requests_total.toLocaleString('en-US'));
    row.actions?.update(v, model);
  }
}
