// The pods k8s/ runs, in every kustomization: locked-down containers, sized resources, pinned images, an
// environment the server's config schema accepts, a writable repository volume, and a drain that fits in the
// grace period.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { envSchema } from '../../src/config/env.js';
import { KUSTOMIZATIONS, all, containerEnv, kubectlSkip, maybe, render, server } from './manifests.js';

const SCHEMA_KEYS = new Set(Object.keys(envSchema.shape));
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 30_000;

/** A Kubernetes quantity ("500m", "2", "1Gi", "64Mi") as a plain number (cores or bytes). */
function quantity(q: string | number): number {
  if (typeof q === 'number') return q;
  const m = /^([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(q);
  assert.ok(m, `not a quantity: ${q}`);
  const scale: Record<string, number> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
  return Number(m[1]) * (m[2] ? scale[m[2]]! : 1);
}

function podContainers(d: IDeployment): IContainer[] {
  return [...(d.spec!.template.spec!.initContainers ?? []), ...d.spec!.template.spec!.containers];
}

/** Seconds the preStop hook pauses: `exec: sleep N` or the built-in `sleep: {seconds: N}`. */
function preStopSeconds(c: IContainer): number {
  const hook = c.lifecycle?.preStop;
  assert.ok(hook, `${c.name} has a preStop hook`);
  if (hook.sleep) return hook.sleep.seconds;
  const cmd = hook.exec?.command ?? [];
  assert.equal(cmd[0], 'sleep', `${c.name}'s preStop runs sleep: ${JSON.stringify(cmd)}`);
  const seconds = Number(cmd[1]);
  assert.ok(Number.isFinite(seconds) && seconds > 0, `sleep ${cmd[1]}`);
  return seconds;
}

for (const dir of KUSTOMIZATIONS) {
  describe(`pods of k8s/${dir}`, { skip: kubectlSkip }, () => {
    it('run every container as a non-root numeric user, read-only root, no privilege escalation, no capabilities', () => {
      for (const d of all<IDeployment>(render(dir), 'Deployment')) {
        const pod = d.spec!.template.spec!;
        assert.equal(pod.securityContext?.runAsNonRoot, true, `${d.metadata!.name}: pod runAsNonRoot`);
        assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault', `${d.metadata!.name}: seccomp`);
        assert.equal(pod.automountServiceAccountToken, false, `${d.metadata!.name}: no API token mounted`);
        assert.equal(pod.hostNetwork ?? false, false);
        assert.equal(pod.hostPID ?? false, false);
        for (const c of podContainers(d)) {
          const sc = c.securityContext;
          const who = `${d.metadata!.name}/${c.name}`;
          assert.ok(sc, `${who} has a securityContext`);
          assert.equal(sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot, true, `${who}: runAsNonRoot`);
          const uid = sc.runAsUser ?? pod.securityContext?.runAsUser;
          assert.ok(typeof uid === 'number' && uid > 0, `${who}: a numeric non-zero runAsUser, got ${uid}`);
          assert.equal(sc.readOnlyRootFilesystem, true, `${who}: readOnlyRootFilesystem`);
          assert.equal(sc.allowPrivilegeEscalation, false, `${who}: allowPrivilegeEscalation`);
          assert.notEqual(sc.privileged, true, `${who}: privileged`);
          assert.deepEqual(sc.capabilities?.drop, ['ALL'], `${who}: capabilities dropped`);
          assert.equal(sc.capabilities?.add, undefined, `${who}: no capability added`);
        }
      }
    });

    it('give every container cpu and memory requests and limits, limits not below requests', () => {
      for (const d of all<IDeployment>(render(dir), 'Deployment')) {
        for (const c of podContainers(d)) {
          const who = `${d.metadata!.name}/${c.name}`;
          for (const r of ['cpu', 'memory']) {
            const req = c.resources?.requests?.[r];
            const lim = c.resources?.limits?.[r];
            assert.ok(req !== undefined && lim !== undefined, `${who}: ${r} request and limit`);
            assert.ok(quantity(lim) >= quantity(req), `${who}: ${r} limit ${lim} below request ${req}`);
          }
        }
      }
    });

    it('name every image with a pinned tag, never latest', () => {
      for (const d of all<IDeployment>(render(dir), 'Deployment')) {
        for (const c of podContainers(d)) {
          const image = c.image ?? '';
          const m = /^(?<repo>[^@]+?)(?::(?<tag>[\w][\w.-]{0,127}))?(?:@sha256:[0-9a-f]{64})?$/.exec(image);
          assert.ok(m && (m.groups!.tag || image.includes('@sha256:')), `${c.name}: ${image} has no tag or digest`);
          assert.notEqual(m.groups!.tag, 'latest', `${c.name}: ${image}`);
        }
      }
    });

    it("give the server only variables its config schema knows, with values it accepts", () => {
      const objects = render(dir);
      const { container } = server(objects);
      for (const from of container.envFrom ?? []) {
        const ref = from.configMapRef?.name ?? from.secretRef?.name;
        const obj = maybe<{ data?: Record<string, string>; stringData?: Record<string, string> }>(objects, from.configMapRef ? 'ConfigMap' : 'Secret', ref!);
        if (!obj && from.secretRef) continue; // created outside git (prod)
        assert.ok(obj, `envFrom names ${ref}, which is rendered`);
        const keys = [...Object.keys(obj.data ?? {}), ...Object.keys(obj.stringData ?? {})];
        assert.ok(keys.length > 0, `${ref} is not empty`);
        assert.deepEqual(keys.filter((k) => !SCHEMA_KEYS.has(k)), [], `keys of ${ref} that src/config/env.ts does not know`);
      }
      assert.deepEqual((container.env ?? []).map((e) => e.name).filter((k) => !SCHEMA_KEYS.has(k)), []);
      const parsed = envSchema.safeParse(containerEnv(objects, container));
      assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
    });

    it('ship no key in a Secret: every value of a rendered Secret is empty', () => {
      for (const s of all<{ metadata: { name: string }; data?: Record<string, string>; stringData?: Record<string, string> }>(render(dir), 'Secret')) {
        for (const [k, v] of Object.entries({ ...s.data, ...s.stringData })) assert.equal(v, '', `${s.metadata.name}.${k} must stay a placeholder`);
      }
    });

    it('mount MODEL_REPOSITORY as a writable volume, the only writable place besides /tmp', () => {
      const objects = render(dir);
      const { deployment, container } = server(objects);
      const repo = containerEnv(objects, container).MODEL_REPOSITORY;
      assert.ok(repo?.startsWith('/'), `MODEL_REPOSITORY is an absolute path: ${repo}`);
      const mounts = container.volumeMounts ?? [];
      const mount = mounts.find((m) => m.mountPath === repo);
      assert.ok(mount, `a volume is mounted at ${repo}`);
      assert.notEqual(mount.readOnly, true);
      const writable = mounts.filter((m) => m.readOnly !== true).map((m) => m.mountPath);
      assert.deepEqual(writable.sort(), [repo, '/tmp'].sort(), 'other mounts (a JWT public key file) must be readOnly');
      const volume = deployment.spec!.template.spec!.volumes!.find((v) => v.name === mount.name);
      assert.ok(volume?.persistentVolumeClaim || volume?.emptyDir, `${mount.name} is a PVC or an emptyDir`);
      if (volume.persistentVolumeClaim) {
        const pvc = maybe<IPersistentVolumeClaim>(objects, 'PersistentVolumeClaim', volume.persistentVolumeClaim.claimName);
        assert.ok(pvc, `the claim ${volume.persistentVolumeClaim.claimName} is rendered`);
        assert.deepEqual(pvc.spec!.accessModes, ['ReadWriteMany'], 'replicas on different nodes share the repository');
      }
    });

    it('keep each replica until its drain is over: grace period above preStop pause plus SHUTDOWN_TIMEOUT_MS', () => {
      const objects = render(dir);
      const { deployment, container } = server(objects);
      const shutdownMs = Number(containerEnv(objects, container).SHUTDOWN_TIMEOUT_MS ?? DEFAULT_SHUTDOWN_TIMEOUT_MS);
      const grace = deployment.spec!.template.spec!.terminationGracePeriodSeconds;
      assert.ok(grace !== undefined, 'terminationGracePeriodSeconds is set');
      const needed = preStopSeconds(container) + shutdownMs / 1000;
      assert.ok(grace > needed, `terminationGracePeriodSeconds ${grace} must exceed preStop + drain = ${needed}`);
    });

    it('run no more worker threads than the cpu limit', () => {
      const objects = render(dir);
      const { container } = server(objects);
      const workers = Number(containerEnv(objects, container).WORKER_THREADS);
      assert.ok(Number.isInteger(workers) && workers >= 1, 'WORKER_THREADS is set (os.availableParallelism() sees the whole node)');
      assert.ok(workers <= quantity(container.resources!.limits!.cpu!), `${workers} workers, cpu limit ${container.resources!.limits!.cpu}`);
    });

    it('spread the server replicas over nodes', () => {
      const { deployment } = server(render(dir));
      const labels = deployment.spec!.template.metadata!.labels!;
      const constraints = deployment.spec!.template.spec!.topologySpreadConstraints ?? [];
      const byHost = constraints.find((t) => t.topologyKey === 'kubernetes.io/hostname');
      assert.ok(byHost, 'a spread constraint over kubernetes.io/hostname');
      for (const t of constraints) {
        for (const [k, v] of Object.entries(t.labelSelector?.matchLabels ?? {})) assert.equal(labels[k], v, `spread selector ${k}=${v} matches the pods`);
      }
    });
  });
}
