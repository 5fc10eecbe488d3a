// The infer routes' body reader: the body in one buffer (of its own when asked), `pad` bytes in, with Fastify's
// answers for bodies that are too large or do not match Content-Length; and what it is for: through the content
// type parsers, a binary-extension body's tensors are views of the body whatever the JSON header's length.
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { alignmentPad, readBody } from '../../src/http/body-reader.js';
import { BinaryReader } from '../../src/http/codec/v2-binary.js';
import { BinaryBody, registerContentTypes } from '../../src/http/content-types.js';
import { datatypeFromV2 } from '../../src/runtime/datatypes.js';

interface Outcome {
  err: (Error & { code?: string; statusCode?: number }) | null;
  body?: Buffer;
}

/** Feeds `chunks` (an Error ends the stream with it) and resolves after the stream is done, with every callback. */
async function read(chunks: (Buffer | Error)[], o: { limit?: number; contentLength?: string; pad?: number; ownBuffer?: boolean; discard?: boolean }): Promise<Outcome> {
  const calls: Outcome[] = [];
  const stream = new PassThrough();
  readBody(stream, { limit: o.limit ?? 1 << 20, contentLength: o.contentLength, pad: o.pad ?? 0, ownBuffer: o.ownBuffer ?? false, discard: o.discard }, (err, body) => calls.push({ err, body }));
  stream.on('error', () => undefined);
  for (const c of chunks) {
    if (c instanceof Error) {
      stream.destroy(c);
      break;
    }
    stream.write(c);
  }
  if (!stream.destroyed) stream.end();
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(calls.length, 1, `done is called exactly once (got ${calls.length})`);
  return calls[0]!;
}

const bytes = (n: number, from = 0) => Buffer.from(Array.from({ length: n }, (_, i) => (from + i) % 251));

describe('readBody', () => {
  it('assembles the chunks in order, with or without Content-Length, pad bytes into a buffer of its own', async () => {
    const parts = [bytes(5), bytes(7, 5), bytes(1, 12)];
    for (const contentLength of ['13', undefined]) {
      for (const pad of [0, 3, 7]) {
        const { err, body } = await read(parts, { contentLength, pad, ownBuffer: true });
        assert.equal(err, null);
        assert.deepEqual([...body!], [...bytes(13)]);
        assert.equal(body!.byteOffset, pad, 'the body starts pad bytes into its buffer');
        assert.equal(body!.buffer.byteLength, pad + 13, 'the buffer is the body\'s alone (not a slab of the shared pool)');
      }
    }
  });

  it('reads a large body in many chunks correctly', async () => {
    const n = (1 << 20) + 17;
    const parts = [bytes(65536), bytes(n - 65536, 65536)];
    const { err, body } = await read(parts, { contentLength: String(n), pad: 5, ownBuffer: true, limit: 4 << 20 });
    assert.equal(err, null);
    assert.equal(body!.length, n);
    assert.ok(body!.equals(bytes(n)));
    assert.equal(body!.byteOffset, 5);
  });

  it('answers 413 for a declared length over the limit, before reading, however many digits it has', async () => {
    for (const contentLength of ['101', '1234567890123456789012']) {
      const { err } = await read([bytes(4)], { contentLength, limit: 100 });
      assert.equal(err?.code, 'FST_ERR_CTP_BODY_TOO_LARGE', `Content-Length ${contentLength}`);
    }
  });

  it('only counts a body read to be refused, with the same limit and length checks', async () => {
    const kept = await read([bytes(10)], { contentLength: '10', discard: true });
    assert.equal(kept.err, null);
    assert.equal(kept.body!.length, 0);
    assert.equal((await read([bytes(60), bytes(60)], { limit: 100, discard: true })).err?.code, 'FST_ERR_CTP_BODY_TOO_LARGE');
    assert.equal((await read([bytes(9)], { contentLength: '10', discard: true })).err?.code, 'FST_ERR_CTP_INVALID_CONTENT_LENGTH');
  });

  it('answers 413 once the bytes received pass the limit, whatever was declared', async () => {
    for (const contentLength of [undefined, '50']) {
      const { err } = await read([bytes(60), bytes(60)], { contentLength, limit: 100 });
      assert.equal(err?.code, 'FST_ERR_CTP_BODY_TOO_LARGE', `Content-Length ${contentLength}`);
    }
  });

  it('answers 400 (invalid content length) when fewer or more bytes arrive than declared', async () => {
    for (const [sent, declared] of [[9, '10'], [11, '10']] as const) {
      const { err } = await read([bytes(sent)], { contentLength: declared });
      assert.equal(err?.code, 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', `${sent} bytes for Content-Length ${declared}`);
    }
  });

  it('passes a stream error on as a 400', async () => {
    const { err } = await read([bytes(4), new Error('aborted')], { contentLength: '10' });
    assert.equal(err?.message, 'aborted');
    assert.equal(err?.statusCode, 400);
  });

  it('pads any header length to an 8-byte boundary', () => {
    for (let h = 0; h < 40; h++) {
      const pad = alignmentPad(h);
      assert.ok(pad >= 0 && pad < 8);
      assert.equal((pad + h) % 8, 0);
    }
  });
});

describe('BinaryReader views', () => {
  const fp32 = datatypeFromV2('FP32')!;
  const fp64 = datatypeFromV2('FP64')!;

  it('reads an aligned tensor as a view of a body it may alias, and copies one that is not aligned', () => {
    // 8 header bytes, then 3 FP32 values (12 bytes), then 1 FP64 value at offset 20 (not 8-aligned).
    const body = Buffer.alloc(8 + 12 + 8);
    Buffer.from(new Float32Array([1, 2, 3]).buffer).copy(body, 8);
    Buffer.from(new Float64Array([4.5]).buffer).copy(body, 20);
    const reader = new BinaryReader(body, 8, true);
    const a = reader.read('a', fp32, 12, 3) as Float32Array;
    const b = reader.read('b', fp64, 8, 1) as Float64Array;
    reader.finish();
    assert.equal(a.buffer, body.buffer, 'the aligned tensor is a view of the body');
    assert.equal(a.byteOffset, body.byteOffset + 8);
    assert.deepEqual([...a], [1, 2, 3]);
    assert.notEqual(b.buffer, body.buffer, 'the unaligned one is a copy');
    assert.deepEqual([...b], [4.5]);
  });

  it('copies every tensor when the body is not known to be the request\'s own', () => {
    const body = Buffer.alloc(8 + 12);
    Buffer.from(new Float32Array([1, 2, 3]).buffer).copy(body, 8);
    const a = new BinaryReader(body, 8).read('a', fp32, 12, 3) as Float32Array;
    assert.notEqual(a.buffer, body.buffer);
    assert.deepEqual([...a], [1, 2, 3]);
  });
});

describe('binary bodies through the content-type parsers', () => {
  let app: FastifyInstance;
  before(async () => {
    app = Fastify();
    registerContentTypes(app, { binaryTensors: true });
    app.post('/t', async (req) => {
      const b = req.body as BinaryBody;
      const reader = new BinaryReader(b.bytes, b.start, true);
      const t = reader.read('x', datatypeFromV2('FP32')!, 16, 4) as Float32Array;
      reader.finish();
      const ownBuffer = b.bytes.buffer.byteLength === b.bytes.byteOffset + b.bytes.length && b.bytes.byteOffset < 8;
      return { ownBuffer, view: t.buffer === b.bytes.buffer, aligned: t.byteOffset % 8, values: [...t], header: b.header };
    });
    await app.ready();
  });
  after(() => app.close());

  it('gives the tensor bytes an aligned place for every JSON header length, so they are views, not copies', async () => {
    for (let spaces = 0; spaces < 8; spaces++) {
      const header = Buffer.from(`{"k":1}${' '.repeat(spaces)}`);
      const payload = Buffer.concat([header, Buffer.from(new Float32Array([1.5, -2, 3, 4]).buffer)]);
      for (const contentType of ['application/octet-stream', 'application/json', 'text/plain']) {
        const r = await app.inject({ method: 'POST', url: '/t', payload: Readable.from([payload.subarray(0, 5), payload.subarray(5)]), headers: { 'content-type': contentType, 'inference-header-content-length': String(header.length), 'content-length': String(payload.length) } });
        assert.equal(r.statusCode, 200, r.body);
        assert.deepEqual(r.json(), { ownBuffer: true, view: true, aligned: 0, values: [1.5, -2, 3, 4], header: { k: 1 } }, `header of ${header.length} bytes, ${contentType}`);
      }
    }
  });
});
