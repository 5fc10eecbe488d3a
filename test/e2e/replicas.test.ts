// Two replicas (real processes) on ONE repository directory, polling it every 500 ms: what is done through one
// replica's admin API is applied by the other within a few poll intervals (traffic, upload, DELETE), a version
// directory copied in by hand is picked up by both, two admins writing the same revision at once get one 200 and
// one 409, and a restarted replica comes back serving the same table.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { kill, request, spawnReady, type ServerProcess } from '../helpers/process.js';
import { removeRepo, tempRepo } from '../helpers/repo.js';
import { BUNDLED_MODELS, serverEnv, token } from '../helpers/server.js';

const POLL_MS = 500;
/** A generous bound on convergence (one poll interval plus a model load is expected): a hang guard, not a SLO. */
const CONVERGE_WITHIN_MS = 20 * POLL_MS;
const MODEL_V2_BYTES = fs.readFileSync(path.join(BUNDLED_MODELS, 'breast_cancer/2/model.onnx'));
const ADMIN = `Bearer ${token('admin', 'replica-admin', 600)}`;
const PREDICT = `Bearer ${token('predict', 'replica-client', 600)}`;
const ROW = JSON.stringify({ inputs: [{ name: 'input', shape: [1, 30], datatype: 'FP32', data: Array.from({ length: 30 }, (_, i) => (i % 5) / 5) }] });

interface Server extends ServerProcess {
  name: string;
}

async function spawnServer(name: string, repo: string, pollMs = POLL_MS, logLevel = 'warn'): Promise<Server> {
  const env = serverEnv(repo, { LOG_LEVEL: logLevel, WORKER_THREADS: '1', REPOSITORY_POLL_INTERVAL_MS: String(pollMs), SHUTDOWN_TIMEOUT_MS: '5000' });
  return { ...(await spawnReady(env, `replica ${name}`)), name };
}

function call(s: Server, method: string, url: string, body?: unknown, authz = ADMIN): Promise<{ status: number; body: any }> {
  return request(s.port, method, url, body, { authorization: authz });
}

interface VersionView {
  version: string;
  state: string;
}

async function versions(s: Server): Promise<Map<string, string>> {
  const res = await call(s, 'GET', '/admin/models');
  assert.equal(res.status, 200);
  const m = (res.body.models as { name: string; versions: VersionView[] }[]).find((x) => x.name === 'breast_cancer');
  return new Map((m?.versions ?? []).map((v) => [v.version, v.state]));
}

async function traffic(s: Server): Promise<{ weights: Record<string, number> | null; revision: number }> {
  const res = await call(s, 'GET', '/admin/models/breast_cancer/traffic');
  assert.equal(res.status, 200);
  return res.body;
}

async function servedVersion(s: Server): Promise<string> {
  const res = await call(s, 'POST', '/v2/models/breast_cancer/infer', ROW, PREDICT);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.model_version as string;
}

/** Polls `probe` until it returns true; fails after CONVERGE_WITHIN_MS. Returns how long it took. */
async function eventually(what: string, probe: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await probe()) {
      const ms = Date.now() - started;
      console.log(`replicas: ${what} after ${ms} ms`);
      return ms;
    }
    if (Date.now() - started > CONVERGE_WITHIN_MS) assert.fail(`${what}: not within ${CONVERGE_WITHIN_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('two replicas on one repository directory (real processes, polling every 500 ms)', () => {
  let repo: string;
  let a: Server;
  let b: Server;
  const all: Server[] = [];

  before(async () => {
    repo = tempRepo('ortserve-replicas-');
    [a, b] = await Promise.all([spawnServer('A', repo), spawnServer('B', repo)]);
    all.push(a, b);
  });
  after(async () => {
    await Promise.all(all.map((s) => kill(s)));
    removeRepo(repo);
  });

  it('applies on B a traffic table written through A within a few poll intervals', { timeout: 30_000 }, async () => {
    const put = await call(a, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '1': 100 } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    await eventually('B applies the table written through A', async () => {
      const t = await traffic(b);
      return t.revision === put.body.revision && JSON.stringify(t.weights) === JSON.stringify({ '1': 100 });
    });
    assert.equal(await servedVersion(b), '1');
    assert.equal(await servedVersion(a), '1');
  });

  it('loads on B a version uploaded through A, and both serve it once a table routes to it', { timeout: 30_000 }, async () => {
    const up = await call(a, 'PUT', '/admin/models/breast_cancer/versions/3', new Uint8Array(MODEL_V2_BYTES));
    assert.equal(up.status, 201, JSON.stringify(up.body));
    await eventually('B has version 3 ready', async () => (await versions(b)).get('3') === 'ready');
    // Written through B: right after its own upload, A's poller may briefly unload version 3 (the todo test at
    // the end of this file), which would make a table written through A fail with 409.
    const put = await call(b, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '3': 100 } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(await servedVersion(b), '3');
    await eventually('A routes to version 3', async () => (await traffic(a)).revision === put.body.revision && (await versions(a)).get('3') === 'ready');
    assert.equal(await servedVersion(a), '3');
  });

  it('unloads on B a version DELETEd through A', { timeout: 30_000 }, async () => {
    const back = await call(a, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '2': 100 } });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    const del = await call(a, 'DELETE', '/admin/models/breast_cancer/versions/3');
    assert.equal(del.status, 200, JSON.stringify(del.body));
    assert.equal((await versions(a)).get('3'), 'unloaded');
    await eventually('B has unloaded version 3', async () => (await versions(b)).get('3') === 'unloaded');
    assert.equal(await servedVersion(b), '2');
    const direct = await call(b, 'POST', '/v2/models/breast_cancer/versions/3/infer', ROW, PREDICT);
    assert.equal(direct.status, 503, 'B refuses the unloaded version');
  });

  it('picks up on both replicas a version directory copied in by hand', { timeout: 30_000 }, async () => {
    // Written under a temporary name and renamed, as an operator's `cp` to a staging name then `mv` would.
    const dir = path.join(repo, 'breast_cancer', '7');
    fs.mkdirSync(dir);
    const staging = path.join(dir, '.model.onnx.partial');
    fs.writeFileSync(staging, MODEL_V2_BYTES);
    fs.renameSync(staging, path.join(dir, 'model.onnx'));
    await eventually('A and B have version 7 ready', async () => (await versions(a)).get('7') === 'ready' && (await versions(b)).get('7') === 'ready');
    // The table still routes everything to version 2: a hand-copied version gets no traffic by itself.
    assert.equal(await servedVersion(a), '2');
    assert.equal(await servedVersion(b), '2');
  });

  it('answers exactly one 200 and one 409 when two admins write the same revision at once through A and B', { timeout: 30_000 }, async () => {
    const { revision } = await traffic(a);
    await eventually('B is at the same revision', async () => (await traffic(b)).revision === revision);
    const [ra, rb] = await Promise.all([
      call(a, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '1': 50, '2': 50 }, revision }),
      call(b, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '7': 100 }, revision }),
    ]);
    assert.deepEqual([ra.status, rb.status].sort(), [200, 409], `statuses ${ra.status} ${JSON.stringify(ra.body)} / ${rb.status} ${JSON.stringify(rb.body)}`);
    const winner = ra.status === 200 ? ra.body : rb.body;
    assert.equal(winner.revision, revision + 1);
    const loser = ra.status === 409 ? ra.body : rb.body;
    assert.match(loser.error, /stale revision/);
    await eventually('A and B serve the winning table', async () => {
      const [ta, tb] = await Promise.all([traffic(a), traffic(b)]);
      return ta.revision === winner.revision && tb.revision === winner.revision && JSON.stringify(ta.weights) === JSON.stringify(winner.weights) && JSON.stringify(tb.weights) === JSON.stringify(winner.weights);
    });
  });

  it('lets the last writer win when two admins write at once without a revision, and both replicas agree', { timeout: 30_000 }, async () => {
    const { revision } = await traffic(a);
    const [ra, rb] = await Promise.all([
      call(a, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '2': 100 } }),
      call(b, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '7': 100 } }),
    ]);
    assert.equal(ra.status, 200, JSON.stringify(ra.body));
    assert.equal(rb.status, 200, JSON.stringify(rb.body));
    assert.deepEqual([ra.body.revision, rb.body.revision].sort((x, y) => x - y), [revision + 1, revision + 2]);
    const last = ra.body.revision > rb.body.revision ? ra.body : rb.body;
    await eventually('A and B serve the last write', async () => {
      const [ta, tb] = await Promise.all([traffic(a), traffic(b)]);
      return ta.revision === last.revision && tb.revision === last.revision && JSON.stringify(tb.weights) === JSON.stringify(last.weights);
    });
    const expected = Object.keys(last.weights)[0];
    assert.equal(await servedVersion(a), expected);
    assert.equal(await servedVersion(b), expected);
  });

  it('brings a restarted replica back serving the same table and versions', { timeout: 40_000 }, async () => {
    const before = await traffic(a);
    const readyOnA = [...(await versions(a))].filter(([, st]) => st === 'ready').map(([v]) => v).sort();
    await kill(b, 'SIGTERM');
    b = await spawnServer('B (restarted)', repo);
    all.push(b);
    const after = await traffic(b);
    assert.deepEqual({ weights: after.weights, revision: after.revision }, { weights: before.weights, revision: before.revision });
    const readyOnB = [...(await versions(b))].filter(([, st]) => st === 'ready').map(([v]) => v).sort();
    assert.deepEqual(readyOnB, readyOnA, 'the same versions are ready (the DELETEd version 3 stays unloaded)');
    assert.equal(await servedVersion(b), Object.keys(before.weights!)[0]);
  });

  // Two races where a rule is checked against one replica's memory instead of the shared state file. Replica C
  // polls only every 60 s, so its view stays stale for the whole race (as any replica's is until its next poll).
  describe('a replica whose view is stale', () => {
    let c: Server;
    before(async () => {
      // C starts while the table routes everything to version 2.
      const reset = await call(a, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '2': 100 } });
      assert.equal(reset.status, 200, JSON.stringify(reset.body));
      await settle(reset.body.revision);
      c = await spawnServer('C (polls every 60 s)', repo, 60_000);
      all.push(c);
    });

    it(
      'refuses a DELETE of a version that a table written through another replica routes to',
      { timeout: 30_000 },
      async () => {
        const put = await call(b, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '7': 100 } });
        assert.equal(put.status, 200, JSON.stringify(put.body));
        const del = await call(c, 'DELETE', '/admin/models/breast_cancer/versions/7');
        await settle(put.body.revision);
        const served = { a: await servedVersion(a), b: await servedVersion(b), c: await servedVersion(c) };
        console.log(`replicas: DELETE through C of the version B's table routes to -> ${del.status}; A, B, C serve ${served.a}, ${served.b}, ${served.c}`);
        assert.equal(del.status, 409, `DELETE of a version the persisted table routes to: ${del.status} ${JSON.stringify(del.body)}`);
      },
    );

    it(
      'refuses a table that names a version another replica has just DELETEd',
      { timeout: 30_000 },
      async () => {
        const reset = await call(a, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '2': 100 } });
        assert.equal(reset.status, 200, JSON.stringify(reset.body));
        await settle(reset.body.revision);
        const del = await call(a, 'DELETE', '/admin/models/breast_cancer/versions/1');
        assert.equal(del.status, 200, JSON.stringify(del.body));
        const put = await call(c, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '1': 100 } });
        await settle((await traffic(a)).revision);
        const served = { a: await servedVersion(a), b: await servedVersion(b) };
        console.log(`replicas: table naming the version A just DELETEd, written through C -> ${put.status}; A serves ${served.a}, B serves ${served.b}`);
        assert.equal(put.status, 409, `a table naming a version unloaded in the shared state: ${put.status} ${JSON.stringify(put.body)}`);
        assert.equal(served.a, served.b, 'A and B serve the same version');
      },
    );
  });

  /** Waits until A and B are at `revision` and have had time to apply the rest of the state. */
  async function settle(revision: number): Promise<void> {
    await eventually(`A and B at revision ${revision}`, async () => (await traffic(a)).revision >= revision && (await traffic(b)).revision >= revision);
    await new Promise((r) => setTimeout(r, 3 * POLL_MS));
  }
});

describe("a replica's own poller and its uploads", () => {
  let repo: string;
  let s: Server | undefined;
  after(async () => {
    if (s) await kill(s);
    removeRepo(repo);
  });

  it(
    'keeps a version it has just uploaded ready until someone unloads it (traffic can name it at once)',
    { timeout: 40_000 },
    async () => {
      repo = tempRepo('ortserve-poller-upload-');
      // A short interval so that a poll often starts while an upload holds the model's lock.
      s = await spawnServer('P (polls every 50 ms)', repo, 50, 'info');
      assert.equal((await call(s, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '2': 100 } })).status, 200);
      const refused: string[] = [];
      for (let v = 3; v < 18; v++) {
        const up = await call(s, 'PUT', `/admin/models/breast_cancer/versions/${v}`, new Uint8Array(MODEL_V2_BYTES));
        assert.equal(up.status, 201, JSON.stringify(up.body));
        const route = await call(s, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { [v]: 100 } });
        if (route.status !== 200) refused.push(`${v}: ${route.status} ${JSON.stringify(route.body)}`);
        assert.equal((await call(s, 'PUT', '/admin/models/breast_cancer/traffic', { weights: { '2': 100 } })).status, 200);
        assert.equal((await call(s, 'DELETE', `/admin/models/breast_cancer/versions/${v}`)).status, 200);
      }
      const pollerUnloads = s.log
        .join('')
        .split('\n')
        .filter((l) => l.includes('repository poll: applied changes') && /"unloaded":\[\d/.test(l));
      console.log(`replicas: traffic refused right after an upload ${refused.length} of 15 times; poller unloads: ${pollerUnloads.length}`);
      assert.deepEqual(refused, [], 'a table can name a version as soon as its upload answered 201');
      assert.deepEqual(pollerUnloads, [], 'the poller unloaded nothing (nobody else changed the repository)');
    },
  );
});
