// Micro-benchmark: a V2 JSON body to a Float32Array. JSON.parse(buffer.toString()) + fillTensor, Fastify's default
// JSON parser (what ortserve runs today: JSON.parse plus secure-json-parse's scans of the text) + fillTensor, and
// scanInferBody + fillFromScanned, for a 3x64x64 FP32 image and a 30-float MLP row. Microseconds per body.
// Run: node --import tsx bench/json-scan.ts [image-iterations-per-round] [rounds]
// The fill allocates a 48 KB Float32Array per body, which costs page faults while glibc trims freed memory back to
// the OS; MALLOC_TRIM_THRESHOLD_=268435456 MALLOC_MMAP_THRESHOLD_=268435456 in the environment shows the difference.
// (No forced gc() between rounds: a full GC frees the hidden classes of the parsed objects and deoptimizes the
// scanner each round, which a server holding live request bodies does not see.)
import { loadavg } from 'node:os';
import Fastify from 'fastify';
import { scanInferBody, ScannedData } from '../src/http/codec/json-scan.js';
import { fillFromScanned } from '../src/http/codec/scanned-fill.js';
import { fillTensor } from '../src/http/codec/tensor-fill.js';
import { datatypeFromV2 } from '../src/runtime/datatypes.js';

const FP32 = datatypeFromV2('FP32')!;
const app = Fastify();
const fastifyJson = app.getDefaultJsonParser('error', 'error') as unknown as (req: unknown, body: string, done: (err: Error | null, v?: unknown) => void) => void;

/** Deterministic floats in [-1, 1) with `digits` significant digits (7: a client serialising float32). */
function body(shape: number[], digits: number, seed: number): Buffer {
  let x = seed;
  const n = shape.reduce((a, b) => a * b, 1);
  const data: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    data[i] = Number((x / 1073741824 - 1).toPrecision(digits));
  }
  return Buffer.from(JSON.stringify({ id: 'bench', inputs: [{ name: 'input', shape, datatype: 'FP32', data }] }));
}

interface Inputs {
  inputs: { name: string; data: unknown }[];
}

type Way = (buf: Buffer, n: number) => unknown;

const ways: [string, Way][] = [
  ['JSON.parse', (buf, n) => fillTensor('input', FP32, (JSON.parse(buf.toString('utf8')) as Inputs).inputs[0]!.data, n)],
  [
    'fastify',
    (buf, n) => {
      let env: Inputs | undefined;
      fastifyJson({}, buf.toString('utf8'), (err, v) => {
        if (err) throw err;
        env = v as Inputs;
      });
      return fillTensor('input', FP32, env!.inputs[0]!.data, n);
    },
  ],
  [
    'scanner',
    (buf, n) => {
      const data = (scanInferBody(buf) as Inputs).inputs[0]!.data;
      if (!(data instanceof ScannedData)) throw new Error('the fast path did not pack the data');
      return fillFromScanned('input', FP32, data, n);
    },
  ],
];

/** CPU microseconds (user + system of this process) per call over `iterations` calls. */
function round(fn: Way, buf: Buffer, n: number, iterations: number): number {
  let sink = 0;
  const c0 = process.cpuUsage();
  for (let i = 0; i < iterations; i++) if (fn(buf, n) !== undefined) sink++;
  const c = process.cpuUsage(c0);
  if (sink !== iterations) throw new Error('a way returned nothing');
  return (c.user + c.system) / iterations;
}

const imageIterations = Number(process.argv[2] ?? 200);
const rounds = Number(process.argv[3] ?? 15);
const cases = [
  { label: 'image 3x64x64, 7 digits', shape: [1, 3, 64, 64], digits: 7, iterations: imageIterations },
  { label: 'image 3x64x64, 4 digits', shape: [1, 3, 64, 64], digits: 4, iterations: imageIterations },
  { label: 'MLP row 1x30, 7 digits', shape: [1, 30], digits: 7, iterations: imageIterations * 100 },
];

// Rounds of the three ways alternate so that other load on the machine hits all alike; CPU time rather than wall
// time, since on a shared machine wall time mostly measures the other processes. Best (least disturbed) / median.
console.log(`node ${process.version}, load average ${loadavg()[0]!.toFixed(1)}; ${rounds} alternating rounds; CPU us per body to a Float32Array, best / median round`);
console.log(`${'case'.padEnd(24)} | body bytes | ${ways.map(([w]) => `${w} + fill`.padStart(17)).join(' | ')} | scanner speed-up (best, median)`);
for (const c of cases) {
  const buf = body(c.shape, c.digits, 42);
  const n = c.shape.reduce((a, b) => a * b, 1);
  const reference = ways[0]![1](buf, n) as Float32Array;
  for (const [name, way] of ways) {
    const got = way(buf, n) as Float32Array;
    for (let i = 0; i < n; i++) if (!Object.is(got[i], reference[i])) throw new Error(`${name}: element ${i} differs`);
    round(way, buf, n, Math.min(c.iterations, 300));
  }
  const times = ways.map((): number[] => []);
  for (let r = 0; r < rounds; r++) ways.forEach(([, way], i) => times[i]!.push(round(way, buf, n, c.iterations)));
  const stats = times.map((xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return { best: s[0]!, median: s[Math.floor(s.length / 2)]! };
  });
  const scan = stats[2]!;
  const speedUp = stats.slice(0, 2).map((s, i) => `${ways[i]![0]} ${(s.best / scan.best).toFixed(2)}x, ${(s.median / scan.median).toFixed(2)}x`);
  console.log(`${c.label.padEnd(24)} | ${String(buf.length).padStart(10)} | ${stats.map((s) => `${s.best.toFixed(1)} / ${s.median.toFixed(1)}`.padStart(17)).join(' | ')} | ${speedUp.join('; ')}`);
}

// Where the scanner's time goes for the image: the parse alone, and the fill (checks + Float32Array) alone.
const image = body([1, 3, 64, 64], 7, 42);
const scanned = (scanInferBody(image) as Inputs).inputs[0]!.data as ScannedData;
const parts: [string, Way][] = [
  ['JSON.parse(toString) alone', (buf) => JSON.parse(buf.toString('utf8'))],
  ['scanInferBody alone', (buf) => scanInferBody(buf)],
  ['fillFromScanned alone', (_buf, n) => fillFromScanned('input', FP32, scanned, n)],
];
const partTimes = parts.map((): number[] => []);
for (let r = 0; r < rounds; r++) parts.forEach(([, way], i) => partTimes[i]!.push(round(way, image, 12288, imageIterations)));
console.log(`image 3x64x64, 7 digits, parts: ${parts.map(([label], i) => `${label} ${Math.min(...partTimes[i]!).toFixed(1)}`).join('; ')} (best round, CPU us)`);
await app.close();
