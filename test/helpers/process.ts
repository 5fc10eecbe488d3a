// The real server as a child process (`node --import tsx src/main.ts`), free loopback ports and waits on them.
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { ROOT } from './repo.js';

/** A loopback port that was free a moment ago (bound to port 0, then released). */
export async function freePort(): Promise<number> {
  // The kernel may hand the same ephemeral port to two probes in a row once the first is closed; two servers
  // started together would then race for it (EADDRINUSE, seen in CI). Never give a port out twice per process.
  for (;;) {
    const srv = net.createServer();
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => srv.close(() => resolve()));
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

const handedOut = new Set<number>();

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`; throws after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 10_000, what = 'the process'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = net.connect(port, '127.0.0.1', () => {
        sock.end();
        resolve(true);
      });
      sock.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  child: ChildProcess;
  /** The port given as PORT (unless `env` overrode PORT). */
  port: number;
  /** All of stdout and of stderr so far. */
  out: { stdout: string; stderr: string };
  /** stdout and stderr chunks interleaved in the order they arrived. */
  log: string[];
  exited: Promise<Exit>;
}

/**
 * Spawns the server from this checkout on a free port with only `env` (plus PATH, HOME, PORT and HOST=127.0.0.1),
 * so nothing leaks in from the test's shell. `entry` is node's arguments (default: src/main.ts under tsx; e.g.
 * [dist/main.js] for the built server). Does not wait for it: see waitReady.
 */
export async function spawnServer(env: Record<string, string>, entry: string[] = ['--import', 'tsx', 'src/main.ts']): Promise<ServerProcess> {
  const port = await freePort();
  const full = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port), HOST: '127.0.0.1', ...env };
  const child = spawn(process.execPath, entry, { cwd: ROOT, env: full, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  const log: string[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (log.push(d), (out.stdout += d)));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (log.push(d), (out.stderr += d)));
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, port, out, log, exited };
}

/**
 * Polls GET /v2/health/ready every 100 ms until it answers 200. Throws, with the process's output, if the process
 * exits first or `withinMs` passes (a hang guard); `label` names the process in that error.
 */
export async function waitReady(p: ServerProcess, label = 'server', withinMs = 30_000): Promise<void> {
  let gone = false;
  void p.exited.then(() => (gone = true));
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (gone) throw new Error(`${label} exited before it was ready:\n${p.log.join('')}`);
    if (Date.now() > deadline) throw new Error(`${label} not ready within ${withinMs / 1000} s:\n${p.log.join('')}`);
    const res = await fetch(`http://127.0.0.1:${p.port}/v2/health/ready`).catch(() => undefined);
    if (res) {
      await res.arrayBuffer().catch(() => undefined);
      if (res.status === 200) return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** spawnServer, then waitReady. */
export async function spawnReady(env: Record<string, string>, label = 'server'): Promise<ServerProcess> {
  const p = await spawnServer(env);
  await waitReady(p, label);
  return p;
}

/** Sends `signal` (SIGKILL unless told) unless the process has already exited, and waits for its exit. */
export async function kill(p: Pick<ServerProcess, 'child' | 'exited'>, signal: NodeJS.Signals = 'SIGKILL'): Promise<Exit> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
  return p.exited;
}

/**
 * One request to 127.0.0.1:`port` with `headers`: a Uint8Array body goes as application/octet-stream, a string as
 * is and anything else as JSON (both application/json). The body comes back parsed when it is JSON, else as text.
 */
export async function request(port: number, method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const h: Record<string, string> = { ...headers };
  let payload: RequestInit['body'];
  if (body instanceof Uint8Array) {
    payload = body;
    h['content-type'] = 'application/octet-stream';
  } else if (body !== undefined) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    h['content-type'] = 'application/json';
  }
  const res = await fetch(`http://127.0.0.1:${port}${url}`, { method, headers: h, body: payload });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}
