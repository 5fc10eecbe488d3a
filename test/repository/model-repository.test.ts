import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { isValidModelName, ModelRepository } from '../../src/repository/model-repository.js';

const FIXTURE_MODELS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/models');

/** Writes `files` (relative path -> content) under `root`, creating folders as needed. */
async function layout(root: string, files: Record<string, string | Uint8Array>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(root, rel);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, content);
  }
}

describe('ModelRepository', () => {
  let root: string;
  let modelBytes: Buffer;

  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'ortserve-repo-'));
    modelBytes = await fs.readFile(path.join(FIXTURE_MODELS, 'dtype_fp32/1/model.onnx'));
    await layout(root, {
      'README.md': '# models',
      'train.py': 'print(1)',
      'alpha/1/model.onnx': modelBytes,
      'alpha/2/model.onnx': 'not really a model, but the repository does not look inside',
      'alpha/10/model.onnx': modelBytes,
      'alpha/README.md': 'about alpha',
      'alpha/latest/model.onnx': modelBytes,
      'alpha/3/notes.txt': 'a version folder without model.onnx',
      'alpha/0/model.onnx': modelBytes,
      'alpha/07/model.onnx': modelBytes,
      'alpha/4/model.onnx/inner': 'model.onnx is a folder here',
      'alpha/model.onnx': modelBytes,
      'beta/1/model.onnx': modelBytes,
      'beta/config.json': JSON.stringify({ max_batch_size: 8, version_policy: { latest: { num_versions: 1 } } }),
      'broken/1/model.onnx': modelBytes,
      'broken/config.json': '{"max_batch_size": "eight", "typo": 1}',
      'notjson/1/model.onnx': modelBytes,
      'notjson/config.json': '{ oops',
      'empty/readme.txt': 'no versions yet',
      '.hidden/1/model.onnx': modelBytes,
      '_private/1/model.onnx': modelBytes,
      'bad name/1/model.onnx': modelBytes,
      '-dash/1/model.onnx': modelBytes,
    });
    await fs.mkdir(path.join(root, 'dirconfig/1'), { recursive: true });
    await fs.writeFile(path.join(root, 'dirconfig/1/model.onnx'), modelBytes);
    await fs.mkdir(path.join(root, 'dirconfig/config.json'));
  });

  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('lists valid model folders sorted by name and ignores files, hidden folders and invalid names', async () => {
    const entries = await new ModelRepository(root).scan();
    assert.deepEqual(entries.map((e) => e.name), ['alpha', 'beta', 'broken', 'dirconfig', 'empty', 'notjson']);
  });

  it('finds <model>/<version>/model.onnx, sorted numerically, and nothing else', async () => {
    const alpha = await new ModelRepository(root).readModel('alpha');
    assert.ok(alpha);
    assert.equal(alpha.dir, path.join(root, 'alpha'));
    assert.deepEqual(alpha.versions, [
      { version: 1, file: path.join(root, 'alpha/1/model.onnx') },
      { version: 2, file: path.join(root, 'alpha/2/model.onnx') },
      { version: 10, file: path.join(root, 'alpha/10/model.onnx') },
    ]);
    assert.deepEqual(alpha.config, {});
    assert.equal(alpha.configError, undefined);
  });

  it('keeps a model folder with no versions, with an empty version list', async () => {
    const empty = await new ModelRepository(root).readModel('empty');
    assert.ok(empty);
    assert.deepEqual(empty.versions, []);
  });

  it('reads a valid config.json', async () => {
    const beta = await new ModelRepository(root).readModel('beta');
    assert.ok(beta);
    assert.deepEqual(beta.config, { max_batch_size: 8, version_policy: { latest: { num_versions: 1 } } });
    assert.equal(beta.configError, undefined);
    assert.deepEqual(beta.versions.map((v) => v.version), [1]);
  });

  it('reports a broken config.json on that model only and still lists the others', async () => {
    const entries = await new ModelRepository(root).scan();
    const byName = new Map(entries.map((e) => [e.name, e]));
    const broken = byName.get('broken')!;
    assert.ok(broken.configError);
    assert.match(broken.configError, /config\.json/);
    assert.match(broken.configError, /max_batch_size/);
    assert.match(broken.configError, /typo/);
    assert.deepEqual(broken.config, {});
    assert.deepEqual(broken.versions.map((v) => v.version), [1]);
    assert.match(byName.get('notjson')!.configError ?? '', /not valid JSON/);
    assert.match(byName.get('dirconfig')!.configError ?? '', /config\.json/);
    for (const fine of ['alpha', 'beta', 'empty']) assert.equal(byName.get(fine)!.configError, undefined, fine);
  });

  it('returns undefined for a model that does not exist or has an invalid name', async () => {
    const repo = new ModelRepository(root);
    assert.equal(await repo.readModel('nope'), undefined);
    assert.equal(await repo.readModel('../alpha'), undefined);
    assert.equal(await repo.readModel('.hidden'), undefined);
    assert.equal(await repo.readModel('README.md'), undefined);
  });

  it('reads a model file with the sha256 of its bytes', async () => {
    const repo = new ModelRepository(root);
    const file = path.join(root, 'alpha/1/model.onnx');
    const { bytes, sha256 } = await repo.readModelFile(file);
    const expected = createHash('sha256').update(await fs.readFile(file)).digest('hex');
    assert.equal(sha256, expected);
    assert.match(sha256, /^[0-9a-f]{64}$/);
    assert.ok(bytes instanceof Uint8Array);
    assert.deepEqual(Buffer.from(bytes), modelBytes);
    const other = await repo.readModelFile(path.join(root, 'alpha/2/model.onnx'));
    assert.notEqual(other.sha256, sha256);
    assert.equal(other.sha256, createHash('sha256').update('not really a model, but the repository does not look inside').digest('hex'));
  });

  it('rejects when the model file cannot be read', async () => {
    await assert.rejects(new ModelRepository(root).readModelFile(path.join(root, 'alpha/99/model.onnx')), { code: 'ENOENT' });
  });

  it('throws from scan only when the root itself is unreadable', async () => {
    await assert.rejects(new ModelRepository(path.join(root, 'missing-root')).scan(), { code: 'ENOENT' });
  });

  it(
    'follows a symlinked model folder and a symlinked version folder',
    {},
    async () => {
      const linked = await fs.mkdtemp(path.join(os.tmpdir(), 'ortserve-repo-links-'));
      try {
        await layout(linked, { 'store/gamma/1/model.onnx': modelBytes, 'store/v2/model.onnx': modelBytes });
        await fs.mkdir(path.join(linked, 'root'));
        await fs.symlink(path.join(linked, 'store/gamma'), path.join(linked, 'root/gamma'), 'dir');
        await fs.symlink(path.join(linked, 'store/v2'), path.join(linked, 'store/gamma/2'), 'dir');
        const entries = await new ModelRepository(path.join(linked, 'root')).scan();
        assert.deepEqual(entries.map((e) => e.name), ['gamma']);
        assert.deepEqual(entries[0]!.versions.map((v) => v.version), [1, 2]);
      } finally {
        await fs.rm(linked, { recursive: true, force: true });
      }
    },
  );

  it('finds the fixture models in the repository layout', async () => {
    const entries = await new ModelRepository(FIXTURE_MODELS).scan();
    const names = entries.map((e) => e.name);
    for (const n of ['dtype_fp32', 'multi_io', 'gather_fail', 'unknown_batch']) assert.ok(names.includes(n), n);
    for (const e of entries) {
      assert.deepEqual(e.versions.map((v) => v.version), [1], e.name);
      assert.equal(e.configError, undefined, e.name);
    }
  });
});

describe('isValidModelName', () => {
  it('accepts letters, digits, dot, dash and underscore after an alphanumeric first character', () => {
    for (const n of ['a', 'digits', 'breast_cancer', 'm-1.2', 'A9', 'x'.repeat(128)]) assert.equal(isValidModelName(n), true, n);
  });

  it('rejects hidden, path-like, empty, spaced and overlong names', () => {
    for (const n of ['', '.git', '..', '../x', 'a/b', 'a b', '-x', '_x', 'x'.repeat(129), 'é']) assert.equal(isValidModelName(n), false, n);
  });
});
