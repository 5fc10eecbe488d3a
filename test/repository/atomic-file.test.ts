import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { removeStaleTemps, renameDurable, TEMP_PREFIX, tempPathFor, withFileLock, writeFileAtomic } from '../../src/repository/atomic-file.js';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ortserve-atomic-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const temps = async (d: string) => (await fs.readdir(d)).filter((n) => n.startsWith(TEMP_PREFIX));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('writeFileAtomic', () => {
  it('writes the file, creating its folder, and leaves no temporary file', async () => {
    const target = path.join(dir, 'nested', 'state.json');
    await writeFileAtomic(target, '{"a":1}\n');
    assert.equal(await fs.readFile(target, 'utf8'), '{"a":1}\n');
    assert.deepEqual(await fs.readdir(path.dirname(target)), ['state.json']);
  });

  it('replaces an existing file with the new bytes', async () => {
    const target = path.join(dir, 'model.onnx');
    await writeFileAtomic(target, 'old contents that are longer than the new ones');
    await writeFileAtomic(target, new Uint8Array([1, 2, 3]));
    assert.deepEqual([...(await fs.readFile(target))], [1, 2, 3]);
    assert.deepEqual(await fs.readdir(dir), ['model.onnx']);
  });

  it('leaves no temporary file and the target untouched when the rename fails', async () => {
    // A non-empty folder where the file should go: the rename over it fails.
    const target = path.join(dir, 'taken');
    await fs.mkdir(target);
    await fs.writeFile(path.join(target, 'keep'), 'x');
    await assert.rejects(writeFileAtomic(target, 'data'));
    assert.deepEqual(await fs.readdir(dir), ['taken']);
    assert.deepEqual(await fs.readdir(target), ['keep']);
  });

  it('leaves no temporary file when writing the data fails', async () => {
    const target = path.join(dir, 'state.json');
    await fs.writeFile(target, 'before');
    await assert.rejects(writeFileAtomic(target, 42 as unknown as string));
    assert.deepEqual(await fs.readdir(dir), ['state.json']);
    assert.equal(await fs.readFile(target, 'utf8'), 'before');
  });

  it('gives temporary files a name that starts with the temp prefix, next to the target', () => {
    const a = tempPathFor(path.join(dir, 'x.json'));
    const b = tempPathFor(path.join(dir, 'x.json'));
    assert.equal(path.dirname(a), dir);
    assert.ok(path.basename(a).startsWith(`${TEMP_PREFIX}x.json-${process.pid}-`), a);
    assert.notEqual(a, b);
  });
});

describe('renameDurable', () => {
  it('moves a folder into place', async () => {
    await fs.mkdir(path.join(dir, '.tmp-upload'));
    await fs.writeFile(path.join(dir, '.tmp-upload', 'model.onnx'), 'bytes');
    await renameDurable(path.join(dir, '.tmp-upload'), path.join(dir, '3'));
    assert.deepEqual(await fs.readdir(dir), ['3']);
    assert.equal(await fs.readFile(path.join(dir, '3', 'model.onnx'), 'utf8'), 'bytes');
  });
});

describe('withFileLock', () => {
  it('runs one holder at a time, so concurrent read-modify-writes all apply', async () => {
    const file = path.join(dir, 'counter');
    await fs.writeFile(file, '0');
    let inside = 0;
    let most = 0;
    const n = 12;
    await Promise.all(
      Array.from({ length: n }, () =>
        withFileLock(file, async () => {
          inside++;
          most = Math.max(most, inside);
          const value = Number(await fs.readFile(file, 'utf8'));
          await sleep(5);
          await fs.writeFile(file, String(value + 1));
          inside--;
        }),
      ),
    );
    assert.equal(await fs.readFile(file, 'utf8'), String(n));
    assert.equal(most, 1);
    assert.deepEqual(await fs.readdir(dir), ['counter']);
  });

  it("returns fn's result and removes the lock file, also when fn throws", async () => {
    const file = path.join(dir, 'state.json');
    assert.equal(await withFileLock(file, async () => 'done'), 'done');
    await assert.rejects(
      withFileLock(file, async () => {
        await fs.stat(`${file}.lock`);
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.deepEqual(await fs.readdir(dir), []);
  });

  it('takes over a lock older than staleMs (its holder died)', async () => {
    const file = path.join(dir, 'state.json');
    await fs.writeFile(`${file}.lock`, '999999\n');
    const old = new Date(Date.now() - 60_000);
    await fs.utimes(`${file}.lock`, old, old);
    const result = await withFileLock(file, async () => 'ran', 5000, 10_000);
    assert.equal(result, 'ran');
    await assert.rejects(fs.stat(`${file}.lock`), { code: 'ENOENT' });
  });

  it('waits for a live lock and gives up after timeoutMs', async () => {
    const file = path.join(dir, 'state.json');
    await fs.writeFile(`${file}.lock`, '999999\n');
    let ran = false;
    await assert.rejects(
      withFileLock(file, async () => void (ran = true), 100, 60_000),
      (err: Error) => err.message === `timed out waiting for the lock ${file}.lock`,
    );
    assert.equal(ran, false);
    // The live holder's lock is left alone.
    assert.equal(await fs.readFile(`${file}.lock`, 'utf8'), '999999\n');
  });

  it('goes ahead once the holder releases the lock', async () => {
    const file = path.join(dir, 'state.json');
    const order: string[] = [];
    let release!: () => void;
    let entered!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const inside = new Promise<void>((r) => (entered = r));
    const first = withFileLock(file, async () => {
      order.push('first in');
      entered();
      await held;
      order.push('first out');
    });
    await inside;
    const second = withFileLock(file, async () => void order.push('second'));
    await sleep(50);
    assert.deepEqual(order, ['first in']);
    release();
    await Promise.all([first, second]);
    assert.deepEqual(order, ['first in', 'first out', 'second']);
  });
});

describe('removeStaleTemps', () => {
  it('removes only temporary entries older than minAgeMs, files and folders alike', async () => {
    const old = new Date(Date.now() - 3_600_000);
    await fs.writeFile(path.join(dir, '.tmp-state.json-1-ab'), 'partial');
    await fs.mkdir(path.join(dir, '.tmp-upload-3-1-cd'));
    await fs.writeFile(path.join(dir, '.tmp-upload-3-1-cd', 'model.onnx'), 'partial');
    await fs.writeFile(path.join(dir, '.tmp-young'), 'being written right now');
    await fs.mkdir(path.join(dir, '1'));
    await fs.writeFile(path.join(dir, 'config.json'), '{}');
    await fs.writeFile(path.join(dir, '.hidden'), 'not a temp');
    for (const n of ['.tmp-state.json-1-ab', '.tmp-upload-3-1-cd', '1', 'config.json', '.hidden']) await fs.utimes(path.join(dir, n), old, old);

    const removed = await removeStaleTemps(dir, 60_000);
    assert.deepEqual(removed.sort(), ['.tmp-state.json-1-ab', '.tmp-upload-3-1-cd']);
    assert.deepEqual((await fs.readdir(dir)).sort(), ['.hidden', '.tmp-young', '1', 'config.json']);
  });

  it('keeps every temporary entry younger than the default age of 15 minutes', async () => {
    await fs.writeFile(path.join(dir, '.tmp-a'), 'x');
    const tenMinutesAgo = new Date(Date.now() - 600_000);
    await fs.utimes(path.join(dir, '.tmp-a'), tenMinutesAgo, tenMinutesAgo);
    assert.deepEqual(await removeStaleTemps(dir), []);
    assert.deepEqual(await temps(dir), ['.tmp-a']);
  });

  it('answers an empty list for a folder that does not exist', async () => {
    assert.deepEqual(await removeStaleTemps(path.join(dir, 'missing')), []);
  });
});
