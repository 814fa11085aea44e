/**
 * The chart installed on the real node the way a user installs it: `helm install` with its
 * defaults plus the two required values and the namespaces the fetcher may create its Secret in.
 * One function for the tier (real-node.test.ts) and the pod-start bench (bench/podstart), so the
 * bench always measures the chart exactly as the tests install it.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { provision } from '../../e2e/harness/provisioned.js';

const run = promisify(execFile);
export const CHART = fileURLToPath(new URL('../../../deploy/helm/dap-secret-webhook', import.meta.url));

export interface ChartInstall {
  /** The control plane's admin kubeconfig file. */
  kubeconfigPath: string;
  /** The fetcher image (a required value). */
  fetcherImage: string;
  /** MLP's API base URL (the other required value). */
  mlpUrl: string;
  /** Where the fetcher may create its per-pod Secret (the chart binds its RBAC per namespace). */
  fetcherNamespaces: string[];
  release?: string;
  releaseNamespace?: string;
}

/** `helm install … --wait`; rejects with helm's stderr. */
export async function installChart(o: ChartInstall): Promise<void> {
  const helm = await provision('helm.sh');
  await run(
    helm,
    [
      'install',
      o.release ?? 'dsw',
      CHART,
      '--namespace',
      o.releaseNamespace ?? 'dap-system',
      '--create-namespace',
      '--kubeconfig',
      o.kubeconfigPath,
      // The two required values…
      '--set',
      `fetcher.image=${o.fetcherImage}`,
      '--set',
      `mlp.apiHost=${o.mlpUrl}`,
      // …and where the fetcher may create its Secret.
      '--set-json',
      `fetcher.rbac.namespaces=${JSON.stringify(o.fetcherNamespaces)}`,
      '--wait',
      '--timeout',
      '8m',
    ],
    { timeout: 9 * 60_000, maxBuffer: 16 * 1024 * 1024 },
  ).catch((err: Error & { stderr?: string }) => {
    throw new Error(`helm install failed: ${err.stderr || err.message}`, { cause: err });
  });
}
