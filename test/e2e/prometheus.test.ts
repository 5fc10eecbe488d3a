import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../helpers/process.js';
import { BUNDLED_MODELS, ROOT, auth, startServer, type Started } from '../helpers/server.js';

const PROMETHEUS = '/usr/bin/prometheus';
/** Without Prometheus this file is skipped, except in CI (CI=true), where it fails. */
const prometheusSkip = existsSync(PROMETHEUS) || process.env.CI === 'true' ? false : `${PROMETHEUS} not found (Debian package prometheus); set CI=true to make this a failure`;
const REQUESTS = 7;
const WAIT_MS = 30_000;

/** Polls `probe` every 250 ms until it returns a value or WAIT_MS passes (then returns the last value seen). */
async function poll<T>(probe: () => Promise<T | undefined>, done: (v: T | undefined) => boolean): Promise<T | undefined> {
  const deadline = Date.now() + WAIT_MS;
  let last: T | undefined;
  for (;;) {
    last = await probe().catch(() => undefined);
    if (done(last) || Date.now() > deadline) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('a real Prometheus scraping ortserve', { skip: prometheusSkip }, () => {
  let s: Started;
  let prom: ChildProcess | undefined;
  let promUrl: string;
  let dir: string;
  let promLog = '';

  async function query(q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(q)}`);
    const body = (await res.json()) as { status: string; data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
    assert.equal(body.status, 'success');
    return body.data.result;
  }

  before(async () => {
    assert.ok(existsSync(PROMETHEUS), `${PROMETHEUS} is required when CI=true (apt-get install prometheus)`);
    s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS });
    dir = await mkdtemp(path.join(os.tmpdir(), 'ortserve-prometheus-'));
    const target = new URL(s.url).host;
    const config = [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      `  - ${JSON.stringify(path.join(ROOT, 'monitoring/alerts.yml'))}`,
      'scrape_configs:',
      '  - job_name: ortserve',
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: [${JSON.stringify(target)}]`,
      '',
    ].join('\n');
    await writeFile(path.join(dir, 'prometheus.yml'), config);
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prom = spawn(PROMETHEUS, [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    prom.stderr!.on('data', (chunk: Buffer) => void (promLog += chunk.toString()));
    const ready = await poll(async () => (await fetch(`${promUrl}/-/ready`)).status, (st) => st === 200);
    assert.equal(ready, 200, `Prometheus did not become ready:\n${promLog}`);
  });

  after(async () => {
    if (prom && prom.exitCode === null) {
      const exited = once(prom, 'exit');
      prom.kill('SIGTERM');
      await exited;
    }
    await s?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('scrapes the service: sum(inference_requests_total) equals the requests sent', async () => {
    for (let i = 0; i < REQUESTS; i++) {
      const res = await fetch(`${s.url}/v2/models/breast_cancer/infer`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: new Array(30).fill(i) }] }),
      });
      assert.equal(res.status, 200);
    }
    const total = await poll(async () => Number((await query('sum(inference_requests_total)'))[0]?.value[1]), (v) => v === REQUESTS);
    assert.equal(total, REQUESTS, `Prometheus log:\n${promLog}`);
    const success = await query('sum(inference_requests_total{job="ortserve", model="breast_cancer", version="2", outcome="success"})');
    assert.equal(Number(success[0]?.value[1]), REQUESTS);
  });

  it('sees the target up and every model version ready', async () => {
    assert.deepEqual((await query('up{job="ortserve"}')).map((r) => r.value[1]), ['1']);
    const ready = await query('model_ready');
    assert.deepEqual(ready.map((r) => `${r.metric.model}:${r.metric.version}=${r.value[1]}`).sort(), ['breast_cancer:1=1', 'breast_cancer:2=1', 'digits:1=1']);
  });

  it('loads monitoring/alerts.yml and evaluates every rule without error', async () => {
    type Rules = { data: { groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] } };
    const groups = await poll(
      async () => ((await (await fetch(`${promUrl}/api/v1/rules`)).json()) as Rules).data.groups,
      (g) => !!g && g.length > 0 && g.every((x) => x.rules.every((r) => r.health !== 'unknown')),
    );
    assert.ok(groups && groups.length > 0, `no rule groups loaded:\n${promLog}`);
    const rules = groups.flatMap((g) => g.rules);
    assert.ok(rules.length >= 10);
    for (const r of rules) assert.equal(r.health, 'ok', `${r.name}: ${r.lastError ?? ''}`);
  });
});
