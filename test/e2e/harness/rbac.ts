/**
 * The fetcher's permissions in a Flyte namespace, from deploy/ exactly as an operator applies
 * them: the ClusterRole deploy/kustomize/base/fetcher-rbac.yaml as it is, and the example
 * overlay's RoleBinding (every ServiceAccount of a Flyte `<project>-<domain>` namespace) moved
 * to the test's namespace. No hand-written grant.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { KubeConfig, KubernetesObject, V1RoleBinding } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { applyManifests } from './manifests.js';

const deployFile = (path: string) => fileURLToPath(new URL(`../../../deploy/kustomize/${path}`, import.meta.url));
const CLUSTER_ROLE = deployFile('base/fetcher-rbac.yaml');
const ROLE_BINDINGS = deployFile('overlays/example/fetcher-rolebindings.yaml');

/** The example overlay's first RoleBinding, bound in `namespace` instead of the example's. */
async function roleBindingFor(namespace: string): Promise<string> {
  const [first] = parseAllDocuments(await readFile(ROLE_BINDINGS, 'utf8')).map((d) => d.toJS() as V1RoleBinding);
  if (!first?.subjects?.[0]) throw new Error(`${ROLE_BINDINGS} has no RoleBinding with a subject`);
  const example = first.metadata!.namespace!;
  first.metadata!.namespace = namespace;
  first.subjects = first.subjects.map((s) => ({ ...s, name: s.name.replace(example, namespace) }));
  return stringify(first);
}

export async function grantFetcherRbac(kc: KubeConfig, namespace: string): Promise<KubernetesObject[]> {
  const applied = await applyManifests(kc, await readFile(CLUSTER_ROLE, 'utf8'), { source: CLUSTER_ROLE });
  return [...applied, ...(await applyManifests(kc, await roleBindingFor(namespace), { source: ROLE_BINDINGS }))];
}
