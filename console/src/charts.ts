// Time-series charts (uPlot): one line per version and measure, on the union of the sample times, so versions
// loaded at different times share one x axis (missing points are gaps).
import uPlot from 'uplot';
import { h, setText } from './dom.js';

export interface Line {
  label: string;
  t: number[];
  values: (number | null)[];
}

export const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4d7c0f', '#be185d'];

export class TimeChart {
  readonly el: HTMLElement;
  private readonly plotBox: HTMLElement;
  private readonly empty: HTMLElement;
  private plot: uPlot | undefined;
  private labels = '';
  private readonly onResize = () => this.plot?.setSize(this.size());

  constructor(
    title: string,
    private readonly format: (v: number) => string,
    testId: string,
    /** integer: whole-number ticks (queue depth); points: always draw points (latency has gaps when idle). */
    private readonly style: { integer?: boolean; points?: boolean } = {},
  ) {
    this.plotBox = h('div', { class: 'plot' });
    this.empty = h('p', { class: 'muted empty' }, 'No samples yet.');
    this.el = h('figure', { class: 'chart', 'data-testid': testId }, h('figcaption', {}, title), this.empty, this.plotBox);
    window.addEventListener('resize', this.onResize);
  }

  update(lines: Line[], emptyText: string): void {
    const xs = [...new Set(lines.flatMap((l) => l.t))].sort((a, b) => a - b);
    if (xs.length === 0) {
      this.destroyPlot();
      this.empty.hidden = false;
      setText(this.empty, emptyText);
      return;
    }
    this.empty.hidden = true;
    const data: uPlot.AlignedData = [
      xs.map((t) => t / 1000),
      ...lines.map((l) => {
        const at = new Map(l.t.map((t, i) => [t, l.values[i] ?? null]));
        return xs.map((t) => at.get(t) ?? null);
      }),
    ];
    const labels = lines.map((l) => l.label).join('|');
    if (this.plot && labels === this.labels) {
      this.plot.setData(data);
      return;
    }
    this.destroyPlot();
    this.labels = labels;
    const fmt = this.format;
    this.plot = new uPlot(
      {
        ...this.size(),
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min ?? 0), max && max > 0 ? max * 1.1 : 1] } },
        axes: [{}, { size: 64, values: (_u, vals) => vals.map((v) => fmt(v)), ...(this.style.integer ? { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] } : {}) }],
        series: [
          {},
          ...lines.map((l, i) => ({
            label: l.label,
            stroke: PALETTE[i % PALETTE.length],
            width: 2,
            points: this.style.points ? { show: true, size: 6, fill: PALETTE[i % PALETTE.length] } : { size: 5 },
            value: (_u: uPlot, v: number | null) => (v === null ? '–' : fmt(v)),
          })),
        ],
      },
      data,
      this.plotBox,
    );
  }

  destroy(): void {
    window.removeEventListener('resize', this.onResize);
    this.destroyPlot();
  }

  private size(): { width: number; height: number } {
    return { width: Math.max(280, (this.el.clientWidth || 480) - 16), height: 180 };
  }

  private destroyPlot(): void {
    this.plot?.destroy();
    this.plot = undefined;
    this.labels = '';
  }
}

/** Horizontal bars for small distributions (batch sizes): label, bar, value. */
export function barList(items: { label: string; value: number; title?: string }[], format: (v: number) => string): HTMLElement {
  const max = Math.max(1e-12, ...items.map((i) => i.value));
  return h(
    'div',
    { class: 'barlist' },
    ...items.map((i) => {
      const bar = h('span', { class: 'bar' });
      bar.style.width = `${(i.value / max) * 100}%`;
      return h('div', { class: 'barrow', title: i.title }, h('span', { class: 'barlabel' }, i.label), h('span', { class: 'bartrack' }, bar), h('span', { class: 'barvalue' }, format(i.value)));
    }),
  );
}
