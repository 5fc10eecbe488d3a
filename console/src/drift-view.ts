// One version's monitoring: prediction distribution, feedback accuracy, shadow agreement, and drift per feature
// (reference vs current proportions per bin, PSI, sorted by PSI, shifted features highlighted).
import { h, fmtNumber, fmtPercent } from './dom.js';
import type { FeatureDrift, MonitoringResponse, PredictionDrift } from './types.js';

/** Conventional PSI reading: below 0.1 stable, 0.1 to 0.2 moderate, 0.2 and above shifted. */
export const PSI_MODERATE = 0.1;
export const PSI_SHIFTED = 0.2;

function psiClass(psi: number | null): string {
  if (psi === null) return 'psi-unknown';
  return psi >= PSI_SHIFTED ? 'psi-shifted' : psi >= PSI_MODERATE ? 'psi-moderate' : 'psi-stable';
}

function psiText(psi: number | null): string {
  return psi === null ? 'not yet' : psi.toFixed(3);
}

/** The bin's range: edges e0 < ... < e(k-1) make k + 1 bins, a value's bin is the number of edges <= it. */
function binRange(edges: number[], i: number): string {
  const f = (x: number) => fmtNumber(x, Math.abs(x) < 10 ? 3 : 1);
  if (edges.length === 0) return 'all values';
  if (i === 0) return `< ${f(edges[0]!)}`;
  if (i === edges.length) return `≥ ${f(edges[i - 1]!)}`;
  return `[${f(edges[i - 1]!)}, ${f(edges[i]!)})`;
}

/** Paired columns per bin: reference (grey) and current (colour), heights relative to the largest proportion. */
function binBars(labels: string[], reference: number[], current: number[]): HTMLElement {
  const max = Math.max(1e-12, ...reference, ...current);
  return h(
    'div',
    { class: 'bins' },
    ...reference.map((r, i) => {
      const c = current[i] ?? 0;
      const ref = h('span', { class: 'ref' });
      const cur = h('span', { class: 'cur' });
      ref.style.height = `${(r / max) * 100}%`;
      cur.style.height = `${(c / max) * 100}%`;
      return h('span', { class: 'bin', title: `${labels[i] ?? i}: reference ${fmtPercent(r)}, current ${fmtPercent(c)}` }, ref, cur);
    }),
  );
}

function featureRow(f: FeatureDrift): HTMLElement {
  const labels = f.reference.map((_, i) => binRange(f.edges, i));
  return h(
    'tr',
    { class: psiClass(f.psi), 'data-feature': f.feature },
    h('td', { class: 'feature' }, f.feature, f.input !== 'input' ? h('span', { class: 'muted' }, ` (${f.input})`) : null),
    h('td', { class: 'psi', 'data-field': 'psi' }, psiText(f.psi)),
    h('td', {}, h('span', { class: `badge ${psiClass(f.psi)}` }, f.psi === null ? 'waiting' : f.psi >= PSI_SHIFTED ? 'shifted' : f.psi >= PSI_MODERATE ? 'moderate' : 'stable')),
    h('td', {}, binBars(labels, f.reference, f.current)),
    h('td', { class: 'muted rows' }, `${f.current_rows} / ${f.reference_rows}`),
  );
}

function predictionView(p: PredictionDrift): HTMLElement {
  const labels = p.kind === 'classes' ? (p.labels ?? p.reference.map((_, i) => String(i))) : p.reference.map((_, i) => binRange(p.edges ?? [], i));
  const rows = p.reference.map((r, i) => {
    const c = p.current[i] ?? 0;
    const max = Math.max(1e-12, ...p.reference, ...p.current);
    const ref = h('span', { class: 'bar ref' });
    const cur = h('span', { class: 'bar cur' });
    ref.style.width = `${(r / max) * 100}%`;
    cur.style.width = `${(c / max) * 100}%`;
    return h('div', { class: 'barrow pair' }, h('span', { class: 'barlabel' }, labels[i] ?? String(i)), h('span', { class: 'bartrack' }, ref, cur), h('span', { class: 'barvalue' }, `${fmtPercent(r)} → ${fmtPercent(c)}`));
  });
  return h(
    'div',
    { class: 'prediction', 'data-testid': 'prediction-distribution' },
    h('h3', {}, 'Prediction distribution ', h('span', { class: `badge ${psiClass(p.psi)}` }, `PSI ${psiText(p.psi)}`)),
    h('p', { class: 'legend' }, h('span', { class: 'swatch ref' }), ` reference (${p.reference_rows} rows)  `, h('span', { class: 'swatch cur' }), ` current (${p.current_rows} rows)`),
    h('div', { class: 'barlist' }, ...rows),
  );
}

export function monitoringView(m: MonitoringResponse): HTMLElement {
  const facts = h(
    'dl',
    { class: 'facts' },
    h('dt', {}, 'Accuracy from feedback'),
    h('dd', { 'data-field': 'accuracy' }, m.feedback?.accuracy !== null && m.feedback?.accuracy !== undefined ? `${fmtPercent(m.feedback.accuracy)} over the last ${m.feedback.rows} labelled rows` : m.task === 'regression' ? 'regression model (see model_feedback_absolute_error)' : 'no feedback yet (POST /v2/models/{model}/feedback)'),
    h('dt', {}, 'Shadow agreement'),
    h('dd', { 'data-field': 'shadow-agreement' }, m.shadow ? `${fmtPercent(m.shadow.agreement_rate)} of ${m.shadow.requests.toLocaleString('en-US')} mirrored requests (${m.shadow.disagreements} disagreed)` : 'not shadowed since it loaded'),
    h('dt', {}, 'Task'),
    h('dd', {}, m.task ?? 'unknown'),
  );
  if (!m.drift) return h('div', {}, facts, h('p', { class: 'muted' }, m.state === 'ready' ? 'Drift monitoring is off (DRIFT_ENABLED=false or MONITORING_ENABLED=false).' : `No drift data: the version is ${m.state}.`));
  const d = m.drift;
  const shifted = d.features.filter((f) => f.psi !== null && f.psi >= PSI_SHIFTED).length;
  return h(
    'div',
    {},
    facts,
    d.prediction ? predictionView(d.prediction) : null,
    h(
      'div',
      { class: 'drift', 'data-testid': 'drift' },
      h('h3', {}, 'Input drift per feature ', h('span', { class: `badge ${shifted > 0 ? 'psi-shifted' : 'psi-stable'}` }, `${shifted} shifted`)),
      h(
        'p',
        { class: 'legend' },
        `Reference: ${d.reference === 'baseline' ? 'baseline.json from training' : 'the first rows served'}${d.reference_complete ? '' : ' (still collecting)'}. PSI ≥ ${PSI_SHIFTED} shifted, ≥ ${PSI_MODERATE} moderate. `,
        h('span', { class: 'swatch ref' }),
        ' reference ',
        h('span', { class: 'swatch cur' }),
        ' current',
      ),
      h('table', { class: 'features' }, h('thead', {}, h('tr', {}, h('th', {}, 'Feature'), h('th', {}, 'PSI'), h('th', {}, ''), h('th', {}, 'Proportion per bin'), h('th', { title: 'current rows / reference rows' }, 'Rows'))), h('tbody', {}, ...d.features.map(featureRow))),
    ),
  );
}
