/**
 * The downward API as the kubelet resolves it, for a pod the harness read back from the API
 * server. No node runs the pod, so node- and IP-valued fields are empty, as they would be before
 * scheduling.
 */
import type { V1Pod } from '@kubernetes/client-node';

export function resolveFieldRef(pod: V1Pod, fieldPath: string): string {
  const meta = pod.metadata ?? {};
  const mapEntry = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (mapEntry) {
    const map = mapEntry[1] === 'labels' ? meta.labels : meta.annotations;
    return map?.[mapEntry[2]!] ?? '';
  }
  switch (fieldPath) {
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
    case 'metadata.labels':
      return formatMap(meta.labels);
    case 'metadata.annotations':
      return formatMap(meta.annotations);
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'status.hostIP':
    case 'status.hostIPs':
    case 'status.podIP':
    case 'status.podIPs':
      return '';
    default:
      throw new Error(
        `the kubelet step does not resolve fieldRef ${JSON.stringify(fieldPath)} (pod ${meta.namespace}/${meta.name}); extend test/e2e/harness/downward.ts`,
      );
  }
}

/** The kubelet's format for a whole label or annotation map: sorted `key="value"` lines. */
function formatMap(map: Record<string, string> | undefined): string {
  return Object.keys(map ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(map![k])}`)
    .join('\n');
}
