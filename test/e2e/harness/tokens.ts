/**
 * Projected service-account tokens, minted the way the kubelet does: a TokenRequest for the
 * pod's service account, bound to the pod, so the token dies with the pod.
 */
import { CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';

export interface PodTokenOptions {
  /** Audiences the token is for; empty or absent means the API server's own audiences. */
  audiences?: string[];
  /** The API server raises anything below 600 s to 600 s; the kubelet asks for 3600 s by default. */
  expirationSeconds?: number;
}

export interface PodToken {
  token: string;
  expirationTimestamp: Date;
}

export async function mintPodToken(kc: KubeConfig, pod: V1Pod, opts: PodTokenOptions = {}): Promise<PodToken> {
  const { name, namespace, uid } = pod.metadata ?? {};
  if (!name || !namespace || !uid) {
    throw new Error(
      `cannot bind a token to pod ${namespace ?? '?'}/${name ?? '?'}: read the stored pod first (it needs name, namespace and uid)`,
    );
  }
  const serviceAccount = pod.spec?.serviceAccountName || 'default';
  const response = await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: {
      spec: {
        audiences: opts.audiences ?? [],
        expirationSeconds: opts.expirationSeconds ?? 3600,
        boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name, uid },
      },
    },
  });
  const token = response.status?.token;
  if (!token)
    throw new Error(
      `the API server returned no token for service account ${namespace}/${serviceAccount} (pod ${name})`,
    );
  return { token, expirationTimestamp: new Date(response.status?.expirationTimestamp ?? 0) };
}
