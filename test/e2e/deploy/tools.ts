/**
 * helm and kustomize for the deploy tests: built and cached by test/e2e/provision/{helm,kustomize}.sh
 * (which print the binary's path), then run with arguments only, never through a shell.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { KubernetesObject } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { parseManifests } from '../harness/manifests.js';

const run = promisify(execFile);
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHART_DIR = join(REPO_ROOT, 'deploy/helm/dap-secret-webhook');
export const KUSTOMIZE_BASE = join(REPO_ROOT, 'deploy/kustomize/base');
export const KUSTOMIZE_OVERLAY = join(REPO_ROOT, 'deploy/kustomize/overlays/example');

/** A cold machine compiles the tools from the Go module proxy (a few minutes); warm: instant. */
export const PROVISION_TIMEOUT_MS = 30 * 60 * 1000;

const tools = new Map<string, Promise<string>>();
function tool(script: string): Promise<string> {
  let path = tools.get(script);
  if (!path) {
    path = run('bash', [join(REPO_ROOT, 'test/e2e/provision', script)], {
      timeout: PROVISION_TIMEOUT_MS,
      maxBuffer: 64 * 1024 * 1024,
    })
      .then(({ stdout }) => stdout.trim().split('\n').at(-1) ?? '')
      .catch((err: Error & { stderr?: string }) => {
        tools.delete(script);
        throw new Error(
          `test/e2e/provision/${script} failed; run \`npm run provision\` to see why.\n${(err.stderr ?? '').split('\n').slice(-20).join('\n')}`,
        );
      });
    tools.set(script, path);
  }
  return path;
}

const helmBinary = () => tool('helm.sh');
const kustomizeBinary = () => tool('kustomize.sh');

export interface Rendered {
  text: string;
  objects: KubernetesObject[];
}

/** `helm template RELEASE CHART -n NAMESPACE -f values.yaml`; values are written to a temp file. */
export async function helmTemplate(
  release: string,
  namespace: string,
  values: object,
  extraArgs: string[] = [],
): Promise<Rendered> {
  const helm = await helmBinary();
  const dir = await mkdtemp(join(tmpdir(), 'dap-helm-values-'));
  try {
    const file = join(dir, 'values.yaml');
    await writeFile(file, stringify(values));
    const { stdout } = await run(
      helm,
      ['template', release, CHART_DIR, '--namespace', namespace, '--values', file, ...extraArgs],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    return { text: stdout, objects: parseManifests(stdout, `helm template ${release}`) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `helm lint --strict` with these values; returns its output (throws when it fails). */
export async function helmLint(values: object): Promise<string> {
  const helm = await helmBinary();
  const dir = await mkdtemp(join(tmpdir(), 'dap-helm-values-'));
  try {
    const file = join(dir, 'values.yaml');
    await writeFile(file, stringify(values));
    const { stdout } = await run(helm, ['lint', '--strict', CHART_DIR, '--values', file]);
    return stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The message of a failed `helm template` (the chart's own `fail` sentence). */
export async function helmTemplateError(values: object, extraArgs: string[] = []): Promise<string> {
  try {
    await helmTemplate('dsw-fail', 'dsw-fail', values, extraArgs);
  } catch (err) {
    return (err as Error & { stderr?: string }).stderr ?? (err as Error).message;
  }
  throw new Error('helm template succeeded but was expected to fail');
}

export async function kustomizeBuild(dir: string): Promise<Rendered> {
  const kustomize = await kustomizeBinary();
  const { stdout } = await run(kustomize, ['build', dir], { maxBuffer: 16 * 1024 * 1024 });
  return { text: stdout, objects: parseManifests(stdout, `kustomize build ${dir}`) };
}
