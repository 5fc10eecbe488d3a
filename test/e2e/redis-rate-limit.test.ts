// The rate limit shared through a real Redis (Debian's redis-server, started here on a free loopback port):
// two servers, one subject, one limit; Redis down -> requests still served (fail open) and the errors counted.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { freePort, waitForPort } from '../helpers/process.js';
import { BUNDLED_MODELS, auth, startServer, type Started } from '../helpers/server.js';

const hasRedis = spawnSync('redis-server', ['--version']).status === 0;
const skip = !hasRedis && process.env.CI !== 'true' ? 'redis-server is not installed (apt-get install -y redis-server; .ci/run installs it)' : false;

describe('rate limit shared through Redis', { skip }, () => {
  let redis: ChildProcess;
  let a: Started;
  let b: Started;
  before(async () => {
    const port = await freePort();
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitForPort(port, 10_000, 'redis');
    const env = { MODEL_REPOSITORY: BUNDLED_MODELS, RATE_LIMIT_MAX: '6', RATE_LIMIT_WINDOW: '60000', REDIS_URL: `redis://127.0.0.1:${port}`, REPOSITORY_POLL_INTERVAL_MS: '0' };
    a = await startServer(env);
    b = await startServer(env);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    redis?.kill('SIGKILL');
  });

  const get = (s: Started, headers: Record<string, string>) => fetch(`${s.url}/v2/models/digits`, { headers });

  it('enforces one subject limit across two servers', async () => {
    const alice = auth('predict', 'alice-shared');
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(a, alice)).status, (await get(b, alice)).status);
    assert.deepEqual(statuses.slice(0, 6), [200, 200, 200, 200, 200, 200], 'six requests fit the limit, split over both servers');
    assert.deepEqual(statuses.slice(6), [429, 429], 'the seventh and eighth are refused by either server');
    const limited = await get(b, alice);
    assert.equal(limited.status, 429);
    assert.ok(limited.headers.get('retry-after'), 'Retry-After is sent');
    assert.deepEqual(Object.keys((await limited.json()) as object), ['error']);
    assert.equal((await get(a, auth('predict', 'bob-shared'))).status, 200, 'another subject has its own limit');
  });

  it('serves requests when Redis is down (fail open) and counts the store errors', async () => {
    redis.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    const carol = auth('predict', 'carol-shared');
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await get(a, carol)).status);
    assert.deepEqual(statuses, new Array(10).fill(200), 'no 429 and no 500 while Redis is down');
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    const line = metrics.split('\n').find((l) => l.startsWith('rate_limit_store_errors_total'));
    assert.ok(line && Number(line.split(' ')[1]) > 0, `store errors counted: ${line}`);
  });
});
