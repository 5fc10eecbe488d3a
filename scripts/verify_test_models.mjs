// Verify the hand-built test fixtures (see scripts/make_test_models.py):
// every model loads in onnxruntime-node and gives the expected outputs.
//
//   node scripts/verify_test_models.mjs [test/fixtures/models]
//
// Prints each session's inputMetadata / outputMetadata as JSON. Exits 1 on the
// first failed check.
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = path.resolve(process.argv[2] ?? path.join(here, '..', 'test', 'fixtures', 'models'));

async function open(name) {
  const file = path.join(dir, name, '1', 'model.onnx');
  const s = await ort.InferenceSession.create(file);
  console.log(`\n== ${name}`);
  console.log(`inputMetadata:  ${JSON.stringify(s.inputMetadata)}`);
  console.log(`outputMetadata: ${JSON.stringify(s.outputMetadata)}`);
  return s;
}

const arr = (t) => Array.from(t.data, (v) => (typeof v === 'bigint' ? Number(v) : v));

async function main() {
  // ---- x + x per dtype
  const dtypes = [
    ['fp32', 'float32', Float32Array, [1.5, -2, 3, 4, 5.25, -6]],
    ['fp64', 'float64', Float64Array, [1.5, -2, 3, 4, 5.25, -6]],
    ['int32', 'int32', Int32Array, [1, -2, 3, 4, 5, -6]],
    ['int64', 'int64', BigInt64Array, [1n, -2n, 3n, 4n, 5n, -6n]],
    ['uint8', 'uint8', Uint8Array, [1, 2, 3, 4, 5, 100]],
    ['int8', 'int8', Int8Array, [1, -2, 3, 4, 5, -60]],
  ];
  for (const [suffix, type, Ctor, vals] of dtypes) {
    const s = await open(`dtype_${suffix}`);
    for (const batch of [1, 2]) {
      const n = batch * 3;
      const x = new ort.Tensor(type, Ctor.from(vals.slice(0, n)), [batch, 3]);
      const { y } = await s.run({ x });
      assert.equal(y.type, type);
      assert.deepEqual(y.dims, [batch, 3]);
      const want = vals.slice(0, n).map((v) => (typeof v === 'bigint' ? Number(v * 2n) : v * 2));
      assert.deepEqual(arr(y), want);
      assert.ok(y.data instanceof Ctor, `${suffix}: output data is ${y.data.constructor.name}`);
    }
    console.log(`ok: y = x + x, output type ${type}, data ${Ctor.name}, batch 1 and 2`);
    await s.release();
  }

  // ---- bool
  {
    const s = await open('dtype_bool');
    const x = new ort.Tensor('bool', Uint8Array.from([1, 0, 1, 0, 0, 1]), [2, 3]);
    const { y } = await s.run({ x });
    assert.equal(y.type, 'bool');
    assert.deepEqual(y.dims, [2, 3]);
    assert.deepEqual(arr(y).map(Boolean), [false, true, false, true, true, false]);
    console.log(`ok: y = Not(x), output type bool, data ${y.data.constructor.name}`);
    await s.release();
  }

  // ---- fixed shape
  {
    const s = await open('fixed_shape');
    const x = new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
    const { y } = await s.run({ x });
    assert.deepEqual(y.dims, [2, 3]);
    assert.deepEqual(arr(y), [2, 4, 6, 8, 10, 12]);
    let err = null;
    try {
      await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, 2, 3]), [1, 3]) });
    } catch (e) {
      err = e;
    }
    assert.ok(err, 'fixed_shape: a [1,3] input should be rejected by onnxruntime');
    console.log(`ok: y = 2x for [2,3]; [1,3] rejected: ${String(err.message).split('\n')[0]}`);
    await s.release();
  }

  // ---- multi_io
  {
    const s = await open('multi_io');
    const a = new ort.Tensor('float32', Float32Array.from([1, 9, 2, 3, 7, 1, 1, 8]), [2, 4]);
    const b = new ort.Tensor('float32', Float32Array.from([1, 1, 1, 1, 2, 2, 2, 2]), [2, 4]);
    const out = await s.run({ a, b });
    assert.deepEqual(out.sum.dims, [2, 4]);
    assert.deepEqual(arr(out.sum), [2, 10, 3, 4, 9, 3, 3, 10]);
    assert.equal(out.argmax.type, 'int64');
    assert.deepEqual(out.argmax.dims, [2]);
    assert.deepEqual(arr(out.argmax), [1, 3]);
    // requesting only one output
    const only = await s.run({ a, b }, ['argmax']);
    assert.deepEqual(Object.keys(only), ['argmax']);
    console.log('ok: sum = a + b, argmax = ArgMax(a, axis 1) (int64, dims [batch]); fetch of a single output works');
    await s.release();
  }

  // ---- unknown batch
  {
    const s = await open('unknown_batch');
    for (const batch of [1, 3]) {
      const x = new ort.Tensor('float32', Float32Array.from({ length: batch * 2 }, (_, i) => i), [batch, 2]);
      const { y } = await s.run({ x });
      assert.deepEqual(y.dims, [batch, 2]);
      assert.deepEqual(arr(y), arr(x));
    }
    console.log('ok: y = Identity(x) for batch 1 and 3');
    await s.release();
  }

  // ---- gather_fail
  {
    const s = await open('gather_fail');
    const data = new ort.Tensor('float32', Float32Array.from([10, 11, 12, 13, 20, 21, 22, 23]), [2, 4]);
    const good = new ort.Tensor('int64', BigInt64Array.from([3n, 0n]), [2, 1]);
    const { y } = await s.run({ data, idx: good });
    assert.deepEqual(y.dims, [2, 1]);
    assert.deepEqual(arr(y), [13, 20]);
    console.log('ok: in-range idx [3, 0] -> [13, 20]');
    const bad = new ort.Tensor('int64', BigInt64Array.from([4n, 0n]), [2, 1]);
    let err = null;
    try {
      await s.run({ data, idx: bad });
    } catch (e) {
      err = e;
    }
    assert.ok(err, 'gather_fail: out-of-range index should make session.run throw');
    console.log(`ok: out-of-range idx 4 throws from session.run: ${err.constructor.name}: ${String(err.message).split('\n')[0]}`);
    // the session is still usable after a failed run
    const again = await s.run({ data, idx: good });
    assert.deepEqual(arr(again.y), [13, 20]);
    console.log('ok: same session still works after the failed run');
    await s.release();
  }

  console.log('\nall test fixtures verified');
}

main().catch((e) => {
  console.error('FAILED:', e);
  process.exit(1);
});
