// What each kustomization is for. base: 2+ replicas scaled by an HPA on CPU, a disruption budget, rolling
// updates that never drop capacity. dev: one replica serving the image's bundled models from an emptyDir an init
// container seeds, no PVC, no HPA. prod: more and bigger replicas on the ReadWriteMany repository, a Redis the
// rate limiter reaches through REDIS_URL, and no Secret template (the real key is created outside git).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IPersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import type { IService } from 'kubernetes-models/v1/Service';
import { ROOT } from '../helpers/server.js';
import { parseCopy, parseDockerfile, resolveDest, workdirs } from './dockerfile.js';
import { K8S, type K8sObject, all, containerEnv, containerPort, kubectlSkip, maybe, one, render, server } from './manifests.js';

function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  return !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function quantityBytes(q: string): number {
  const m = /^(\d+)(Mi|Gi|Ti)$/.exec(q);
  assert.ok(m, `a binary quantity: ${q}`);
  return Number(m[1]) * { Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 }[m[2] as 'Mi' | 'Gi' | 'Ti'];
}

function cores(q: string | number): number {
  return typeof q === 'number' ? q : q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q);
}

/** Where the Dockerfile's runtime stage puts the bundled models (e.g. /app/models). */
function imageModelsPath(): string {
  const final = parseDockerfile(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')).at(-1)!;
  const wds = workdirs(final);
  const i = final.instructions.findIndex((ins) => ins.keyword === 'COPY' && parseCopy(ins).sources.includes('models'));
  assert.ok(i >= 0, 'the Dockerfile copies models/');
  return resolveDest(parseCopy(final.instructions[i]!).dest, wds[i]!);
}

function scaling(objects: K8sObject[]) {
  const { deployment } = server(objects);
  const hpa = maybe<IHorizontalPodAutoscaler>(objects, 'HorizontalPodAutoscaler', 'ortserve');
  const pdb = one<IPodDisruptionBudget>(objects, 'PodDisruptionBudget', 'ortserve');
  return { deployment, hpa, pdb, labels: deployment.spec!.template.metadata!.labels! };
}

describe('k8s/base', { skip: kubectlSkip }, () => {
  it('runs at least 2 replicas and rolls out without ever dropping below them', () => {
    const { deployment } = scaling(render('base'));
    assert.ok(deployment.spec!.replicas! >= 2);
    assert.equal(deployment.spec!.strategy?.type, 'RollingUpdate');
    assert.equal(deployment.spec!.strategy?.rollingUpdate?.maxUnavailable, 0);
    assert.ok(selects(deployment.spec!.selector.matchLabels, deployment.spec!.template.metadata!.labels));
  });

  it('scales the Deployment on CPU utilisation between 2 and more replicas', () => {
    const { deployment, hpa } = scaling(render('base'));
    assert.ok(hpa, 'an HPA');
    assert.deepEqual(hpa.spec!.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata!.name! });
    assert.ok(hpa.spec!.minReplicas! >= 2);
    assert.equal(hpa.spec!.minReplicas, deployment.spec!.replicas, 'applying the manifests does not fight the HPA minimum');
    assert.ok(hpa.spec!.maxReplicas > hpa.spec!.minReplicas!);
    const cpu = hpa.spec!.metrics!.find((m) => m.type === 'Resource' && m.resource?.name === 'cpu');
    assert.equal(cpu?.resource?.target.type, 'Utilization');
  });

  it('documents a valid queue-depth metric for the HPA (prometheus-adapter) in a comment', () => {
    const text = readFileSync(path.join(K8S, 'base/hpa.yaml'), 'utf8');
    const lines = text.split('\n');
    const start = lines.findIndex((l) => /^\s*# - type: Pods\s*$/.test(l));
    assert.ok(start >= 0, 'hpa.yaml has a commented Pods metric');
    const indent = lines[start]!.indexOf('#');
    const block: string[] = [];
    for (const l of lines.slice(start)) {
      if (!l.startsWith(`${' '.repeat(indent)}# `)) break;
      block.push(l.slice(indent + 2));
    }
    const metric = (parseYaml(block.join('\n')) as unknown[])[0] as { pods: { metric: { name: string } } };
    assert.equal(metric.pods.metric.name, 'inference_queue_depth');
    const hpa = structuredClone(one<IHorizontalPodAutoscaler>(render('base'), 'HorizontalPodAutoscaler', 'ortserve'));
    hpa.spec!.metrics = [...hpa.spec!.metrics!, metric as never];
    new HorizontalPodAutoscaler(hpa).validate();
    assert.match(readFileSync(path.join(ROOT, 'src/observability/metrics.ts'), 'utf8'), /name: 'inference_queue_depth'/);
  });

  it('lets voluntary disruptions take one server replica at a time', () => {
    const { pdb, labels } = scaling(render('base'));
    assert.ok(selects(pdb.spec!.selector!.matchLabels, labels), 'the PDB selects the server pods');
    assert.equal(pdb.spec!.maxUnavailable, 1);
  });
});

describe('k8s/overlays/dev', { skip: kubectlSkip }, () => {
  it('runs one replica, with no autoscaler and no PersistentVolumeClaim', () => {
    const objects = render('overlays/dev');
    const { deployment, hpa } = scaling(objects);
    assert.equal(deployment.spec!.replicas, 1);
    assert.equal(hpa, undefined);
    assert.deepEqual(all(objects, 'PersistentVolumeClaim'), []);
    assert.ok(deployment.spec!.template.spec!.volumes!.every((v) => !v.persistentVolumeClaim));
  });

  it("seeds the repository emptyDir with the image's bundled models before the server starts", () => {
    const objects = render('overlays/dev');
    const { deployment, container } = server(objects);
    const repo = containerEnv(objects, container).MODEL_REPOSITORY!;
    const volumeName = container.volumeMounts!.find((m) => m.mountPath === repo)!.name;
    const volume = deployment.spec!.template.spec!.volumes!.find((v) => v.name === volumeName)!;
    assert.ok(volume.emptyDir, 'the repository is an emptyDir');
    const inits = deployment.spec!.template.spec!.initContainers ?? [];
    assert.equal(inits.length, 1);
    const seed = inits[0]!;
    assert.equal(seed.image, container.image, 'the init container copies from the very image the server runs');
    const mount = seed.volumeMounts!.find((m) => m.name === volumeName);
    assert.ok(mount && mount.readOnly !== true, 'the init container mounts the repository volume writable');
    const cmd = seed.command ?? [];
    assert.equal(cmd[0], 'cp');
    assert.equal(cmd.at(-2)!.replace(/\/\.$/, ''), imageModelsPath(), 'copies where the Dockerfile put the models');
    assert.equal(cmd.at(-1)!.replace(/\/$/, ''), mount.mountPath.replace(/\/$/, ''), 'into the repository volume');
  });

  it('runs in development mode (a random JWT secret and a token in the log without a configured key)', () => {
    const objects = render('overlays/dev');
    assert.equal(containerEnv(objects, server(objects).container).NODE_ENV, 'development');
  });
});

describe('k8s/overlays/prod', { skip: kubectlSkip }, () => {
  it('runs more replicas than base, within an HPA range that starts there', () => {
    const prod = scaling(render('overlays/prod'));
    const base = scaling(render('base'));
    assert.ok(prod.deployment.spec!.replicas! > base.deployment.spec!.replicas!);
    assert.equal(prod.hpa!.spec!.minReplicas, prod.deployment.spec!.replicas);
    assert.ok(prod.hpa!.spec!.maxReplicas > base.hpa!.spec!.maxReplicas);
  });

  it('gives the server higher cpu and memory requests and limits than base', () => {
    const prod = server(render('overlays/prod')).container.resources!;
    const base = server(render('base')).container.resources!;
    for (const kind of ['requests', 'limits'] as const) {
      assert.ok(cores(prod[kind]!.cpu!) > cores(base[kind]!.cpu!), `cpu ${kind}`);
      assert.ok(quantityBytes(String(prod[kind]!.memory)) > quantityBytes(String(base[kind]!.memory)), `memory ${kind}`);
    }
  });

  it('shares the model repository on a ReadWriteMany claim', () => {
    const objects = render('overlays/prod');
    const { deployment, container } = server(objects);
    const repo = containerEnv(objects, container).MODEL_REPOSITORY!;
    const volumeName = container.volumeMounts!.find((m) => m.mountPath === repo)!.name;
    const claim = deployment.spec!.template.spec!.volumes!.find((v) => v.name === volumeName)!.persistentVolumeClaim?.claimName;
    assert.ok(claim, 'the repository is a PVC');
    const pvc = one<IPersistentVolumeClaim>(objects, 'PersistentVolumeClaim', claim);
    assert.deepEqual(pvc.spec!.accessModes, ['ReadWriteMany']);
  });

  it('points REDIS_URL at a Redis Service whose pods listen on its port, reachable from the server pods', () => {
    const objects = render('overlays/prod');
    const { container, deployment } = server(objects);
    const url = new URL(containerEnv(objects, container).REDIS_URL!);
    assert.equal(url.protocol, 'redis:');
    const svc = one<IService>(objects, 'Service', url.hostname);
    const svcPort = svc.spec!.ports!.find((p) => p.port === Number(url.port || 6379));
    assert.ok(svcPort, `the Service ${url.hostname} has port ${url.port}`);
    const redis = all<IDeployment>(objects, 'Deployment').filter((d) => selects(svc.spec!.selector, d.spec!.template.metadata!.labels));
    assert.equal(redis.length, 1, 'the Service selects exactly one Deployment');
    assert.notEqual(redis[0]!.metadata!.name, 'ortserve');
    const redisContainer = redis[0]!.spec!.template.spec!.containers[0]!;
    assert.match(redisContainer.image!, /^redis:/);
    const target = containerPort(redisContainer, svcPort.targetPort ?? svcPort.port);
    const policy = all<INetworkPolicy>(objects, 'NetworkPolicy').find((np) => selects(np.spec!.podSelector.matchLabels, redis[0]!.spec!.template.metadata!.labels));
    assert.ok(policy, 'a NetworkPolicy guards Redis');
    const serverLabels = deployment.spec!.template.metadata!.labels;
    const allowed = policy.spec!.ingress!.some(
      (r) => r.from?.some((f) => selects(f.podSelector?.matchLabels, serverLabels)) && r.ports?.some((p) => containerPort(redisContainer, p.port!) === target),
    );
    assert.ok(allowed, 'the server pods may reach the Redis port');
    assert.ok(!policy.spec!.ingress!.some((r) => !r.from || r.from.length === 0), 'nobody else may');
  });

  it('renders no Secret, so applying never overwrites the real JWT key, yet the server reads ortserve-jwt', () => {
    const objects = render('overlays/prod');
    assert.deepEqual(all(objects, 'Secret'), []);
    const { container } = server(objects);
    assert.ok(container.envFrom!.some((e) => e.secretRef?.name === 'ortserve-jwt' && e.secretRef.optional !== true), 'a missing Secret stops the pod instead of starting it without a key');
    assert.equal(containerEnv(objects, container).NODE_ENV, 'production');
  });
});
