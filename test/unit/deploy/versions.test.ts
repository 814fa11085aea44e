/**
 * One version story: the minimum Kubernetes version is stated in the chart's kubeVersion, the top
 * README, deploy/README.md and the kustomize base, and they all say the same. Any "Kubernetes
 * ≥ 1.N" / "Kubernetes 1.N or newer" / ">= 1.N" in those files must name that minimum or a
 * version above it that the sentence gives as a feature's (never a lower one).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

const ROOT = resolve(import.meta.dirname, '../../..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

const STATEMENTS = ['README.md', 'deploy/README.md', 'deploy/kustomize/base/kustomization.yaml'];
const MENTIONS = [
  ...STATEMENTS,
  'deploy/helm/dap-secret-webhook/values.yaml',
  'deploy/helm/dap-secret-webhook/templates/fetcher-secret-policy.yaml',
  'deploy/kustomize/base/fetcher-secret-policy.yaml',
];

function chartMinimum(): string {
  const kubeVersion = (parse(read('deploy/helm/dap-secret-webhook/Chart.yaml')) as { kubeVersion: string }).kubeVersion;
  const match = /^>=\s*(1\.\d+)\.0-0$/.exec(kubeVersion);
  assert.ok(match, `Chart.yaml kubeVersion ${JSON.stringify(kubeVersion)} is not ">=1.N.0-0"`);
  return match[1]!;
}

const minor = (v: string): number => Number(v.split('.')[1]);

describe('deploy/: one minimum Kubernetes version', () => {
  it("README, deploy/README.md and the kustomize base state the chart's kubeVersion as the minimum", () => {
    const minimum = chartMinimum();
    for (const file of STATEMENTS) {
      assert.match(
        read(file),
        new RegExp(`Kubernetes ${minimum.replace('.', '\\.')} or newer`),
        `${file} does not say "Kubernetes ${minimum} or newer"`,
      );
    }
  });

  it('no file names a lower Kubernetes version as a requirement', () => {
    const minimum = minor(chartMinimum());
    for (const file of MENTIONS) {
      for (const m of read(file).matchAll(/Kubernetes\s*(?:≥|>=)?\s*(1\.\d+)(?:\s+or newer)?/g)) {
        assert.ok(minor(m[1]!) >= minimum, `${file}: "${m[0]}" is below the minimum 1.${minimum}`);
      }
    }
  });
});
