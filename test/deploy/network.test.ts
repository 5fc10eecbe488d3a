// How traffic reaches the server pods in every kustomization: the Service and the ServiceMonitor find them by
// labels and named ports that exist, ports match the environment (PORT, METRICS_PORT, ADMIN_PORT), and the
// NetworkPolicy opens the API port to clients, the metrics port to the monitoring namespace, and nothing else.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IService } from 'kubernetes-models/v1/Service';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { KUSTOMIZATIONS, containerEnv, containerPort, kubectlSkip, one, render, server } from './manifests.js';

function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function ports(dir: (typeof KUSTOMIZATIONS)[number]) {
  const objects = render(dir);
  const { deployment, container } = server(objects);
  const env = containerEnv(objects, container);
  return {
    objects,
    container,
    podLabels: deployment.spec!.template.metadata!.labels!,
    api: Number(env.PORT ?? 8080),
    metrics: Number(env.METRICS_PORT),
    admin: Number(env.ADMIN_PORT),
  };
}

for (const dir of KUSTOMIZATIONS) {
  describe(`traffic to the server in k8s/${dir}`, { skip: kubectlSkip }, () => {
    it('declares the container ports the server listens on: PORT, METRICS_PORT and ADMIN_PORT', () => {
      const p = ports(dir);
      assert.ok(p.metrics > 0 && p.admin > 0, 'METRICS_PORT and ADMIN_PORT are set');
      assert.equal(containerPort(p.container, 'http'), p.api);
      assert.equal(containerPort(p.container, 'metrics'), p.metrics);
      assert.equal(containerPort(p.container, 'admin'), p.admin);
    });

    it('has a Service that selects the server pods and exposes the API and metrics ports, never the admin port', () => {
      const p = ports(dir);
      const svc = one<IService>(p.objects, 'Service', 'ortserve');
      assert.ok(selects(svc.spec!.selector, p.podLabels), 'the Service selector matches the pod template labels');
      const targets = svc.spec!.ports!.map((sp) => containerPort(p.container, sp.targetPort ?? sp.port));
      assert.deepEqual(targets.sort(), [p.api, p.metrics].sort());
    });

    it('scrapes every replica on the metrics port through a ServiceMonitor that selects the Service', () => {
      const p = ports(dir);
      const svc = one<IService>(p.objects, 'Service', 'ortserve');
      const sm = one<IServiceMonitor>(p.objects, 'ServiceMonitor', 'ortserve');
      assert.ok(selects(sm.spec.selector.matchLabels, svc.metadata!.labels), 'the ServiceMonitor selects the Service by its labels');
      assert.equal(sm.spec.endpoints!.length, 1);
      const ep = sm.spec.endpoints![0]!;
      assert.equal(ep.path ?? '/metrics', '/metrics');
      const svcPort = svc.spec!.ports!.find((sp) => sp.name === ep.port);
      assert.ok(svcPort, `the Service has a port named ${ep.port}`);
      assert.equal(containerPort(p.container, svcPort.targetPort ?? svcPort.port), p.metrics);
    });

    it('lets clients reach only the API port, the monitoring namespace only the metrics port, nobody the admin port', () => {
      const p = ports(dir);
      const np = one<INetworkPolicy>(p.objects, 'NetworkPolicy', 'ortserve');
      assert.ok(selects(np.spec!.podSelector.matchLabels, p.podLabels), 'the policy selects the server pods');
      assert.deepEqual(np.spec!.policyTypes, ['Ingress']);
      const rules = np.spec!.ingress ?? [];
      const opened = new Map<number, string[]>();
      for (const rule of rules) {
        assert.ok(rule.ports && rule.ports.length > 0, 'every rule names its ports (a rule without ports opens all of them)');
        const who = rule.from === undefined || rule.from.length === 0 ? ['anyone'] : rule.from.map((f) => JSON.stringify(f));
        for (const port of rule.ports) {
          assert.equal(port.protocol ?? 'TCP', 'TCP');
          const n = containerPort(p.container, port.port!);
          opened.set(n, [...(opened.get(n) ?? []), ...who]);
        }
      }
      assert.deepEqual(opened.get(p.api), ['anyone']);
      assert.deepEqual(opened.get(p.metrics), [JSON.stringify({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } })]);
      assert.equal(opened.get(p.admin), undefined, 'no rule opens the admin port');
      assert.deepEqual([...opened.keys()].sort(), [p.api, p.metrics].sort());
    });
  });
}
