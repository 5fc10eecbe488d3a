// Verify the exported bundled models (see scripts/train_models.py) in onnxruntime-node.
//
//   node scripts/verify_models.mjs /tmp/ortserve-verify-XXXX.json
//
// The JSON (written by train_models.py) is
//   { "tolerance": 1e-5,
//     "models": [ { "model", "version", "path",
//                   "input":  { "name", "dims", "data": [flat float32 values] },
//                   "output": { "name", "dims", "data": [torch's flat outputs] },
//                   "labels": [test labels], "accuracy": torch's test accuracy } ] }
// For each model: load it, print inputMetadata / outputMetadata, run the whole
// test split in one batch, assert max |onnxruntime - torch| < tolerance and the
// same test accuracy. Exits 1 on failure.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';

async function main() {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node scripts/verify_models.mjs <verify.json>');
    process.exit(2);
  }
  const spec = JSON.parse(readFileSync(file, 'utf8'));
  const tol = spec.tolerance ?? 1e-5;
  for (const m of spec.models) {
    const s = await ort.InferenceSession.create(m.path);
    console.log(`\n== ${m.model}/${m.version} (${m.path})`);
    console.log(`inputMetadata:  ${JSON.stringify(s.inputMetadata)}`);
    console.log(`outputMetadata: ${JSON.stringify(s.outputMetadata)}`);
    assert.deepEqual(s.inputNames, [m.input.name]);
    assert.deepEqual(s.outputNames, [m.output.name]);

    const x = new ort.Tensor('float32', Float32Array.from(m.input.data), m.input.dims);
    const out = (await s.run({ [m.input.name]: x }))[m.output.name];
    assert.equal(out.type, 'float32');
    assert.deepEqual(out.dims, m.output.dims);
    const want = Float32Array.from(m.output.data);
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out.data[i] - want[i]));

    const [n, k] = out.dims;
    let correct = 0;
    for (let r = 0; r < n; r++) {
      let best = 0;
      for (let c = 1; c < k; c++) if (out.data[r * k + c] > out.data[r * k + best]) best = c;
      if (best === m.labels[r]) correct++;
    }
    const acc = correct / n;

    // single-row run too (batch dim 1)
    const one = new ort.Tensor('float32', x.data.slice(0, x.size / n), [1, ...m.input.dims.slice(1)]);
    const out1 = (await s.run({ [m.input.name]: one }))[m.output.name];
    let maxDiff1 = 0;
    for (let i = 0; i < k; i++) maxDiff1 = Math.max(maxDiff1, Math.abs(out1.data[i] - want[i]));

    console.log(
      `${m.model}/${m.version}: ${n} test rows, max abs diff vs torch ${maxDiff.toExponential(3)} ` +
        `(batch of 1: ${maxDiff1.toExponential(3)}), onnxruntime test accuracy ${acc.toFixed(4)} ` +
        `(torch ${m.accuracy.toFixed(4)})`,
    );
    assert.ok(maxDiff < tol, `${m.model}/${m.version}: max abs diff ${maxDiff} >= ${tol}`);
    assert.ok(maxDiff1 < tol, `${m.model}/${m.version}: batch-1 max abs diff ${maxDiff1} >= ${tol}`);
    assert.ok(Math.abs(acc - m.accuracy) < 1e-9, `${m.model}/${m.version}: accuracy ${acc} != torch ${m.accuracy}`);
    await s.release();
  }
  console.log(`\nall ${spec.models.length} models match torch within ${tol}`);
}

main().catch((e) => {
  console.error('FAILED:', e);
  process.exit(1);
});
