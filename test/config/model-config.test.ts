import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ModelConfigError, parseModelConfig, selectVersions, type ModelConfig } from '../../src/config/model-config.js';

function problemsOf(value: unknown): string[] {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  try {
    parseModelConfig(text, 'digits/config.json');
  } catch (err) {
    assert.ok(err instanceof ModelConfigError, `expected a ModelConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected parseModelConfig to throw');
}

describe('parseModelConfig', () => {
  it('parses a config that uses every key', () => {
    const full: ModelConfig = {
      task: 'classification',
      labels: { probabilities: ['benign', 'malignant'] },
      feature_names: { input: ['a', 'b', 'c'] },
      max_batch_size: 32,
      max_queue_delay_ms: 2.5,
      preferred_batch_sizes: [8, 16],
      max_queue_size: 100,
      instance_count: 2,
      session: {
        intra_op_threads: 1,
        inter_op_threads: 1,
        graph_optimization_level: 'extended',
        allow_spinning: false,
        execution_mode: 'sequential',
      },
      version_policy: { latest: { num_versions: 2 } },
    };
    assert.deepEqual(parseModelConfig(JSON.stringify(full), 'config.json'), full);
  });

  it('parses an empty object as a config with no settings', () => {
    assert.deepEqual(parseModelConfig('{}', 'config.json'), {});
  });

  it('accepts each version policy shape', () => {
    for (const version_policy of [{ all: {} }, { latest: { num_versions: 1 } }, { specific: { versions: [1, 3] } }]) {
      assert.deepEqual(parseModelConfig(JSON.stringify({ version_policy }), 'config.json').version_policy, version_policy);
    }
  });

  it('reports an unknown top-level key (a typo) instead of ignoring it', () => {
    const problems = problemsOf({ max_batch_sise: 8 });
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^\(root\): .*max_batch_sise/);
  });

  it('reports an unknown nested key with the path of its object', () => {
    const problems = problemsOf({ session: { intra_op_thread: 2 } });
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^session: .*intra_op_thread/);
  });

  it('reports a wrong type with its path', () => {
    const problems = problemsOf({ max_batch_size: '8' });
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^max_batch_size: /);
  });

  it('lists every problem at once, each with its path', () => {
    const problems = problemsOf({
      max_batch_size: 'x',
      sesion: {},
      session: { intra_op_threads: 0, graph_optimization_level: 'max' },
      labels: { probabilities: [] },
      preferred_batch_sizes: [0],
      version_policy: { latest: { num_versions: 0 } },
      task: 'ranking',
    });
    const paths = problems.map((p) => p.slice(0, p.indexOf(':')));
    for (const expected of [
      'max_batch_size',
      '(root)',
      'session.intra_op_threads',
      'session.graph_optimization_level',
      'labels.probabilities',
      'preferred_batch_sizes.0',
      'version_policy.latest.num_versions',
      'task',
    ]) {
      assert.ok(paths.includes(expected), `${expected} missing from:\n${problems.join('\n')}`);
    }
    assert.ok(problems.some((p) => p.includes('sesion')));
  });

  it('names the file and every problem in the error message', () => {
    assert.throws(
      () => parseModelConfig(JSON.stringify({ max_batch_size: -1, instance_count: 0 }), 'digits/config.json'),
      (err: unknown) => {
        assert.ok(err instanceof ModelConfigError);
        assert.match(err.message, /^digits\/config\.json is invalid: /);
        assert.match(err.message, /max_batch_size: /);
        assert.match(err.message, /instance_count: /);
        return true;
      },
    );
  });

  it('rejects values outside their ranges', () => {
    const problems = problemsOf({ max_queue_delay_ms: 20_000, instance_count: 65, max_batch_size: 1.5, max_queue_size: 0 });
    assert.deepEqual(problems.map((p) => p.split(':')[0]).sort(), ['instance_count', 'max_batch_size', 'max_queue_delay_ms', 'max_queue_size']);
  });

  it('says clearly that text which is not JSON is not valid JSON', () => {
    const problems = problemsOf('{"max_batch_size": 8,');
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^not valid JSON \(/);
    assert.throws(() => parseModelConfig('not json', 'm/config.json'), /m\/config\.json is invalid: not valid JSON/);
  });

  it('rejects JSON that is not an object', () => {
    for (const text of ['[]', '42', 'null', '"x"']) {
      const problems = problemsOf(text);
      assert.equal(problems.length, 1, text);
      assert.match(problems[0]!, /^\(root\): /, text);
    }
  });

  it('rejects a version policy that is none of all, latest or specific', () => {
    assert.ok(problemsOf({ version_policy: { newest: {} } }).length >= 1);
    assert.ok(problemsOf({ version_policy: { specific: { versions: [] } } }).length >= 1);
    assert.ok(problemsOf({ version_policy: { all: {}, latest: { num_versions: 1 } } }).length >= 1);
  });
});

describe('selectVersions', () => {
  const onDisk = [3, 1, 10, 2];

  it('loads every version, sorted, without a policy', () => {
    assert.deepEqual(selectVersions(undefined, onDisk), [1, 2, 3, 10]);
  });

  it('loads every version with the all policy', () => {
    assert.deepEqual(selectVersions({ all: {} }, onDisk), [1, 2, 3, 10]);
  });

  it('loads the highest versions, compared as numbers, with the latest policy', () => {
    assert.deepEqual(selectVersions({ latest: { num_versions: 1 } }, onDisk), [10]);
    assert.deepEqual(selectVersions({ latest: { num_versions: 2 } }, onDisk), [3, 10]);
  });

  it('loads everything when latest asks for more versions than exist', () => {
    assert.deepEqual(selectVersions({ latest: { num_versions: 9 } }, onDisk), [1, 2, 3, 10]);
  });

  it('loads only the listed versions that exist with the specific policy', () => {
    assert.deepEqual(selectVersions({ specific: { versions: [10, 2, 7] } }, onDisk), [2, 10]);
    assert.deepEqual(selectVersions({ specific: { versions: [7] } }, onDisk), []);
  });

  it('does not change the array it is given', () => {
    const given = [3, 1, 2];
    selectVersions({ latest: { num_versions: 1 } }, given);
    assert.deepEqual(given, [3, 1, 2]);
  });

  it('selects nothing when nothing is on disk', () => {
    assert.deepEqual(selectVersions(undefined, []), []);
    assert.deepEqual(selectVersions({ latest: { num_versions: 2 } }, []), []);
  });
});
