import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { BUNDLED_MODELS, ROOT, startServer } from '../helpers/server.js';

const PROMTOOL = '/usr/bin/promtool';
/** Without promtool the checks that need it are skipped, except in CI (CI=true), where they fail. */
const promtoolSkip = existsSync(PROMTOOL) || process.env.CI === 'true' ? false : `${PROMTOOL} not found (Debian package prometheus); set CI=true to make this a failure`;
const MONITORING = path.join(ROOT, 'monitoring');

function promtool(args: string[], cwd = MONITORING): { status: number | null; output: string } {
  assert.ok(existsSync(PROMTOOL), `${PROMTOOL} is required when CI=true (apt-get install prometheus)`);
  const r = spawnSync(PROMTOOL, args, { cwd, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface Panel {
  type: string;
  title: string;
  id: number;
  datasource?: { type: string; uid: string };
  targets?: { expr: string; datasource?: { uid: string } }[];
  panels?: Panel[];
}

interface Dashboard {
  schemaVersion: number;
  __inputs: { name: string; pluginId: string }[];
  panels: Panel[];
  templating: { list: { name: string; query: { query: string } | string; datasource: { uid: string } }[] };
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'and', 'or', 'unless', 'inf', 'nan']);

/**
 * The metric names a PromQL expression reads: strings, label matchers, ranges and grouping clauses are removed,
 * then every identifier that is neither a keyword nor a function call (followed by '(') is a metric name.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[A-Za-z_:][\w:]*|\d[\w.]*|\$\{?\w+\}?/g)) {
    const token = m[0];
    if (!/^[A-Za-z_:]/.test(token) || KEYWORDS.has(token.toLowerCase())) continue;
    if (stripped.slice(m.index + token.length).trimStart().startsWith('(')) continue;
    names.add(token);
  }
  return [...names];
}

/** Grafana's label_values(<selector>, <label>) or label_values(<label>): the selector's metric names. */
function templateMetricNames(query: string): string[] {
  const m = /^\s*label_values\((.*)\)\s*$/.exec(query);
  assert.ok(m, `not a label_values() query: ${query}`);
  const comma = m[1]!.lastIndexOf(',');
  return comma < 0 ? [] : metricNames(m[1]!.slice(0, comma));
}

/** Exported names from a text exposition: every TYPE line, plus _bucket/_sum/_count for histograms and summaries. */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

/** Grafana variables replaced by values Prometheus accepts, so promtool can parse dashboard queries. */
function withoutGrafanaVariables(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m').replace(/\$\{?\w+\}?/g, '.*');
}

let rules: AlertRule[];
let dashboard: Dashboard;
let dashboardExprs: { title: string; expr: string }[];

before(async () => {
  const alerts = parseYaml(await readFile(path.join(MONITORING, 'alerts.yml'), 'utf8')) as { groups: { name: string; rules: AlertRule[] }[] };
  rules = alerts.groups.flatMap((g) => g.rules);
  dashboard = JSON.parse(await readFile(path.join(MONITORING, 'grafana-dashboard.json'), 'utf8')) as Dashboard;
  dashboardExprs = allPanels(dashboard.panels).flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })));
});

describe('the PromQL metric name extractor', () => {
  it('finds metric names and ignores functions, keywords, labels, strings, ranges and durations', () => {
    const expr = `histogram_quantile(0.99, sum by (model, le) (rate(foo_bucket{outcome="error", model=~"$model"}[$__rate_interval])))
      / on (model) group_left (version) bar_total offset 1d > bool 0.5 and label_replace(baz, "dst", "$1", "src", "(.*)") unless qux:ratio`;
    assert.deepEqual(metricNames(expr).sort(), ['bar_total', 'baz', 'foo_bucket', 'qux:ratio']);
  });

  it('reports a misspelt metric name', () => {
    assert.deepEqual(metricNames('rate(inference_request_total[5m])'), ['inference_request_total']);
  });
});

describe('monitoring/alerts.yml', () => {
  it('passes promtool check rules', { skip: promtoolSkip }, () => {
    const r = promtool(['check', 'rules', 'alerts.yml']);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /SUCCESS: \d+ rules found/);
  });

  it('passes its unit tests: the drift alert fires after 15 minutes of PSI > 0.25 and not before', { skip: promtoolSkip }, () => {
    const r = promtool(['test', 'rules', 'alerts.test.yml']);
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /SUCCESS/);
  });

  it('has the alerts the operations kit promises', () => {
    const names = rules.map((r) => r.alert);
    for (const name of ['OrtserveHighP99Latency', 'OrtserveHighErrorRatio', 'OrtserveRequestsRejected', 'OrtserveQueueSaturated', 'OrtserveInputDrift', 'OrtservePredictionDrift', 'OrtserveAccuracyLow', 'OrtserveAccuracyDrop', 'OrtserveModelNotReady', 'OrtserveWorkerRestarts']) {
      assert.ok(names.includes(name), `missing alert ${name}`);
    }
    const drift = rules.find((r) => r.alert === 'OrtserveInputDrift')!;
    assert.match(drift.expr, /model_input_drift_psi/);
    assert.match(drift.expr, />\s*0\.25\s*$/);
    assert.equal(drift.for, '15m');
  });

  it('gives every alert a severity, a summary, a description and a runbook sentence', () => {
    for (const rule of rules) {
      assert.ok(rule.alert, `a rule without an alert name: ${rule.expr}`);
      assert.ok(['critical', 'warning', 'info'].includes(rule.labels?.severity ?? ''), `${rule.alert}: severity`);
      for (const key of ['summary', 'description', 'runbook']) assert.ok((rule.annotations?.[key] ?? '').length > 20, `${rule.alert}: annotations.${key}`);
      assert.match(rule.annotations!.runbook!, /\.$/, `${rule.alert}: the runbook is a sentence`);
    }
  });

  it('labels drift and accuracy alerts action=retrain so Alertmanager can route them to retraining', () => {
    for (const rule of rules) {
      const retrain = /Drift|Accuracy/.test(rule.alert!);
      assert.equal(rule.labels?.action === 'retrain', retrain, `${rule.alert}: action label`);
    }
  });
});

describe('monitoring/grafana-dashboard.json', () => {
  it('is an importable dashboard: schema 39, a DS_PROMETHEUS input used by every query, unique panel ids', () => {
    assert.equal(dashboard.schemaVersion, 39);
    assert.deepEqual(dashboard.__inputs.map((i) => [i.name, i.pluginId]), [['DS_PROMETHEUS', 'prometheus']]);
    const panels = allPanels(dashboard.panels);
    assert.equal(new Set(panels.map((p) => p.id)).size, panels.length);
    for (const p of panels.filter((x) => x.type !== 'row')) {
      assert.equal(p.datasource?.uid, '${DS_PROMETHEUS}', p.title);
      assert.ok((p.targets ?? []).length > 0, `${p.title} has no query`);
      for (const t of p.targets!) assert.equal(t.datasource?.uid, '${DS_PROMETHEUS}', p.title);
    }
  });

  it('has model and version variables from label_values(model_ready, ...)', () => {
    const vars = new Map(dashboard.templating.list.map((v) => [v.name, typeof v.query === 'string' ? v.query : v.query.query]));
    assert.match(vars.get('model') ?? '', /^label_values\(model_ready\s*,\s*model\)$/);
    assert.match(vars.get('version') ?? '', /^label_values\(model_ready\{[^}]*\}\s*,\s*version\)$/);
  });

  it('shows latency percentiles, rps, errors, batch size, queue depth, drift per feature, accuracy, feedback, heap and sessions', () => {
    const all = dashboardExprs.map((e) => e.expr).join('\n');
    for (const needle of ['histogram_quantile(0.99', 'inference_requests_total', 'inference_batch_size_bucket', 'inference_queue_depth', 'model_input_drift_psi', 'feature', 'model_prediction_drift_psi', 'model_accuracy', 'model_feedback_total', 'runtime_worker_heap_used_bytes', 'model_sessions_loaded']) {
      assert.ok(all.includes(needle), `no query uses ${needle}`);
    }
  });

  it('has queries that all parse as PromQL (promtool check rules on them as recording rules)', { skip: promtoolSkip }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'ortserve-dashboard-'));
    try {
      const lines = ['groups:', '  - name: dashboard', '    rules:'];
      dashboardExprs.forEach(({ expr }, i) => lines.push(`      - record: dashboard:query_${i}`, `        expr: ${JSON.stringify(withoutGrafanaVariables(expr))}`));
      await writeFile(path.join(dir, 'dashboard-rules.yml'), `${lines.join('\n')}\n`);
      const r = promtool(['check', 'rules', 'dashboard-rules.yml'], dir);
      assert.equal(r.status, 0, r.output);
      assert.match(r.output, new RegExp(`SUCCESS: ${dashboardExprs.length} rules found`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('monitoring/prometheus.yml', () => {
  it('passes promtool check config (with alerts.yml as its rule file)', { skip: promtoolSkip }, () => {
    const r = promtool(['check', 'config', 'prometheus.yml']);
    assert.equal(r.status, 0, r.output);
  });
});

describe('metric names in alerts and dashboard', () => {
  let exported: Set<string>;
  before(async () => {
    const s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS });
    try {
      const res = await fetch(`${s.url}/metrics`);
      assert.equal(res.status, 200);
      exported = exportedNames(await res.text());
    } finally {
      await s.close();
    }
  });

  it('reads the exported names from a real server, histogram series included', () => {
    for (const name of ['inference_requests_total', 'inference_request_duration_seconds_bucket', 'model_input_drift_psi', 'process_resident_memory_bytes']) {
      assert.ok(exported.has(name), name);
    }
  });

  it('uses in every alert expression only metric names the server exports', () => {
    for (const rule of rules) {
      const names = metricNames(rule.expr);
      assert.ok(names.length > 0, `${rule.alert}: no metric found in ${rule.expr}`);
      const unknown = names.filter((n) => !exported.has(n));
      assert.deepEqual(unknown, [], `${rule.alert} reads metrics the server does not export`);
    }
  });

  it('uses in every dashboard query and variable only metric names the server exports', () => {
    for (const { title, expr } of dashboardExprs) {
      const names = metricNames(expr);
      assert.ok(names.length > 0, `${title}: no metric found in ${expr}`);
      assert.deepEqual(names.filter((n) => !exported.has(n)), [], `panel "${title}" reads metrics the server does not export`);
    }
    for (const v of dashboard.templating.list) {
      const query = typeof v.query === 'string' ? v.query : v.query.query;
      assert.deepEqual(templateMetricNames(query).filter((n) => !exported.has(n)), [], `variable ${v.name}`);
    }
  });
});
