// The PrometheusRule that every kustomization renders carries exactly the alert groups of monitoring/alerts.yml
// (k8s/generate-prometheusrule.mjs copies them), and those groups, as rendered, pass `promtool check rules`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ROOT } from '../helpers/server.js';
import { KUSTOMIZATIONS, kubectlSkip, one, render } from './manifests.js';
// @ts-expect-error: a plain ES module script without type declarations
import { renderPrometheusRule } from '../../k8s/generate-prometheusrule.mjs';

const PROMTOOL = process.env.PROMTOOL ?? '/usr/bin/promtool';
/** Without promtool its check is skipped, except in CI (CI=true), where it fails. */
const promtoolSkip = existsSync(PROMTOOL) || process.env.CI === 'true' ? false : `${PROMTOOL} not found (Debian package prometheus); set CI=true to make this a failure`;
const ALERTS_TEXT = readFileSync(path.join(ROOT, 'monitoring/alerts.yml'), 'utf8');
const ALERT_GROUPS = (parseYaml(ALERTS_TEXT) as { groups: unknown[] }).groups;

describe('the generator of k8s/base/prometheusrule.yaml', () => {
  it('copies the groups of monitoring/alerts.yml unchanged under spec', () => {
    const rule = parseYaml(renderPrometheusRule(ALERTS_TEXT) as string) as IPrometheusRule;
    assert.equal(rule.kind, 'PrometheusRule');
    assert.deepEqual(rule.spec.groups, ALERT_GROUPS);
  });

  it('refuses a file without top-level groups', () => {
    assert.throws(() => renderPrometheusRule('rules: []\n'), /groups/);
  });
});

for (const dir of KUSTOMIZATIONS) {
  describe(`the PrometheusRule of k8s/${dir}`, { skip: kubectlSkip }, () => {
    let tmp: string;
    before(async () => {
      tmp = await mkdtemp(path.join(os.tmpdir(), 'ortserve-rules-'));
    });
    after(() => rm(tmp, { recursive: true, force: true }));

    it('has exactly the groups of monitoring/alerts.yml (else run `node k8s/generate-prometheusrule.mjs`)', () => {
      const rule = one<IPrometheusRule>(render(dir), 'PrometheusRule', 'ortserve');
      assert.ok(ALERT_GROUPS.length > 0);
      assert.deepEqual(rule.spec.groups, ALERT_GROUPS);
    });

    it('passes promtool check rules', { skip: promtoolSkip }, async () => {
      assert.ok(existsSync(PROMTOOL), `${PROMTOOL} is required when CI=true (apt-get install prometheus)`);
      const rule = one<IPrometheusRule>(render(dir), 'PrometheusRule', 'ortserve');
      const file = path.join(tmp, 'rules.yml');
      await writeFile(file, stringifyYaml({ groups: rule.spec.groups }));
      const r = spawnSync(PROMTOOL, ['check', 'rules', file], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
      const count = rule.spec.groups!.reduce((n, g) => n + (g.rules?.length ?? 0), 0);
      assert.match(r.stdout, new RegExp(`SUCCESS: ${count} rules found`));
    });
  });
}
