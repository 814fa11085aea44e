/**
 * What the deploy tests do against the harness's real API server: server-side dry-run of every
 * rendered object, stand-in CRDs for the kinds the harness does not serve, and clients that act
 * as a ServiceAccount with a real token (so RBAC is exercised, not simulated).
 */
import {
  ApiException,
  ApiextensionsV1Api,
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import type { ControlPlane } from '../harness/controlPlane.js';
import { waitFor } from '../harness/wait.js';

export function describeObject(obj: KubernetesObject): string {
  return `${obj.kind} ${obj.metadata?.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata?.name}`;
}

function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    try {
      const body = (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as { message?: string };
      return `HTTP ${err.code}: ${body.message ?? JSON.stringify(body)}`;
    } catch {
      return `HTTP ${err.code}: ${String(err.body)}`;
    }
  }
  return (err as Error).message;
}

/**
 * Server-side dry-run: full validation and admission (PSA included), nothing stored. A create,
 * or — when another suite sharing the control plane already made the object (the fetcher
 * ClusterRole) — a dry-run replace, which validates the same way.
 */
export async function dryRunCreate(kc: KubeConfig, obj: KubernetesObject): Promise<KubernetesObject> {
  const client = KubernetesObjectApi.makeApiClient(kc);
  try {
    return await client.create(obj, undefined, 'All', 'dap-deploy-test');
  } catch (err) {
    if (err instanceof ApiException && err.code === 409) {
      try {
        const existing = await client.read({
          apiVersion: obj.apiVersion!,
          kind: obj.kind!,
          metadata: { name: obj.metadata!.name!, namespace: obj.metadata?.namespace },
        });
        return await client.replace(
          { ...obj, metadata: { ...obj.metadata, resourceVersion: existing.metadata?.resourceVersion } },
          undefined,
          'All',
          'dap-deploy-test',
        );
      } catch (replaceErr) {
        throw new Error(`the API server rejected ${describeObject(obj)}: ${apiMessage(replaceErr)}`, {
          cause: replaceErr,
        });
      }
    }
    throw new Error(`the API server rejected ${describeObject(obj)}: ${apiMessage(err)}`, { cause: err });
  }
}

/** Creates (for real) or leaves alone when it already exists. */
export async function createIfAbsent(kc: KubeConfig, obj: KubernetesObject): Promise<void> {
  try {
    await KubernetesObjectApi.makeApiClient(kc).create(obj);
  } catch (err) {
    if (err instanceof ApiException && err.code === 409) return;
    throw new Error(`creating ${describeObject(obj)} failed: ${apiMessage(err)}`, { cause: err });
  }
}

/** Namespaces for dry-runs; created for real (a dry-run cannot place objects in a dry-run namespace). */
export async function ensureNamespace(
  kc: KubeConfig,
  name: string,
  labels: Record<string, string> = {},
): Promise<void> {
  await createIfAbsent(kc, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
}

/**
 * Stand-ins for cert-manager's Certificate/Issuer and the Prometheus Operator's ServiceMonitor:
 * the right group, version, kind and scope, and a schema that accepts any spec. The API server
 * therefore checks only apiVersion, kind, namespace and metadata of those objects; their fields
 * are asserted by the tests themselves.
 */
const STAND_IN_CRDS: { group: string; kind: string; plural: string }[] = [
  { group: 'cert-manager.io', kind: 'Certificate', plural: 'certificates' },
  { group: 'cert-manager.io', kind: 'Issuer', plural: 'issuers' },
  { group: 'monitoring.coreos.com', kind: 'ServiceMonitor', plural: 'servicemonitors' },
];

export async function installStandInCrds(kc: KubeConfig): Promise<void> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  for (const { group, kind, plural } of STAND_IN_CRDS) {
    const name = `${plural}.${group}`;
    const crd: V1CustomResourceDefinition = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name },
      spec: {
        group,
        scope: 'Namespaced',
        names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', x_kubernetes_preserve_unknown_fields: true } },
          },
        ],
      },
    };
    try {
      await api.createCustomResourceDefinition({ body: crd });
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 409))
        throw new Error(`creating CRD ${name} failed: ${apiMessage(err)}`, { cause: err });
    }
    const established = await waitFor(
      async () => {
        const got = await api.readCustomResourceDefinition({ name });
        return got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ? got : undefined;
      },
      { what: `CRD ${name} to be Established`, timeoutMs: 30_000, intervalMs: 100 },
    );
    // Without this the API server would prune every spec field silently.
    if (established.spec.versions[0]?.schema?.openAPIV3Schema?.x_kubernetes_preserve_unknown_fields !== true) {
      throw new Error(`CRD ${name} does not preserve unknown fields`);
    }
  }
}

/** A client authenticated as namespace/serviceAccount with a freshly requested token. */
export async function clientAs(cp: ControlPlane, namespace: string, serviceAccount: string): Promise<KubeConfig> {
  const core = cp.kubeConfig.makeApiClient(CoreV1Api);
  const req = await core.createNamespacedServiceAccountToken({
    name: serviceAccount,
    namespace,
    body: { spec: { audiences: cp.apiAudiences, expirationSeconds: 600 } },
  });
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'e2e', server: cp.apiUrl, caData: Buffer.from(cp.caPem).toString('base64') }],
    users: [{ name: serviceAccount, token: req.status!.token }],
    contexts: [{ name: 'e2e', cluster: 'e2e', user: serviceAccount, namespace }],
    currentContext: 'e2e',
  });
  return kc;
}

/** The HTTP status of an API call: 2xx, or the ApiException's code. */
export async function statusOf(call: () => Promise<unknown>): Promise<number> {
  try {
    await call();
    return 200;
  } catch (err) {
    if (err instanceof ApiException) return err.code;
    throw err;
  }
}
