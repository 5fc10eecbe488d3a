// Worker thread entry: owns onnxruntime sessions, one per loaded version key, and runs one batch at a time
// (session.run is synchronous on this thread). Never throws out of a message handler: every failure is
// answered as a message so the pool can fail exactly the requests of that batch.
import { parentPort } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import type { SessionOptions } from '../config/model-config.js';
import { allocate, datatypeFromOrt, elementCount } from './datatypes.js';
import type { FromWorker, TensorMetadata, ToWorker, WireTensor } from './protocol.js';

const port = parentPort;
if (!port) throw new Error('session-worker must run in a worker thread');

const sessions = new Map<string, ort.InferenceSession>();

function post(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

function toOrtOptions(o: SessionOptions): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ['cpu'],
    intraOpNumThreads: o.intra_op_threads ?? 1,
    interOpNumThreads: o.inter_op_threads ?? 1,
    graphOptimizationLevel: o.graph_optimization_level ?? 'all',
    executionMode: o.execution_mode ?? 'sequential',
    extra: { session: { intra_op: { allow_spinning: o.allow_spinning === true ? '1' : '0' } } },
  };
}

function describe(values: readonly ort.InferenceSession.ValueMetadata[]): TensorMetadata[] {
  return values.map((v) => {
    if (!v.isTensor) return { name: v.name, type: 'non-tensor', isTensor: false, shape: [], dimNames: [] };
    const shape = v.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1));
    const dimNames = v.shape.map((d) => (typeof d === 'string' && d !== '' ? d : undefined));
    return { name: v.name, type: v.type, isTensor: true, shape, dimNames };
  });
}

/** Zero inputs with batch and every variable dimension set to 1. */
function zeroFeeds(inputs: TensorMetadata[]): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of inputs) {
    const info = datatypeFromOrt(input.type);
    if (!info) throw new Error(`input '${input.name}' has unsupported type ${input.type}`);
    const dims = input.shape.map((d) => (d < 0 ? 1 : d));
    feeds[input.name] = new ort.Tensor(info.ort, allocate(info, elementCount(dims)) as ort.Tensor.DataType, dims);
  }
  return feeds;
}

async function load(key: string, bytes: Uint8Array, options: SessionOptions, warmup: boolean): Promise<void> {
  let session: ort.InferenceSession | undefined;
  try {
    session = await ort.InferenceSession.create(bytes, toOrtOptions(options));
    const inputs = describe(session.inputMetadata);
    const outputs = describe(session.outputMetadata);
    if (warmup) {
      try {
        await session.run(zeroFeeds(inputs));
      } catch (err) {
        throw new Error(`warm-up run on zero inputs failed: ${(err as Error).message}`);
      }
    }
    const previous = sessions.get(key);
    sessions.set(key, session);
    if (previous) await previous.release();
    post({ type: 'loaded', key, inputs, outputs });
  } catch (err) {
    if (session) await session.release().catch(() => undefined);
    post({ type: 'load-failed', key, message: (err as Error).message });
  }
}

async function run(id: number, key: string, feeds: WireTensor[], outputNames: string[]): Promise<void> {
  const session = sessions.get(key);
  if (!session) {
    post({ type: 'run-failed', id, message: `no session ${key} in this worker` });
    return;
  }
  try {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const f of feeds) ortFeeds[f.name] = new ort.Tensor(f.type, f.data as ort.Tensor.DataType, f.dims);
    // session.run computes synchronously inside a setImmediate it schedules without awaiting anything first, so an
    // immediate scheduled just before it fires just before the model starts. Timing from the message's arrival
    // instead would count whatever ran on this thread in between: with two runs per worker, the run queued ahead
    // (counted twice), or a session being created for a new version.
    const arrived = process.hrtime.bigint();
    let began = 0n;
    const stamp = setImmediate(() => {
      began = process.hrtime.bigint();
    });
    let result: ort.InferenceSession.OnnxValueMapType;
    let computeNs: number;
    try {
      result = await session.run(ortFeeds, outputNames);
    } finally {
      clearImmediate(stamp);
      computeNs = Number(process.hrtime.bigint() - (began === 0n ? arrived : began));
    }
    const outputs: WireTensor[] = [];
    const transfer: ArrayBuffer[] = [];
    for (const name of outputNames) {
      const t = result[name];
      if (!t) continue;
      const data = t.data as WireTensor['data'];
      outputs.push({ name, type: t.type as WireTensor['type'], dims: [...t.dims], data });
      if (!Array.isArray(data) && data.buffer instanceof ArrayBuffer && !transfer.includes(data.buffer)) transfer.push(data.buffer);
    }
    post({ type: 'result', id, outputs, computeNs }, transfer);
  } catch (err) {
    post({ type: 'run-failed', id, message: (err as Error).message });
  }
}

port.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'load':
      void load(msg.key, msg.bytes, msg.options, msg.warmup);
      break;
    case 'unload': {
      const s = sessions.get(msg.key);
      sessions.delete(msg.key);
      if (s) void s.release().catch(() => undefined);
      break;
    }
    case 'run':
      void run(msg.id, msg.key, msg.feeds, msg.outputNames);
      break;
    case 'exit':
      // Between runs by construction (session.run is synchronous on this thread); see stopThread in the pool.
      process.exit(0);
      break;
    case 'heap':
      post({ type: 'heap', id: msg.id, usedBytes: process.memoryUsage().heapUsed });
      break;
  }
});
