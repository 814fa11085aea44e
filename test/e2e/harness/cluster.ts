/**
 * Small steps scenarios repeat against the control plane, each waiting on the condition it
 * needs (bounded) instead of sleeping.
 */
import { ApiException, CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { waitFor } from './wait.js';

export interface NamespaceOptions {
  labels?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * Creates a namespace and waits until pods can be created in it: the ServiceAccount admission
 * plugin refuses pods until the controller manager has made the `default` service account, and
 * projected volumes need `kube-root-ca.crt`.
 */
export async function createNamespace(kc: KubeConfig, name: string, opts: NamespaceOptions = {}): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name, labels: opts.labels } } });
  await waitFor(
    async () => {
      await core.readNamespacedServiceAccount({ name: 'default', namespace: name });
      await core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: name });
      return true;
    },
    {
      what: `service account default and ConfigMap kube-root-ca.crt in new namespace ${name}`,
      timeoutMs: opts.timeoutMs ?? 30_000,
    },
  );
}

/** The pod as the API server stored it (after every admission plugin and webhook). */
export async function readPod(kc: KubeConfig, namespace: string, name: string): Promise<V1Pod> {
  return kc.makeApiClient(CoreV1Api).readNamespacedPod({ name, namespace });
}

/** undefined when the API server answers 404; other errors propagate. */
export async function readOrUndefined<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof ApiException && err.code === 404) return undefined;
    throw err;
  }
}

/** Waits until `read` answers 404 (e.g. a Secret the garbage collector removes). */
export async function waitForGone(read: () => Promise<unknown>, what: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(async () => ((await readOrUndefined(read)) === undefined ? true : undefined), {
    what: `${what} to be deleted`,
    timeoutMs,
    intervalMs: 200,
  });
}
