// The probes, the scrape target and the image's HEALTHCHECK point at routes a real server serves: for each
// kustomization, a server started with that kustomization's environment (ConfigMap) answers every probe's path
// on the port the probe names with 200 once its models are loaded. Readiness (the probe that takes a replica out
// of the Service) turns 503 when the drain begins while liveness stays 200, and the Dockerfile's HEALTHCHECK
// command exits 0 against a ready server and 1 against a draining or absent one.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import { freePort } from '../helpers/process.js';
import { BUNDLED_MODELS, ROOT, type Started, startServer } from '../helpers/server.js';
import { parseDockerfile, parseHealthcheck } from './dockerfile.js';
import { KUSTOMIZATIONS, containerEnv, containerPort, kubectlSkip, one, render, server } from './manifests.js';

/** The server's environment from the manifests, made runnable here: bundled models, one worker, no Redis. */
function localEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  // Empty values mean unset (the Secret template); the test helper supplies its own JWT secret.
  for (const [k, v] of Object.entries(env)) if (v !== '') out[k] = v;
  // REDIS_URL names an in-cluster host; the rate-limit store plays no part in health routes.
  delete out.REDIS_URL;
  return { ...out, MODEL_REPOSITORY: BUNDLED_MODELS, WORKER_THREADS: '1' };
}

async function listenLocal(app: { listen(o: { host: string; port: number }): Promise<string>; server: net.Server }): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as net.AddressInfo).port;
}

/** Runs the Dockerfile's HEALTHCHECK command (node -e ...) with PORT set; its exit code. Asynchronous: the server
 * under test runs in this process and must keep answering meanwhile. */
async function healthcheck(port: number): Promise<number | null> {
  const stage = parseDockerfile(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')).at(-1)!;
  const hc = parseHealthcheck(stage.instructions.find((i) => i.keyword === 'HEALTHCHECK')!.args);
  const [cmd, ...args] = hc.command!;
  assert.equal(cmd, 'node');
  const child = spawn(process.execPath, args, { env: { PATH: process.env.PATH ?? '', PORT: String(port) }, stdio: 'ignore', timeout: 20_000 });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

for (const dir of KUSTOMIZATIONS) {
  describe(`probes of k8s/${dir} against a real server`, { skip: kubectlSkip }, () => {
    let s: Started | undefined;
    /** Container port (as in the manifests) -> the local URL of the listener that serves it. */
    const urls = new Map<number, string>();
    let probes: [string, IProbe | undefined][] = [];

    before(async () => {
      const objects = render(dir);
      const { container } = server(objects);
      const env = containerEnv(objects, container);
      probes = [
        ['startupProbe', container.startupProbe],
        ['readinessProbe', container.readinessProbe],
        ['livenessProbe', container.livenessProbe],
      ];
      s = await startServer(localEnv(env));
      urls.set(Number(env.PORT ?? 8080), s.url);
      if (env.METRICS_PORT) {
        assert.ok(s.app.ortserve.metricsServer, 'METRICS_PORT gives a metrics listener');
        urls.set(Number(env.METRICS_PORT), `http://127.0.0.1:${await listenLocal(s.app.ortserve.metricsServer)}`);
      }
      if (env.ADMIN_PORT) {
        assert.ok(s.app.ortserve.adminServer, 'ADMIN_PORT gives an admin listener');
        urls.set(Number(env.ADMIN_PORT), `http://127.0.0.1:${await listenLocal(s.app.ortserve.adminServer)}`);
      }
    });
    after(() => s?.close());

    function probeUrl(probe: IProbe | undefined, name: string): string {
      const { container } = server(render(dir));
      assert.ok(probe?.httpGet, `${name} is an HTTP probe`);
      assert.equal(probe.httpGet.scheme ?? 'HTTP', 'HTTP');
      const base = urls.get(containerPort(container, probe.httpGet.port));
      assert.ok(base, `${name} port ${probe.httpGet.port} is one the server listens on`);
      return `${base}${probe.httpGet.path}`;
    }

    it('has a startup, a readiness and a liveness probe, on /v2/health/ready, /v2/health/ready and /v2/health/live', () => {
      assert.deepEqual(
        probes.map(([name, p]) => [name, p?.httpGet?.path]),
        [
          ['startupProbe', '/v2/health/ready'],
          ['readinessProbe', '/v2/health/ready'],
          ['livenessProbe', '/v2/health/live'],
        ],
      );
    });

    it('answers every probe with 200 once the models are loaded', async () => {
      for (const [name, probe] of probes) {
        const res = await fetch(probeUrl(probe, name));
        await res.arrayBuffer();
        assert.equal(res.status, 200, `${name} ${probe?.httpGet?.path}`);
      }
    });

    it('serves /metrics, with the queue-depth metric the HPA example names, on the port the ServiceMonitor scrapes', async () => {
      const objects = render(dir);
      const { container } = server(objects);
      const sm = one<IServiceMonitor>(objects, 'ServiceMonitor', 'ortserve');
      const svc = one<IService>(objects, 'Service', 'ortserve');
      const ep = sm.spec.endpoints![0]!;
      const svcPort = svc.spec!.ports!.find((p) => p.name === ep.port)!;
      const base = urls.get(containerPort(container, svcPort.targetPort ?? svcPort.port));
      assert.ok(base, 'the scraped port is one the server listens on');
      const res = await fetch(`${base}${ep.path ?? '/metrics'}`);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /^# TYPE inference_queue_depth gauge$/m);
    });

    it('takes the replica out of the Service when the drain begins: readiness 503, liveness still 200', async () => {
      const [, readiness] = probes[1]!;
      const [, liveness] = probes[2]!;
      s!.app.ortserve.beginShutdown();
      const ready = await fetch(probeUrl(readiness, 'readinessProbe'));
      assert.equal(ready.status, 503);
      assert.deepEqual(await ready.json(), { error: 'server is shutting down' });
      assert.equal(ready.headers.get('retry-after'), '1', 'the one error handler answers it, as every 503');
      const live = await fetch(probeUrl(liveness, 'livenessProbe'));
      await live.arrayBuffer();
      assert.equal(live.status, 200, 'a draining replica is not restarted');
    });
  });
}

describe("the image's HEALTHCHECK command", () => {
  let s: Started;
  before(async () => {
    s = await startServer({ MODEL_REPOSITORY: BUNDLED_MODELS, WORKER_THREADS: '1' });
  });
  after(() => s.close());

  it('exits 0 against a ready server and 1 once it drains', async () => {
    const port = Number(new URL(s.url).port);
    assert.equal(await healthcheck(port), 0);
    s.app.ortserve.beginShutdown();
    assert.equal(await healthcheck(port), 1);
  });

  it('exits 1 when nothing listens on PORT', async () => {
    const port = await freePort();
    assert.equal(await healthcheck(port), 1);
  });
});
