// `ortserve bench`: a quick, bounded load generator against a running server. It reads the model's metadata, builds
// a few valid V2 requests of random data with the right shapes and datatypes, and keeps `concurrency` requests in
// flight over keep-alive connections for `duration` seconds; then prints rps, latency percentiles, the versions
// that answered and the errors by status. Loopback only unless --allow-remote: this is load, not a probe.
// `npm run bench` is the full comparative benchmark (wrk, raw onnxruntime, reference servers).
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { authHeaders, parseAnswer, requestJson, resolveTarget, seg, TARGET_HELP, type Target, targetOptions } from './client.js';
import { type Command, CliError, intFlag, type Io, parse, printed, UsageError } from './common.js';
import { Progress } from './progress.js';

const benchHelp = [
  'usage: ortserve bench [--model NAME] [--version V] [--concurrency 64] [--duration 10] [--batch 1] [--url URL] [--token TOKEN]',
  '',
  'A quick load test of one model over HTTP/JSON: `concurrency` requests in flight for `duration` seconds, each a',
  'valid V2 inference request of random data shaped from the model metadata. Prints requests per second, latency',
  'percentiles, the versions that answered, and errors by status. The load generator runs in this one node process',
  'and shares the machine with the server; `npm run bench` is the full comparative benchmark (docs/benchmarks.md).',
  '',
  '  --model NAME       the model (default breast_cancer)',
  '  --version V        a version (default: whatever the traffic table picks)',
  '  --concurrency N    requests in flight (default 64, 1..1024)',
  '  --duration S       seconds of load (default 10, 1..3600)',
  '  --batch N          rows per request for a model with a variable batch dimension (default 1)',
  '  --timeout-ms N     a request unanswered this long counts as an error (default 30000)',
  '  --allow-remote     allow a URL that is not loopback (127.0.0.0/8, ::1, localhost)',
  TARGET_HELP,
  '  --json             print the results as JSON',
  '  -h, --help         this help',
  '',
].join('\n');

interface TensorMeta {
  name: string;
  datatype: string;
  shape: number[];
}

/** Random values for one input; integers stay small (indices, categories) except the 8-bit types' full range. */
function randomData(datatype: string, count: number): unknown[] {
  const out: unknown[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const r = Math.random();
    switch (datatype) {
      case 'FP16':
      case 'FP32':
      case 'FP64':
        out[i] = Math.round((r * 2 - 1) * 1e4) / 1e4;
        break;
      case 'BOOL':
        out[i] = r < 0.5;
        break;
      case 'INT8':
        out[i] = Math.floor(r * 256) - 128;
        break;
      case 'UINT8':
        out[i] = Math.floor(r * 256);
        break;
      case 'BYTES':
        out[i] = r.toString(36).slice(2, 8);
        break;
      default:
        out[i] = Math.floor(r * 4);
    }
  }
  return out;
}

/** A variable batch dimension takes `batch` rows, any other variable dimension 1. */
export function concreteShape(shape: number[], batch: number): number[] {
  return shape.map((d, i) => (d >= 0 ? d : i === 0 ? batch : 1));
}

export function inferBody(inputs: TensorMeta[], batch: number): string {
  return JSON.stringify({
    inputs: inputs.map((t) => {
      const shape = concreteShape(t.shape, batch);
      return { name: t.name, shape, datatype: t.datatype, data: randomData(t.datatype, shape.reduce((a, b) => a * b, 1)) };
    }),
  });
}

export function isLoopback(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost') return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  return host === '::1';
}

export interface BenchResult {
  model: string;
  url: string;
  concurrency: number;
  durationSeconds: number;
  requests: number;
  ok: number;
  errors: Record<string, number>;
  /** The first error message per kind (the server's body, or the socket error). */
  errorExamples: Record<string, string>;
  rps: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number } | null;
  versions: Record<string, number>;
}

const quantile = (sorted: Float64Array, q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

interface RunOptions {
  target: Target;
  path: string;
  bodies: Buffer[];
  concurrency: number;
  durationMs: number;
  timeoutMs: number;
  onTick: (elapsedMs: number, done: number, errors: number) => void;
}

async function load(o: RunOptions, stop: { now: boolean }) {
  const url = new URL(o.target.url + o.path);
  const client = url.protocol === 'https:' ? https : http;
  const agent = new client.Agent({ keepAlive: true, maxSockets: o.concurrency });
  const headers = { 'content-type': 'application/json', ...authHeaders(o.target) };
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  const examples: Record<string, string> = {};
  const versions: Record<string, number> = {};
  let errorCount = 0;
  let next = 0;
  const fail = (kind: string, example: string) => {
    errorCount++;
    errors[kind] = (errors[kind] ?? 0) + 1;
    examples[kind] ??= example.slice(0, 200);
  };
  const one = () =>
    new Promise<void>((resolve) => {
      const body = o.bodies[next++ % o.bodies.length]!;
      const t0 = performance.now();
      const req = client.request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => (fail((err as NodeJS.ErrnoException).code ?? 'response error', err.message), resolve()));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 200) {
            latencies.push(performance.now() - t0);
            const v = /"model_version"\s*:\s*"([^"]*)"/.exec(text)?.[1] ?? '?';
            versions[v] = (versions[v] ?? 0) + 1;
          } else {
            const answer = parseAnswer(text) as { error?: unknown } | null | string | undefined;
            fail(String(res.statusCode), typeof answer === 'object' && answer !== null && typeof answer.error === 'string' ? answer.error : text);
          }
          resolve();
        });
      });
      req.setTimeout(o.timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${o.timeoutMs} ms`), { code: 'timeout' })));
      req.on('error', (err: NodeJS.ErrnoException) => (fail(err.code ?? 'error', err.message), resolve()));
      req.end(body);
    });

  const start = performance.now();
  const deadline = start + o.durationMs;
  const ticker = setInterval(() => o.onTick(performance.now() - start, latencies.length + errorCount, errorCount), 100);
  const loop = async () => {
    while (!stop.now && performance.now() < deadline) await one();
  };
  await Promise.all(Array.from({ length: o.concurrency }, loop));
  clearInterval(ticker);
  const elapsedMs = performance.now() - start;
  agent.destroy();
  return { latencies, errors, examples, versions, elapsedMs };
}

export async function runBench(target: Target, model: string, version: string | undefined, opts: { concurrency: number; durationSeconds: number; batch: number; timeoutMs: number }, io: Io): Promise<BenchResult> {
  const base = `/v2/models/${seg(model)}${version ? `/versions/${seg(version)}` : ''}`;
  const meta = await requestJson<{ inputs: TensorMeta[] }>(target, 'GET', base);
  const bodies = Array.from({ length: 16 }, () => Buffer.from(inferBody(meta.inputs, opts.batch)));
  io.stderr.write(`bench: ${model}${version ? ` version ${version}` : ''} at ${target.url}, concurrency ${opts.concurrency}, ${opts.durationSeconds} s\n`);

  const durationMs = opts.durationSeconds * 1000;
  // The ticker below sets the status text; the progress line shows the latest one.
  let status = '';
  const progress = new Progress({ stream: io.stderr, render: () => status, plainEveryMs: 5000 });
  const stop = { now: false };
  const onSigint = () => {
    stop.now = true;
  };
  process.once('SIGINT', onSigint);
  let run: Awaited<ReturnType<typeof load>>;
  try {
    run = await load({ target, path: `${base}/infer`, bodies, concurrency: opts.concurrency, durationMs, timeoutMs: opts.timeoutMs, onTick: (elapsedMs, done, errors) => {
      const s = Math.min(elapsedMs, durationMs) / 1000;
      status = `bench ${s.toFixed(1)}/${opts.durationSeconds} s, ${done} requests, ${Math.round(done / Math.max(s, 0.001))} rps, ${errors} errors`;
      progress.update(done);
    } }, stop);
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
  progress.clear();

  const sorted = Float64Array.from(run.latencies).sort();
  const errorTotal = Object.values(run.errors).reduce((a, b) => a + b, 0);
  const seconds = run.elapsedMs / 1000;
  return {
    model,
    url: target.url,
    concurrency: opts.concurrency,
    durationSeconds: Math.round(seconds * 100) / 100,
    requests: sorted.length + errorTotal,
    ok: sorted.length,
    errors: run.errors,
    errorExamples: run.examples,
    rps: Math.round((sorted.length / seconds) * 10) / 10,
    latencyMs: sorted.length === 0 ? null : { p50: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1]! },
    versions: run.versions,
  };
}

export function resultText(r: BenchResult): string {
  const ms = (v: number) => v.toFixed(2);
  const errorTotal = r.requests - r.ok;
  const lines = [
    `model        ${r.model}`,
    `url          ${r.url}`,
    `concurrency  ${r.concurrency}`,
    `duration     ${r.durationSeconds.toFixed(2)} s`,
    `requests     ${r.requests} (${r.ok} ok, ${errorTotal} errors)`,
    `rps          ${r.rps.toFixed(1)}`,
    r.latencyMs ? `latency ms   p50 ${ms(r.latencyMs.p50)}  p90 ${ms(r.latencyMs.p90)}  p99 ${ms(r.latencyMs.p99)}  max ${ms(r.latencyMs.max)}` : 'latency ms   n/a (no successful request)',
  ];
  const versions = Object.entries(r.versions).sort((a, b) => a[0].localeCompare(b[0], 'en', { numeric: true }));
  if (versions.length > 0) lines.push(`versions     ${versions.map(([v, n]) => `${v}: ${n} (${((n / r.ok) * 100).toFixed(1)}%)`).join(', ')}`);
  for (const [kind, n] of Object.entries(r.errors)) lines.push(`errors       ${/^\d+$/.test(kind) ? `HTTP ${kind}` : kind}: ${n} (${r.errorExamples[kind]})`);
  return `${lines.join('\n')}\n`;
}

export const benchCommand: Command = {
  name: 'bench',
  help: () => benchHelp,
  async run(argv, io) {
    const { values, positionals } = parse(
      argv,
      {
        ...targetOptions,
        model: { type: 'string', default: 'breast_cancer' },
        version: { type: 'string' },
        concurrency: { type: 'string' },
        duration: { type: 'string' },
        batch: { type: 'string' },
        'timeout-ms': { type: 'string' },
        'allow-remote': { type: 'boolean' },
        json: { type: 'boolean' },
      },
      true,
    );
    if (values.help) return printed(io, benchHelp);
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const opts = {
      concurrency: intFlag('concurrency', values.concurrency, 64, 1, 1024),
      durationSeconds: intFlag('duration', values.duration, 10, 1, 3600),
      batch: intFlag('batch', values.batch, 1, 1, 65536),
      timeoutMs: intFlag('timeout-ms', values['timeout-ms'], 30_000, 1, 600_000),
    };
    const target = resolveTarget(values, io.env, 'predict');
    if (!values['allow-remote'] && !isLoopback(target.url)) {
      throw new UsageError(`${target.url} is not a loopback address; bench sends load, pass --allow-remote if you mean it`);
    }
    const result = await runBench(target, values.model!, values.version, opts, io);
    io.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : resultText(result));
    if (result.ok === 0) throw new CliError('no request succeeded');
    return 0;
  },
};
