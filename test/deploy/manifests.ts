// Test helpers for k8s/: render a kustomization with the real `kubectl kustomize`, look objects up by kind and
// name, and map each apiVersion/kind to its kubernetes-models class (schema validation) and type (field names).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { ROOT } from '../helpers/server.js';

export const K8S = path.join(ROOT, 'k8s');
export const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl';
/** Without kubectl the rendering tests are skipped, except in CI (CI=true), where they fail. */
export const kubectlSkip = existsSync(KUBECTL) || process.env.CI === 'true' ? false : `${KUBECTL} not found (set KUBECTL); set CI=true to make this a failure`;

/** Every kustomization a user may apply: the base on its own and each overlay. */
export const KUSTOMIZATIONS = ['base', 'overlays/dev', 'overlays/prod'] as const;
export type Kustomization = (typeof KUSTOMIZATIONS)[number];

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

interface ModelClass {
  new (data: never): { validate(): void };
}

/** The schema class and the TypeScript type (module, interface) of every kind the manifests may contain. */
export const KINDS: Record<string, { model: ModelClass; module: string }> = {
  'v1/Namespace': { model: Namespace, module: 'kubernetes-models/v1/Namespace' },
  'v1/ServiceAccount': { model: ServiceAccount, module: 'kubernetes-models/v1/ServiceAccount' },
  'v1/ConfigMap': { model: ConfigMap, module: 'kubernetes-models/v1/ConfigMap' },
  'v1/Secret': { model: Secret, module: 'kubernetes-models/v1/Secret' },
  'v1/Service': { model: Service, module: 'kubernetes-models/v1/Service' },
  'v1/PersistentVolumeClaim': { model: PersistentVolumeClaim, module: 'kubernetes-models/v1/PersistentVolumeClaim' },
  'apps/v1/Deployment': { model: Deployment, module: 'kubernetes-models/apps/v1/Deployment' },
  'autoscaling/v2/HorizontalPodAutoscaler': { model: HorizontalPodAutoscaler, module: 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler' },
  'networking.k8s.io/v1/NetworkPolicy': { model: NetworkPolicy, module: 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy' },
  'policy/v1/PodDisruptionBudget': { model: PodDisruptionBudget, module: 'kubernetes-models/policy/v1/PodDisruptionBudget' },
  'monitoring.coreos.com/v1/ServiceMonitor': { model: ServiceMonitor as unknown as ModelClass, module: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor' },
  'monitoring.coreos.com/v1/PrometheusRule': { model: PrometheusRule as unknown as ModelClass, module: '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule' },
};

export function kindKey(o: { apiVersion: string; kind: string }): string {
  return `${o.apiVersion}/${o.kind}`;
}

const rendered = new Map<string, K8sObject[]>();

/** `kubectl kustomize k8s/<dir>` parsed into objects (cached per file run). */
export function render(dir: Kustomization): K8sObject[] {
  const cached = rendered.get(dir);
  if (cached) return cached;
  assert.ok(existsSync(KUBECTL), `${KUBECTL} is required when CI=true`);
  const r = spawnSync(KUBECTL, ['kustomize', path.join(K8S, dir)], { encoding: 'utf8' });
  assert.equal(r.status, 0, `kubectl kustomize k8s/${dir} failed:\n${r.stderr}`);
  const docs = parseAllDocuments(r.stdout);
  const objects: K8sObject[] = [];
  for (const doc of docs) {
    assert.deepEqual(doc.errors, [], `k8s/${dir} renders invalid YAML`);
    const o = doc.toJS() as K8sObject | null;
    if (o) objects.push(o);
  }
  rendered.set(dir, objects);
  return objects;
}

export function all<T = K8sObject>(objects: K8sObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as unknown as T[];
}

export function one<T = K8sObject>(objects: K8sObject[], kind: string, name: string): T {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  assert.equal(found.length, 1, `expected one ${kind} named ${name}, found ${found.length}`);
  return found[0] as unknown as T;
}

export function maybe<T = K8sObject>(objects: K8sObject[], kind: string, name: string): T | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name) as unknown as T | undefined;
}

/** The ortserve server Deployment and its one container. */
export function server(objects: K8sObject[]): { deployment: IDeployment; container: IContainer } {
  const deployment = one<IDeployment>(objects, 'Deployment', 'ortserve');
  const container = deployment.spec!.template.spec!.containers.find((c) => c.name === 'ortserve');
  assert.ok(container, 'the ortserve Deployment has a container named ortserve');
  return { deployment, container };
}

/**
 * The environment the server container sees: its envFrom ConfigMaps and Secrets (in order), then its `env`
 * entries with literal values. Secret values come from the rendered Secret when there is one.
 */
export function containerEnv(objects: K8sObject[], container: IContainer): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef) {
      const cm = one<{ data?: Record<string, string> }>(objects, 'ConfigMap', from.configMapRef.name!);
      Object.assign(env, cm.data ?? {});
    }
    if (from.secretRef) {
      const s = maybe<{ stringData?: Record<string, string>; data?: Record<string, string> }>(objects, 'Secret', from.secretRef.name!);
      const decoded = Object.fromEntries(Object.entries(s?.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
      Object.assign(env, decoded, s?.stringData ?? {});
    }
  }
  for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  return env;
}

/** A container port given by name or number, as a number. */
export function containerPort(container: IContainer, port: string | number): number {
  if (typeof port === 'number') return port;
  const p = container.ports?.find((x) => x.name === port);
  assert.ok(p, `container ${container.name} has no port named ${port}`);
  return p.containerPort;
}
