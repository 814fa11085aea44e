/**
 * The fetcher's permissions in a Flyte namespace, applied the way an operator would.
 * TODO(e2e): apply deploy/'s fetcher RBAC instead of the fixture once deploy/ has plain manifests.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { applyManifests } from './manifests.js';

const FETCHER_RBAC = fileURLToPath(new URL('../fixtures/fetcher-rbac.yaml', import.meta.url));

export async function grantFetcherRbac(kc: KubeConfig, namespace: string): Promise<KubernetesObject[]> {
  const text = (await readFile(FETCHER_RBAC, 'utf8')).replaceAll('${NAMESPACE}', namespace);
  return applyManifests(kc, text, { source: FETCHER_RBAC });
}
