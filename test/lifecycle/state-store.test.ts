import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { CorruptStateError, emptyState, HISTORY_LENGTH, type ModelState, StateStore, STATE_DIR } from '../../src/lifecycle/state-store.js';

let root: string;
let store: StateStore;
beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'ortserve-state-'));
  store = new StateStore(root);
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const table = (v: string) => ({ weights: { [v]: 100 }, shadow: null });
const unload = (version: number) => (s: ModelState): ModelState => ({ ...s, unloadedVersions: [...s.unloadedVersions, version].sort((a, b) => a - b) });

describe('StateStore', () => {
  it('keeps one file per model in <repository>/.ortserve/<model>.json', () => {
    assert.equal(store.dir, path.join(root, STATE_DIR));
    assert.equal(store.fileOf('breast_cancer'), path.join(root, '.ortserve', 'breast_cancer.json'));
  });

  it('reads the empty state (no table, nothing unloaded) when the model has no file', async () => {
    assert.deepEqual(await store.read('m'), emptyState());
    assert.deepEqual(emptyState(), { revision: 0, traffic: null, history: [], unloadedVersions: [], modelUnloaded: false, updatedAt: new Date(0).toISOString(), updatedBy: '' });
  });

  it('writes the change stamped with who and when, and reads it back', async () => {
    const t0 = Date.now();
    const written = await store.update('m', 'alice', (s) => ({ ...s, traffic: table('2'), revision: s.revision + 1 }));
    assert.equal(written.updatedBy, 'alice');
    assert.ok(Date.parse(written.updatedAt) >= t0 - 1000);
    assert.deepEqual(written.traffic, table('2'));
    assert.equal(written.revision, 1);
    assert.deepEqual(await store.read('m'), written);
    assert.deepEqual(JSON.parse(await fs.readFile(store.fileOf('m'), 'utf8')), written);
    assert.deepEqual(await fs.readdir(store.dir), ['m.json'], 'a temporary or lock file was left behind');
  });

  it('keeps the models apart', async () => {
    await store.update('a', 'alice', unload(1));
    await store.update('b', 'bob', unload(2));
    assert.deepEqual((await store.read('a')).unloadedVersions, [1]);
    assert.deepEqual((await store.read('b')).unloadedVersions, [2]);
  });

  it('applies both of two concurrent updates (read-modify-write under the lock)', async () => {
    await Promise.all([store.update('m', 'alice', unload(1)), store.update('m', 'bob', unload(2))]);
    assert.deepEqual((await store.read('m')).unloadedVersions, [1, 2]);
  });

  it('applies every one of many concurrent updates, from two stores on the same folder', async () => {
    const other = new StateStore(root);
    const n = 20;
    await Promise.all(Array.from({ length: n }, (_, i) => (i % 2 ? store : other).update('m', `admin-${i}`, (s) => ({ ...s, revision: s.revision + 1 }))));
    assert.equal((await store.read('m')).revision, n);
  });

  it('writes nothing when the change throws, and the next update still gets the lock', async () => {
    await assert.rejects(
      store.update('m', 'alice', () => {
        throw new Error('stale revision');
      }),
      /stale revision/,
    );
    await assert.rejects(fs.stat(store.fileOf('m')), { code: 'ENOENT' });

    const first = await store.update('m', 'alice', unload(3));
    const text = await fs.readFile(store.fileOf('m'), 'utf8');
    await assert.rejects(
      store.update('m', 'bob', (s) => {
        assert.deepEqual(s.unloadedVersions, [3]);
        throw new Error('refused');
      }),
      /refused/,
    );
    assert.equal(await fs.readFile(store.fileOf('m'), 'utf8'), text);
    assert.deepEqual(await store.read('m'), first);
    assert.deepEqual(await fs.readdir(store.dir), ['m.json']);
  });

  it(`keeps at most ${HISTORY_LENGTH} earlier tables, the most recent ones`, async () => {
    assert.equal(HISTORY_LENGTH, 10);
    for (let i = 1; i <= 15; i++) {
      await store.update('m', 'alice', (s) => ({ ...s, traffic: table(String(i)), revision: i, history: [...s.history, { traffic: s.traffic, revision: s.revision }] }));
    }
    const s = await store.read('m');
    assert.equal(s.history.length, 10);
    assert.deepEqual(
      s.history.map((h) => h.revision),
      [5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
    );
    assert.deepEqual(s.history.at(-1)!.traffic, table('14'));
  });

  it('refuses to read a file that is not JSON or not a state, naming the file', async () => {
    await fs.mkdir(store.dir, { recursive: true });
    await fs.writeFile(store.fileOf('broken'), '{"revision": 3, "traff');
    await assert.rejects(store.read('broken'), (err: Error) => err instanceof CorruptStateError && !(err instanceof SyntaxError) && err.message.startsWith(`${store.fileOf('broken')} is not valid JSON: `));
    await fs.writeFile(store.fileOf('wrong'), JSON.stringify({ revision: -1, traffic: 'all of it' }));
    await assert.rejects(store.read('wrong'), (err: Error) => err instanceof CorruptStateError && err.message === `${store.fileOf('wrong')} is not a valid state file`);
  });

  it('replaces a corrupt file on update, starting from the empty state and keeping the corrupt bytes aside', async () => {
    await fs.mkdir(store.dir, { recursive: true });
    await fs.writeFile(store.fileOf('m'), 'garbage');
    let seen: ModelState | undefined;
    await store.update('m', 'alice', (s) => {
      seen = s;
      return { ...s, traffic: table('1'), revision: s.revision + 1 };
    });
    assert.deepEqual(seen, emptyState());
    const s = await store.read('m');
    assert.deepEqual(s.traffic, table('1'));
    assert.equal(s.revision, 1);
    assert.equal(await fs.readFile(`${store.fileOf('m')}.corrupt`, 'utf8'), 'garbage');
  });
});
