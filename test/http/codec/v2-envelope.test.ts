// The V2 envelope's direct check (isWellFormedEnvelope) against the zod schema it stands in front of: it may only
// accept what the schema accepts, and it must accept the ordinary request, or the fast path is never taken.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { inferRequestSchema, isWellFormedEnvelope, parseEnvelope } from '../../../src/http/codec/v2-request.js';
import { OrtserveError } from '../../../src/errors.js';

const SEED = 20261128;

// Values near every boundary of the schema: lengths 0/1/256/257, integers at 0 and 2^31, non-integers, wrong types.
const edgyString = fc.oneof(
  fc.constantFrom('', 'x', 'a'.repeat(16), 'a'.repeat(17), 'a'.repeat(256), 'a'.repeat(257), 'FP32', 'input'),
  fc.string({ maxLength: 20 }),
);
const anything = fc.oneof(fc.constant(undefined), fc.constant(null), fc.integer(), fc.double(), fc.boolean(), edgyString, fc.constant([]), fc.constant({}));
// Each member is usually valid and sometimes not, so that many bodies are well formed and the rest differ from
// a well-formed one in one or two places (where a too-lenient direct check would show).
const mostly = <T,>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<unknown>) => fc.oneof({ arbitrary: valid, weight: 6 }, { arbitrary: invalid, weight: 1 });
const validName = fc.oneof(fc.constantFrom('x', 'input', 'a'.repeat(256)), fc.string({ minLength: 1, maxLength: 10 }));
const dim = mostly(fc.oneof(fc.constantFrom(0, 1, 64, 2 ** 31), fc.integer({ min: 0, max: 100 })), fc.constantFrom(2 ** 31 + 1, -1, 1.5, '1', null));
const shape = mostly(fc.array(dim, { maxLength: 16 }), fc.oneof(fc.array(dim, { minLength: 17, maxLength: 18 }), anything));
const parameters = mostly(fc.oneof(fc.constant(undefined), fc.dictionary(fc.string({ maxLength: 5 }), anything, { maxKeys: 3 })), anything);
const input = mostly(
  fc.record(
    { name: mostly(validName, edgyString), shape, datatype: mostly(fc.constantFrom('FP32', 'INT64', 'a'.repeat(16)), edgyString), parameters, data: anything },
    { requiredKeys: ['name', 'shape', 'datatype'] },
  ),
  fc.oneof(anything, fc.record({ name: edgyString, shape, datatype: edgyString }, { requiredKeys: [] })),
);
const output = mostly(fc.record({ name: mostly(validName, edgyString), parameters }, { requiredKeys: ['name'] }), anything);
const envelope = fc.record(
  {
    id: mostly(fc.oneof(fc.constant(undefined), fc.string({ maxLength: 12 }), fc.constant('i'.repeat(256))), fc.oneof(fc.constant('i'.repeat(257)), anything)),
    parameters,
    inputs: mostly(fc.array(input, { minLength: 1, maxLength: 4 }), fc.oneof(fc.constant([]), anything)),
    outputs: mostly(fc.oneof(fc.constant(undefined), fc.array(output, { maxLength: 3 })), anything),
  },
  { requiredKeys: ['inputs'] },
);

/** JSON's view of a generated value: what a parser could actually hand to parseEnvelope (no undefined members). */
const asJson = (v: unknown): Record<string, unknown> => JSON.parse(JSON.stringify(v) ?? 'null') as Record<string, unknown>;

describe('V2 envelope: the direct check and the schema', () => {
  it('accepts only envelopes the schema accepts (generated and boundary bodies)', () => {
    let fastAccepted = 0;
    fc.assert(
      fc.property(envelope, (raw) => {
        const body = asJson(raw);
        if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
        if (!isWellFormedEnvelope(body)) return;
        fastAccepted++;
        const parsed = inferRequestSchema.safeParse(body);
        assert.ok(parsed.success, `fast path accepted what the schema refuses: ${JSON.stringify(body).slice(0, 300)}`);
      }),
      { seed: SEED, numRuns: 5000 },
    );
    assert.ok(fastAccepted > 200, `only ${fastAccepted} generated bodies were well formed: the generator no longer exercises the fast path`);
  });

  it('takes the fast path for ordinary requests, with every optional member present', () => {
    const bodies = [
      { inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: [1, 2] }] },
      {
        id: 'r-1',
        parameters: { timeout_ms: 50 },
        inputs: [{ name: 'image', shape: [2, 1, 8, 8], datatype: 'FP32', parameters: { binary_data_size: 512 } }],
        outputs: [{ name: 'logits', parameters: { binary_data: true } }],
      },
    ];
    for (const b of bodies) {
      assert.equal(isWellFormedEnvelope(b), true, JSON.stringify(b));
      assert.equal(parseEnvelope(b), b);
    }
  });

  it('still words the 400 through the schema when the envelope is wrong', () => {
    const cases: [unknown, RegExp][] = [
      [{ inputs: [] }, /inputs/],
      [{ inputs: [{ name: 'x', shape: [1.5], datatype: 'FP32' }] }, /shape/],
      [{ inputs: [{ name: '', shape: [1], datatype: 'FP32' }] }, /name/],
      [{ id: 'x'.repeat(257), inputs: [{ name: 'x', shape: [1], datatype: 'FP32' }] }, /id/],
      [{ inputs: [{ name: 'x', shape: [1], datatype: 'FP32' }], outputs: [{ name: 3 }] }, /outputs/],
    ];
    for (const [body, message] of cases) {
      assert.equal(isWellFormedEnvelope(body as Record<string, unknown>), false);
      assert.throws(
        () => parseEnvelope(body),
        (err: unknown) => err instanceof OrtserveError && err.statusCode === 400 && message.test(err.message),
      );
    }
  });
});
