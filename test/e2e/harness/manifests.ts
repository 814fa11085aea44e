/**
 * Apply YAML manifests (multi-document) to the control plane with server-side apply, as
 * `kubectl apply --server-side` would: idempotent, so a scenario may apply the same file twice.
 */
import { type KubeConfig, type KubernetesObject, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';

const FIELD_MANAGER = 'dap-e2e-harness';

export interface ApplyOptions {
  /** Namespace for namespaced objects that name none. */
  namespace?: string;
}

export function parseManifests(text: string, source = 'manifest'): KubernetesObject[] {
  const objects: KubernetesObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) continue;
    const list = (value as { kind?: string; items?: KubernetesObject[] }).kind?.endsWith('List')
      ? ((value as { items?: KubernetesObject[] }).items ?? [])
      : [value as KubernetesObject];
    for (const obj of list) {
      if (!obj.apiVersion || !obj.kind || !obj.metadata?.name)
        throw new Error(
          `${source}: every object needs apiVersion, kind and metadata.name (got ${JSON.stringify(obj).slice(0, 200)})`,
        );
      objects.push(obj);
    }
  }
  return objects;
}

export async function applyManifests(
  kc: KubeConfig,
  text: string,
  opts: ApplyOptions & { source?: string } = {},
): Promise<KubernetesObject[]> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  const applied: KubernetesObject[] = [];
  for (const obj of parseManifests(text, opts.source)) {
    const spec =
      opts.namespace && !obj.metadata?.namespace
        ? { ...obj, metadata: { ...obj.metadata, namespace: opts.namespace } }
        : obj;
    try {
      applied.push(await client.patch(spec, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply));
    } catch (err) {
      throw new Error(
        `applying ${obj.kind} ${obj.metadata?.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata?.name} from ${opts.source ?? 'manifest'} failed: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  return applied;
}
