// One model: its versions with lifecycle actions, traffic (canary slider, promote, shadow, roll back), charts of
// latency, throughput and queue depth over the last 15 minutes, batch sizes, and one version's monitoring.
import { call, enc, get } from './api.js';
import { barList, type Line, TimeChart } from './charts.js';
import { AnswerPanel, confirmAction } from './dialog.js';
import { h, fmtMs, fmtNumber, setText } from './dom.js';
import { monitoringView } from './drift-view.js';
import type { Page } from './page.js';
import { type Act, putTraffic, TrafficPanel } from './traffic-panel.js';
import type { AdminModel, AdminModels, AdminVersion, HistoryResponse, MonitoringResponse, StatsResponse } from './types.js';
import { weightOf } from './types.js';
import { type RowActions, VersionTable } from './version-table.js';

async function sha256Hex(bytes: ArrayBuffer): Promise<string | undefined> {
  // crypto.subtle exists only in secure contexts (https, or http on loopback); without it the header is left out.
  if (!globalThis.crypto?.subtle) return undefined;
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export function modelPage(name: string): Page {
  const answer = new AnswerPanel();
  let model: AdminModel | undefined;
  let selected: string | undefined;
  let monitoringJson = '';
  let refresh: () => Promise<void> = async () => undefined;

  const act: Act = async (what, run) => {
    try {
      const a = await run();
      if (a) answer.show(what, a);
    } catch (err) {
      answer.showError(what, err);
    }
    await refresh().catch(() => undefined);
  };

  const rowActions = (version: string): RowActions => {
    const promote = h('button', { type: 'button', 'data-testid': 'promote', onclick: () => void doPromote(version) }, 'Promote');
    const unload = h('button', { type: 'button', class: 'danger', 'data-testid': 'unload', onclick: () => void doUnload(version) }, 'Unload');
    const load = h('button', { type: 'button', 'data-testid': 'load', onclick: () => void act(`load ${name}`, () => call('POST', `/v2/repository/models/${enc(name)}/load`)) }, 'Load');
    return {
      el: h('span', { class: 'buttons' }, promote, unload, load),
      update(v: AdminVersion, m: AdminModel) {
        const weight = weightOf(m.traffic, v.version);
        promote.hidden = v.state !== 'ready';
        promote.disabled = weight === 100 && !!m.traffic.weights;
        promote.title = 'blue/green: send 100% of unversioned traffic to this version';
        unload.hidden = !(v.state === 'ready' || v.state === 'loading');
        load.hidden = !(v.state === 'unloaded' || v.state === 'failed');
        load.title = 'loads every version of the model on disk that is not loaded';
      },
    };
  };

  const doPromote = async (version: string) => {
    const t = model?.traffic;
    if (!t) return;
    const lines = [`v${version} gets 100% of unversioned traffic (blue/green).`, ...model!.versions.filter((v) => v.version !== version && weightOf(t, v.version) > 0).map((v) => `v${v.version}: ${weightOf(t, v.version)}% → 0%`)];
    if (!(await confirmAction(`Promote v${version} of ${name}?`, lines, 'Promote'))) return;
    const shadow = t.shadow?.version === version ? null : t.shadow;
    await act(`promote v${version}`, () => putTraffic(name, { [version]: 100 }, shadow, t.revision));
  };

  const doUnload = async (version: string) => {
    if (!(await confirmAction(`Unload v${version} of ${name}?`, ['Queued and running requests finish; then its sessions are released.', 'Refused (409) while the traffic table gives it weight or shadows it.'], 'Unload'))) return;
    await act(`unload v${version}`, () => call('DELETE', `/admin/models/${enc(name)}/versions/${enc(version)}`));
  };

  const doUnloadModel = async () => {
    if (!(await confirmAction(`Unload every version of ${name}?`, ['The model stops serving (503) until it is loaded again, also after a restart.'], 'Unload model'))) return;
    await act(`unload ${name}`, () => call('POST', `/v2/repository/models/${enc(name)}/unload`));
  };

  const uploadVersion = h('input', { type: 'number', min: '1', step: '1', placeholder: 'version', 'aria-label': 'new version number' });
  const uploadFile = h('input', { type: 'file', accept: '.onnx', 'aria-label': 'ONNX file' });
  const doUpload = async () => {
    const file = uploadFile.files?.[0];
    const version = uploadVersion.value.trim();
    if (!file || !version) return answer.showError('upload', 'choose a version number and an ONNX file');
    const bytes = await file.arrayBuffer();
    const sha = await sha256Hex(bytes);
    await act(`upload v${version}`, () => call('PUT', `/admin/models/${enc(name)}/versions/${enc(version)}`, undefined, { bytes, headers: sha ? { 'x-content-sha256': sha } : {} }));
  };

  const table = new VersionTable(rowActions);
  const traffic = new TrafficPanel(name, act);
  const reason = h('p', { class: 'reason', hidden: true });
  const lifecycle = h(
    'div',
    { class: 'buttons' },
    h('button', { type: 'button', 'data-testid': 'load-model', onclick: () => void act(`load ${name}`, () => call('POST', `/v2/repository/models/${enc(name)}/load`)) }, 'Load versions on disk'),
    h('button', { type: 'button', class: 'danger', 'data-testid': 'unload-model', onclick: () => void doUnloadModel() }, 'Unload model'),
    h('span', { class: 'spacer' }),
    h('label', {}, 'Upload ', uploadVersion),
    uploadFile,
    h('button', { type: 'button', onclick: () => void doUpload() }, 'Upload'),
  );

  const throughput = new TimeChart('Throughput (rows/s)', (v) => fmtNumber(v, 1), 'chart-throughput');
  const latency = new TimeChart('Latency p50 / p99', (v) => fmtMs(v), 'chart-latency', { points: true });
  const queue = new TimeChart('Queue depth (requests waiting)', (v) => fmtNumber(v, 0), 'chart-queue', { integer: true });
  const batches = h('div', { class: 'batches', 'data-testid': 'batch-sizes' });
  const historyNote = h('p', { class: 'muted' });
  const tabs = h('div', { class: 'tabs', role: 'tablist' });
  const monitoring = h('div', { class: 'monitoring', 'data-testid': 'monitoring' });

  const el = h(
    'section',
    { class: 'page model-page', 'data-testid': 'model-page', 'data-model': name },
    h('div', { class: 'page-head' }, h('h1', {}, name)),
    reason,
    h('section', { class: 'panel' }, h('h2', {}, 'Versions'), table.el, lifecycle),
    h('div', { class: 'two' }, traffic.el, answer.el),
    h('section', { class: 'panel' }, h('h2', {}, 'Last 15 minutes'), historyNote, h('div', { class: 'charts' }, throughput.el, latency.el, queue.el, h('figure', { class: 'chart' }, h('figcaption', {}, 'Batch sizes (rows per run)'), batches))),
    h('section', { class: 'panel' }, h('h2', {}, 'Monitoring'), tabs, monitoring),
  );

  const renderHistory = (hist: HistoryResponse) => {
    const every = hist.sample_interval_seconds;
    setText(historyNote, `One point per ${every} s sample, kept for ${hist.retain_seconds / 60} minutes; the server samples its own counters.`);
    const empty = `No samples yet: the first comes within ${every} s of a version loading.`;
    const vs = hist.versions;
    throughput.update(vs.map((v): Line => ({ label: `v${v.version}`, t: v.points.t, values: v.points.rows_per_second })), empty);
    latency.update(
      vs.flatMap((v): Line[] => [
        { label: `v${v.version} p50`, t: v.points.t, values: v.points.p50_ms },
        { label: `v${v.version} p99`, t: v.points.t, values: v.points.p99_ms },
      ]),
      empty,
    );
    queue.update(vs.map((v): Line => ({ label: `v${v.version}`, t: v.points.t, values: v.points.queue_depth })), empty);
    batches.replaceChildren(
      ...vs.map((v) =>
        h('div', { class: 'batch', 'data-version': v.version }, h('h4', {}, `v${v.version}`), v.batch_sizes.length ? barList(v.batch_sizes.map((b) => ({ label: String(b.batch_size), value: b.executions, title: `${b.executions} runs of ${b.batch_size} rows` })), (x) => `${x} runs`) : h('p', { class: 'muted' }, 'no runs yet')),
      ),
    );
    if (vs.length === 0) batches.append(h('p', { class: 'muted' }, 'No ready version.'));
  };

  const renderTabs = (m: AdminModel) => {
    const ready = m.versions.filter((v) => v.state === 'ready' || v.state === 'draining').map((v) => v.version);
    if (!selected || !ready.includes(selected)) {
      selected = [...ready].sort((a, b) => weightOf(m.traffic, b) - weightOf(m.traffic, a) || Number(b) - Number(a))[0];
      monitoringJson = '';
    }
    const key = `${ready.join(',')}|${selected}`;
    if (tabs.dataset.key === key) return;
    tabs.dataset.key = key;
    tabs.replaceChildren(
      ...ready.map((v) =>
        h(
          'button',
          {
            type: 'button',
            role: 'tab',
            'aria-selected': String(v === selected),
            'data-version': v,
            onclick: () => {
              selected = v;
              monitoringJson = '';
              renderTabs(m);
              void refresh();
            },
          },
          `v${v}`,
        ),
      ),
    );
  };

  refresh = async () => {
    const [models, stats, hist] = await Promise.all([
      get<AdminModels>('/admin/models'),
      get<StatsResponse>('/admin/stats?window_seconds=300'),
      get<HistoryResponse>(`/admin/models/${enc(name)}/history`),
    ]);
    const m = models.models.find((x) => x.name === name);
    if (!m) {
      setText(reason, `Model '${name}' is not in the repository.`);
      reason.hidden = false;
      return;
    }
    model = m;
    reason.hidden = !m.reason;
    setText(reason, m.reason ?? '');
    table.update(m, stats.models.find((s) => s.name === name)?.versions);
    traffic.update(m);
    renderHistory(hist);
    renderTabs(m);
    if (!selected) {
      monitoring.replaceChildren(h('p', { class: 'muted' }, 'No ready version to monitor.'));
      return;
    }
    const mon = await get<MonitoringResponse>(`/admin/models/${enc(name)}/versions/${enc(selected)}/monitoring`);
    const json = JSON.stringify(mon);
    if (json !== monitoringJson) {
      monitoringJson = json;
      monitoring.replaceChildren(monitoringView(mon));
    }
  };

  return {
    el,
    title: name,
    refresh: () => refresh(),
    destroy() {
      throughput.destroy();
      latency.destroy();
      queue.destroy();
    },
  };
}

