/**
 * The chart and the plain manifests set every env var the webhook reads (webhook/config.ts is the
 * one list), and nothing it does not read; deploy/README.md documents each one.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { CONFIG_VARS } from '../../../webhook/config.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string) => readFile(join(ROOT, path), 'utf8');
const wanted = CONFIG_VARS.map((v) => v.name).sort();

describe('deploy/: env coverage', () => {
  it('the Helm chart sets every CONFIG_VARS env var, and only those', async () => {
    const tpl = await read('deploy/helm/dap-secret-webhook/templates/_env.tpl');
    const names = [...tpl.matchAll(/^- name: ([A-Z0-9_]+)$/gm)].map((m) => m[1]!).sort();
    assert.deepEqual(names, wanted);
  });

  it('the kustomize base Deployment sets every CONFIG_VARS env var, and only those', async () => {
    const deployment = parse(await read('deploy/kustomize/base/deployment.yaml')) as {
      spec: { template: { spec: { containers: { name: string; env: { name: string }[] }[] } } };
    };
    const webhook = deployment.spec.template.spec.containers.find((c) => c.name === 'webhook')!;
    assert.deepEqual(webhook.env.map((e) => e.name).sort(), wanted);
  });

  it('deploy/README.md has a row for every env var', async () => {
    const readme = await read('deploy/README.md');
    const missing = wanted.filter((name) => !new RegExp(`^\\|[^\\n]*\`${name}\``, 'm').test(readme));
    assert.deepEqual(missing, [], `add a table row for ${missing.join(', ')}`);
  });
});
