// Graceful shutdown of the real process (`node --import tsx src/main.ts`): SIGTERM while a burst of inference
// requests is in flight drains them all (every request the server accepted is answered 200), late arrivals get 503,
// and the process exits 0 before the grace period ends; SIGINT does the same.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, describe, it } from 'node:test';
import { type ServerProcess as Proc, spawnServer as spawnProcess, waitReady } from '../helpers/process.js';
import { serverEnv, token } from '../helpers/server.js';

const GRACE_MS = 20_000;
const CONCURRENCY = 64;
const ROWS = 64;

function spawnServer(extraEnv: Record<string, string> = {}): Promise<Proc> {
  return spawnProcess(serverEnv('models', { LOG_LEVEL: 'info', WORKER_THREADS: '2', SHUTDOWN_TIMEOUT_MS: String(GRACE_MS), ...extraEnv }));
}

/** Ready, with no deadline of its own: each test's timeout bounds the wait. */
const ready = (p: Proc) => waitReady(p, 'server', Infinity);

interface Outcome {
  id: string;
  /** The server answered `100 Continue` before SIGTERM was sent: it had parsed and dispatched the request. */
  acceptedBeforeSignal: boolean;
  sentAfterSignal: boolean;
  /** The outcome (answer or error) came after SIGTERM was sent. */
  settledAfterSignal?: boolean;
  status?: number;
  body?: string;
  error?: string;
}

/**
 * POST with `Expect: 100-continue`: Node's server answers 100 when it dispatches the request to Fastify, so the
 * client learns, without any timing, which requests the server had accepted before the signal.
 */
function post(agent: http.Agent, port: number, id: string, payload: string, authz: string, isSignalled: () => boolean, onAccepted?: () => void): Promise<Outcome> {
  const o: Outcome = { id, acceptedBeforeSignal: false, sentAfterSignal: isSignalled() };
  return new Promise((resolve) => {
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), authorization: authz, 'x-request-id': id, expect: '100-continue' };
    const req = http.request({ host: '127.0.0.1', port, path: '/v2/models/digits/infer', method: 'POST', agent, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ ...o, settledAfterSignal: isSignalled(), status: res.statusCode, body }));
      res.on('error', (err) => resolve({ ...o, settledAfterSignal: isSignalled(), error: err.message }));
    });
    req.on('continue', () => {
      o.acceptedBeforeSignal = !isSignalled();
      req.end(payload);
      onAccepted?.();
    });
    req.on('error', (err) => resolve({ ...o, settledAfterSignal: isSignalled(), error: (err as NodeJS.ErrnoException).code ?? err.message }));
    req.flushHeaders();
  });
}

interface LogLine {
  msg?: string;
  reqId?: string;
  statusCode?: number;
  time?: number;
  model?: string;
}

function logLines(stdout: string): LogLine[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

describe('graceful shutdown of the real process', () => {
  const started: Proc[] = [];
  after(() => {
    for (const p of started) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  });

  it('drains in-flight inference on SIGTERM: every accepted request gets 200, then exit 0 within the grace period', { timeout: 55_000 }, async (t) => {
    const p = await spawnServer();
    started.push(p);
    await ready(p);

    const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const authz = `Bearer ${token('predict', 'loadgen', 600)}`;
    // Several images per request, so that the work queued at SIGTERM takes a while to drain.
    const payload = JSON.stringify({ inputs: [{ name: 'image', shape: [ROWS, 1, 8, 8], datatype: 'FP32', data: Array.from({ length: ROWS * 64 }, (_, i) => (i % 16) / 16) }] });
    const outcomes: Outcome[] = [];
    let signalled = false;
    const isSignalled = () => signalled;
    let exited = false;
    void p.exited.then(() => (exited = true));
    let okBeforeSignal = 0;
    let resolveWarm!: () => void;
    const warm = new Promise<void>((r) => (resolveWarm = r));

    // Each loop keeps one request in flight; after the signal it stops at its first non-200 answer or error.
    const loop = async (n: number) => {
      for (let k = 0; !exited; k++) {
        const o = await post(agent, p.port, `load-${n}-${k}`, payload, authz, isSignalled);
        outcomes.push(o);
        if (!signalled && o.status === 200 && ++okBeforeSignal >= CONCURRENCY * 3) resolveWarm();
        if (!signalled && o.status !== 200) throw new Error(`request failed before shutdown: ${JSON.stringify(o)}`);
        if (signalled && o.status !== 200) return;
      }
    };
    const loops = Array.from({ length: CONCURRENCY }, (_, n) => loop(n));
    await Promise.race([warm, ...loops]);
    // One large request (seconds of work) accepted before the signal: a server that exits without draining
    // cannot answer it, however short the batcher's queue happens to be at that moment.
    const bigRows = 20_000;
    const bigPayload = JSON.stringify({ inputs: [{ name: 'image', shape: [bigRows, 1, 8, 8], datatype: 'FP32', data: new Array(bigRows * 64).fill(0.25) }] });
    let bigAccepted!: () => void;
    const bigIsAccepted = new Promise<void>((r) => (bigAccepted = r));
    const big = post(agent, p.port, 'load-big', bigPayload, authz, isSignalled, bigAccepted);
    await Promise.race([bigIsAccepted, big]);

    signalled = true;
    p.child.kill('SIGTERM');
    outcomes.push(await big);
    await Promise.all(loops);
    const { code, signal } = await p.exited;
    agent.destroy();

    assert.equal(signal, null, `killed by ${signal}`);
    assert.equal(code, 0, `exit code ${code}\nstderr:\n${p.out.stderr}\nlog tail:\n${p.out.stdout.slice(-2000)}`);

    const lines = logLines(p.out.stdout);
    const shutdownLine = lines.find((l) => typeof l.msg === 'string' && l.msg.startsWith('shutting down'));
    assert.ok(shutdownLine, 'the server logged the start of shutdown');
    assert.ok(lines.some((l) => l.msg === 'shutdown complete'), 'the server logged the end of shutdown');
    const served = new Map(lines.filter((l) => l.msg === 'request' && l.reqId?.startsWith('load-')).map((l) => [l.reqId!, l]));

    // Requests the server had accepted before SIGTERM, still unanswered when it arrived: all must be answered 200.
    const inFlight = outcomes.filter((o) => o.acceptedBeforeSignal && o.settledAfterSignal);
    const dropped = outcomes.filter((o) => o.acceptedBeforeSignal && o.status !== 200);
    assert.deepEqual(dropped, [], 'requests accepted before SIGTERM that did not get 200');
    assert.ok(inFlight.length > 0, 'no accepted request was still in flight at SIGTERM; the test proved nothing');

    // Every request the server routed (one log line each) was answered 200, and that answer reached the client.
    const notOk = [...served.values()].filter((l) => l.statusCode !== 200);
    assert.deepEqual(notOk, [], 'requests the server routed but did not serve');
    const byId = new Map(outcomes.map((o) => [o.id, o]));
    for (const id of served.keys()) assert.equal(byId.get(id)?.status, 200, `request ${id}: server served it, client saw ${JSON.stringify(byId.get(id))}`);

    // The rest arrived after closing began: 503 with an {"error"} body, or a refused or closed connection.
    const late503 = outcomes.filter((o) => o.status === 503);
    const refused = outcomes.filter((o) => o.error !== undefined);
    for (const o of outcomes) {
      if (o.status === 200) {
        assert.ok(served.has(o.id), `client got 200 for ${o.id} but the server did not log it`);
        continue;
      }
      assert.ok(!served.has(o.id), `request ${o.id} was routed by the server, yet the client saw ${JSON.stringify(o)}`);
      if (o.status !== undefined) {
        assert.equal(o.status, 503, `unexpected answer ${JSON.stringify(o)}`);
        assert.equal(typeof (JSON.parse(o.body!) as { error?: unknown }).error, 'string');
      } else {
        assert.match(o.error!, /ECONNRESET|ECONNREFUSED|EPIPE|socket hang up/, `unexpected client error ${o.error}`);
      }
    }
    const drainMs = Math.max(0, ...[...served.values()].map((l) => l.time! - shutdownLine.time!));
    const okCount = outcomes.filter((o) => o.status === 200).length;
    const okAfterSignal = outcomes.filter((o) => o.status === 200 && o.sentAfterSignal).length;
    // Reported for the reader, not asserted.
    t.diagnostic(
      `shutdown: ${okCount} x 200 (${inFlight.length} accepted before SIGTERM and finished while draining, ${okAfterSignal} sent after SIGTERM), ` +
        `${late503.length} x 503 after close began, ${refused.length} connections refused/closed; drained for ${drainMs} ms`,
    );
  });

  it('closes a keep-alive connection once its in-flight answer is sent, instead of waiting out the grace period (regression)', { timeout: 45_000 }, async () => {
    // Bug pinned: Fastify reaps idle keep-alive connections only when closing starts; a connection whose request
    // was in flight stayed open after its 200, so close() waited for the client and the process was killed by the
    // grace timeout with exit code 1.
    const p = await spawnServer();
    started.push(p);
    await ready(p);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const rows = 4000;
    const payload = JSON.stringify({ inputs: [{ name: 'image', shape: [rows, 1, 8, 8], datatype: 'FP32', data: new Array(rows * 64).fill(0.5) }] });
    let signalled = false;
    let accepted!: () => void;
    const isAccepted = new Promise<void>((r) => (accepted = r));
    const pending = post(agent, p.port, 'keepalive-1', payload, `Bearer ${token('predict')}`, () => signalled, accepted);
    await Promise.race([isAccepted, pending]);
    signalled = true;
    p.child.kill('SIGTERM');
    const o = await pending;
    assert.equal(o.acceptedBeforeSignal, true);
    assert.equal(o.status, 200, JSON.stringify(o).slice(0, 300));
    // The client keeps its idle keep-alive socket until the server hangs up.
    const { code } = await p.exited;
    agent.destroy();
    assert.equal(code, 0, `exit code ${code}: ${p.out.stdout.slice(-500)}`);
  });

  it('exits 0 on SIGINT', { timeout: 30_000 }, async () => {
    const p = await spawnServer();
    started.push(p);
    await ready(p);
    const res = await fetch(`http://127.0.0.1:${p.port}/v2/models/digits`, { headers: { authorization: `Bearer ${token('predict')}` } });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    p.child.kill('SIGINT');
    const { code, signal } = await p.exited;
    assert.equal(signal, null);
    assert.equal(code, 0, p.out.stderr);
    assert.ok(logLines(p.out.stdout).some((l) => l.msg === 'shutdown complete'));
  });
});
