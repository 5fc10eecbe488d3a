// Worker thread for bench/ort-limit.ts (plain JS: worker threads do not inherit tsx's loader on Node 20).
// workerData: { modelPath, inputName, rowShape, row (Float32Array of one row), intraOpNumThreads, allowSpinning }.
// Messages in:  { cmd: 'prepare', batch }  -> builds the batch tensor, runs it twice (warm-up), answers 'ready'
//               { cmd: 'run', endAt }      -> runs the prepared batch back-to-back until Date.now() >= endAt,
//                                              answers { rows, runs, ms } (ms from the first run's start to the
//                                              last run's end)
//               { cmd: 'close' }           -> releases the session and exits
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';

const { modelPath, inputName, rowShape, row, intraOpNumThreads, allowSpinning } = workerData;
const session = await ort.InferenceSession.create(modelPath, {
  executionProviders: ['cpu'],
  intraOpNumThreads,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  extra: { session: { intra_op: { allow_spinning: allowSpinning ? '1' : '0' } } },
});

let feeds;
let batch = 0;

parentPort.on('message', async (msg) => {
  try {
    if (msg.cmd === 'prepare') {
      batch = msg.batch;
      const data = new Float32Array(row.length * batch);
      for (let i = 0; i < batch; i++) data.set(row, i * row.length);
      feeds = { [inputName]: new ort.Tensor('float32', data, [batch, ...rowShape]) };
      await session.run(feeds);
      await session.run(feeds);
      parentPort.postMessage({ type: 'ready' });
    } else if (msg.cmd === 'run') {
      let runs = 0;
      const t0 = performance.now();
      do {
        await session.run(feeds);
        runs++;
      } while (Date.now() < msg.endAt);
      parentPort.postMessage({ type: 'done', rows: runs * batch, runs, ms: performance.now() - t0 });
    } else if (msg.cmd === 'close') {
      await session.release();
      process.exit(0);
    }
  } catch (err) {
    parentPort.postMessage({ type: 'error', message: String(err?.stack ?? err) });
  }
});
parentPort.postMessage({ type: 'loaded' });
