// SIGTERM to the built server (`node dist/main.js`, what the container runs) while 64 keep-alive clients send
// inference requests and other clients poll readiness. test/e2e/shutdown.test.ts proves the drain on the source
// entry (every request accepted before the signal answered 200, late ones 503 or refused, exit 0); this file adds
// what it leaves open:
// - accepted => answered, for requests accepted at ANY moment (after the signal too): a request is accepted when
//   the client got `100 Continue` (Node sends it when it hands the parsed headers to Fastify); every accepted
//   request gets a complete response (status line and whole body, no reset or hang-up), and that response is
//   200 or 503. Accepted before the signal: 200.
// - every HTTP response the server sent during the run is 200 or 503; a request that got none was never accepted
//   and failed with a refused, reset or closed connection;
// - readiness turns false first: once a probe after the signal is not 200 (503, or the connection refused because
//   the listener has closed), no later probe is 200, and the first such probe completes before the drain is over
//   (before the answer of a large request accepted before the signal, which keeps a worker busy meanwhile);
// - the process exits 0, which close-with-grace only does when the drain ended before SHUTDOWN_TIMEOUT_MS (on
//   the timeout it exits 1).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { type ServerProcess, spawnServer, waitReady } from '../helpers/process.js';
import { BUNDLED_MODELS, ROOT, serverEnv, token } from '../helpers/server.js';

const MAIN_JS = path.join(ROOT, 'dist', 'main.js');
const GRACE_MS = 20_000;
const CLIENTS = 64;
const ROWS = 32;
const AUTHZ = `Bearer ${token('predict', 'drain-load', 600)}`;

/** Completion order of every outcome in the run (inference and readiness), for ordering assertions. */
let seq = 0;

interface Outcome {
  id: string;
  /** Got `100 Continue`: the server had parsed the headers and dispatched the request. */
  accepted: boolean;
  acceptedBeforeSignal: boolean;
  sentAfterSignal: boolean;
  status?: number;
  body?: string;
  error?: string;
  /** Position in the completion order. */
  at: number;
}

function infer(agent: http.Agent, port: number, id: string, payload: string, isSignalled: () => boolean, onAccepted?: () => void): Promise<Outcome> {
  const o: Outcome = { id, accepted: false, acceptedBeforeSignal: false, sentAfterSignal: isSignalled(), at: -1 };
  return new Promise((resolve) => {
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), authorization: AUTHZ, expect: '100-continue' };
    const req = http.request({ host: '127.0.0.1', port, path: '/v2/models/digits/infer', method: 'POST', agent, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ ...o, status: res.statusCode, body, at: seq++ }));
      res.on('error', (err) => resolve({ ...o, status: res.statusCode, error: `response cut: ${err.message}`, at: seq++ }));
      res.on('aborted', () => resolve({ ...o, status: res.statusCode, error: 'response aborted', at: seq++ }));
    });
    req.on('continue', () => {
      o.accepted = true;
      o.acceptedBeforeSignal = !isSignalled();
      req.end(payload);
      onAccepted?.();
    });
    req.on('error', (err) => resolve({ ...o, error: (err as NodeJS.ErrnoException).code ?? err.message, at: seq++ }));
    req.flushHeaders();
  });
}

interface Probe {
  afterSignal: boolean;
  status?: number;
  error?: string;
  at: number;
}

function probeReady(agent: http.Agent | false, port: number, isSignalled: () => boolean): Promise<Probe> {
  const afterSignal = isSignalled();
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/v2/health/ready', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ afterSignal, status: res.statusCode, at: seq++ }));
      res.on('error', (err) => resolve({ afterSignal, error: err.message, at: seq++ }));
    });
    req.on('error', (err) => resolve({ afterSignal, error: (err as NodeJS.ErrnoException).code ?? err.message, at: seq++ }));
  });
}

const digits = (rows: number, value?: number) =>
  JSON.stringify({ inputs: [{ name: 'image', shape: [rows, 1, 8, 8], datatype: 'FP32', data: Array.from({ length: rows * 64 }, (_, i) => value ?? (i % 16) / 16) }] });

describe('SIGTERM under load on the built server (node dist/main.js)', () => {
  let p: ServerProcess | undefined;
  after(() => {
    if (p && p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  });

  it(
    'answers every accepted request 200 or 503 without a reset, turns readiness false before the drain ends, and exits 0',
    { timeout: 55_000 },
    async (t) => {
      assert.ok(fs.existsSync(MAIN_JS), `${MAIN_JS} is missing: run npm run build first`);
      const server = await spawnServer(serverEnv(BUNDLED_MODELS, { LOG_LEVEL: 'warn', WORKER_THREADS: '2', SHUTDOWN_TIMEOUT_MS: String(GRACE_MS) }), [MAIN_JS]);
      p = server;
      await waitReady(server, 'dist/main.js', 30_000);
      let exited = false;
      void server.exited.then(() => (exited = true));
      let signalled = false;
      const isSignalled = () => signalled;

      // Readiness from other clients: one keep-alive connection (opened before the signal) and fresh connections.
      const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const probes: { keepAlive: Probe[]; fresh: Probe[] } = { keepAlive: [], fresh: [] };
      const prober = async (agent: http.Agent | false, into: Probe[]) => {
        while (!exited) {
          into.push(await probeReady(agent, server.port, isSignalled));
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      const probing = [prober(probeAgent, probes.keepAlive), prober(false, probes.fresh)];

      const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
      const payload = digits(ROWS);
      const outcomes: Outcome[] = [];
      let okBeforeSignal = 0;
      let warm!: () => void;
      const warmed = new Promise<void>((r) => (warm = r));
      // Each client keeps one request in flight until the process exits or it gets no HTTP response at all.
      const client = async (n: number) => {
        for (let k = 0; !exited; k++) {
          const o = await infer(agent, server.port, `c${n}-${k}`, payload, isSignalled);
          outcomes.push(o);
          if (!signalled && o.status === 200 && ++okBeforeSignal >= CLIENTS * 3) warm();
          if (!signalled && o.status !== 200) throw new Error(`request failed before the signal: ${JSON.stringify(o).slice(0, 300)}`);
          if (o.status === undefined) return;
        }
      };
      const clients = Array.from({ length: CLIENTS }, (_, n) => client(n));
      await Promise.race([warmed, ...clients]);

      // A large request accepted before the signal keeps a worker busy for a while: the drain is not over before
      // it is answered.
      let bigAccepted!: () => void;
      const isBigAccepted = new Promise<void>((r) => (bigAccepted = r));
      const big = infer(agent, server.port, 'big', digits(20_000, 0.25), isSignalled, bigAccepted);
      await Promise.race([isBigAccepted, big]);

      signalled = true;
      server.child.kill('SIGTERM');
      const bigOutcome = await big;
      outcomes.push(bigOutcome);
      await Promise.all(clients);
      const exit = await server.exited;
      await Promise.all(probing);
      agent.destroy();
      probeAgent.destroy();

      assert.deepEqual(exit, { code: 0, signal: null }, `exit ${JSON.stringify(exit)}\nstderr:\n${server.out.stderr.slice(-2000)}`);

      // Accepted => a complete response, 200 or 503; accepted before the signal => 200.
      const accepted = outcomes.filter((o) => o.accepted);
      const badAccepted = accepted.filter((o) => o.error !== undefined || (o.status !== 200 && o.status !== 503) || (o.acceptedBeforeSignal && o.status !== 200));
      assert.deepEqual(badAccepted.map((o) => ({ ...o, body: o.body?.slice(0, 200) })), [], 'accepted requests without a complete 200/503 answer');
      // Any HTTP response at all: 200 or 503; a 503 carries an {"error"} body.
      for (const o of outcomes.filter((x) => x.status !== undefined)) {
        assert.ok(o.status === 200 || o.status === 503, `unexpected status ${JSON.stringify(o).slice(0, 300)}`);
        if (o.status === 503 && o.body?.startsWith('{')) assert.equal(typeof (JSON.parse(o.body) as { error?: unknown }).error, 'string');
      }
      // No response: never accepted, and the connection was refused, reset or closed.
      for (const o of outcomes.filter((x) => x.status === undefined)) {
        assert.equal(o.accepted, false, `accepted but unanswered: ${JSON.stringify(o)}`);
        assert.match(o.error!, /ECONNREFUSED|ECONNRESET|EPIPE|socket hang up/, `unexpected client error ${o.error}`);
      }
      assert.equal(bigOutcome.status, 200, 'the large request accepted before the signal is answered');
      assert.equal(bigOutcome.acceptedBeforeSignal, true, 'the large request was in flight at the signal');

      // Readiness: false first, and for good.
      const describeProbe = (x: Probe) => (x.status !== undefined ? String(x.status) : x.error!);
      for (const [kind, list] of Object.entries(probes)) {
        const after = list.filter((x) => x.afterSignal);
        const firstFalse = after.findIndex((x) => x.status !== 200);
        assert.ok(firstFalse >= 0, `${kind}: some readiness probe after the signal was not 200: ${after.map(describeProbe).join(' ')}`);
        const flipped = after.slice(firstFalse);
        assert.deepEqual(flipped.filter((x) => x.status === 200), [], `${kind}: no probe is ready again once one was not`);
        for (const x of flipped) assert.ok(x.status === 503 || /ECONNREFUSED|ECONNRESET|socket hang up/.test(x.error ?? ''), `${kind}: ${describeProbe(x)}`);
        assert.ok(after[firstFalse]!.at < bigOutcome.at, `${kind}: readiness turned false before the drain ended (probe #${after[firstFalse]!.at}, last answer #${bigOutcome.at})`);
      }

      // Reported for the reader, not asserted.
      const count = (f: (o: Outcome) => boolean) => outcomes.filter(f).length;
      const tally = (list: string[]) => Object.entries(list.reduce<Record<string, number>>((m, k) => ((m[k] = (m[k] ?? 0) + 1), m), {})).map(([k, n]) => `${n} x ${k}`).join(', ');
      t.diagnostic(
        `drain: ${count((o) => o.status === 200)} x 200 (${count((o) => o.acceptedBeforeSignal && o.status === 200)} accepted before SIGTERM), ` +
          `${count((o) => o.status === 503)} x 503, no response: ${tally(outcomes.filter((o) => o.status === undefined).map((o) => o.error!)) || 'none'}; ` +
          `${accepted.length} accepted in all; readiness probes after SIGTERM: keep-alive ${tally(probes.keepAlive.filter((x) => x.afterSignal).map(describeProbe))}; ` +
          `fresh connections ${tally(probes.fresh.filter((x) => x.afterSignal).map(describeProbe))}`,
      );
    },
  );
});
