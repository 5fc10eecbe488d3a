// k8s/: every kustomization renders with the real `kubectl kustomize`, and every object it renders is valid
// against its kind's Kubernetes OpenAPI schema (kubernetes-models; ServiceMonitor and PrometheusRule with
// @kubernetes-models/prometheus-operator), offline, with no unknown field anywhere.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KINDS, KUSTOMIZATIONS, kindKey, kubectlSkip, render } from './manifests.js';
import { unknownFields } from './schema-check.js';

const EXPECTED: Record<(typeof KUSTOMIZATIONS)[number], string[]> = {
  base: ['Namespace', 'ServiceAccount', 'ConfigMap', 'Secret', 'PersistentVolumeClaim', 'Deployment', 'Service', 'PodDisruptionBudget', 'HorizontalPodAutoscaler', 'NetworkPolicy', 'ServiceMonitor', 'PrometheusRule'],
  'overlays/dev': ['Namespace', 'ServiceAccount', 'ConfigMap', 'Secret', 'Deployment', 'Service', 'PodDisruptionBudget', 'NetworkPolicy', 'ServiceMonitor', 'PrometheusRule'],
  'overlays/prod': ['Namespace', 'ServiceAccount', 'ConfigMap', 'PersistentVolumeClaim', 'Deployment', 'Service', 'PodDisruptionBudget', 'HorizontalPodAutoscaler', 'NetworkPolicy', 'ServiceMonitor', 'PrometheusRule'],
};

for (const dir of KUSTOMIZATIONS) {
  describe(`k8s/${dir}`, { skip: kubectlSkip }, () => {
    it('renders with kubectl kustomize into the kinds this kustomization promises', () => {
      const kinds = new Set(render(dir).map((o) => o.kind));
      assert.deepEqual([...kinds].sort(), [...EXPECTED[dir]].sort());
    });

    it('puts every namespaced object into the one Namespace it creates', () => {
      const objects = render(dir);
      const namespaces = objects.filter((o) => o.kind === 'Namespace');
      assert.equal(namespaces.length, 1);
      for (const o of objects) if (o.kind !== 'Namespace') assert.equal(o.metadata.namespace, namespaces[0]!.metadata.name, `${o.kind} ${o.metadata.name}`);
    });

    it('gives no two objects of one kind the same name', () => {
      const names = render(dir).map((o) => `${o.kind}/${o.metadata.name}`);
      assert.deepEqual(names.filter((n, i) => names.indexOf(n) !== i), []);
    });

    it("validates every rendered object against its kind's Kubernetes schema", () => {
      const problems: string[] = [];
      for (const o of render(dir)) {
        const entry = KINDS[kindKey(o)];
        if (!entry) {
          problems.push(`${kindKey(o)} ${o.metadata.name}: no schema for this kind (add it to test/deploy/manifests.ts)`);
          continue;
        }
        try {
          new entry.model(o as never).validate();
        } catch (err) {
          problems.push(`${o.kind} ${o.metadata.name}: ${(err as Error).message}`);
        }
      }
      assert.deepEqual(problems, []);
    });

    it('uses no field that the schema of its kind does not declare', () => {
      assert.deepEqual(unknownFields(render(dir)), []);
    });
  });
}

describe('the schema checks themselves', { skip: kubectlSkip }, () => {
  it('reject a misspelt field, a wrong type and a missing required field', () => {
    const deployment = structuredClone(render('base').find((o) => o.kind === 'Deployment')!) as Record<string, any>;
    const container = deployment.spec.template.spec.containers[0];
    container.readinesProbe = container.readinessProbe;
    assert.match(unknownFields([deployment as never]).join('\n'), /readinesProbe/);

    const wrongType = structuredClone(deployment);
    wrongType.spec.replicas = 'two';
    assert.throws(() => new KINDS['apps/v1/Deployment']!.model(wrongType as never).validate(), /replicas/);

    const rule = structuredClone(render('base').find((o) => o.kind === 'PrometheusRule')!) as Record<string, any>;
    delete rule.spec.groups[0].rules[0].expr;
    assert.throws(() => new KINDS['monitoring.coreos.com/v1/PrometheusRule']!.model(rule as never).validate(), /expr/);
  });
});
