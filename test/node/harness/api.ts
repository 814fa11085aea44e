/**
 * Creating objects the way a user sees the answer: the API server's `Warning` headers (what
 * kubectl prints as "Warning: ...") are part of the result, which the typed client drops.
 */
import { request } from 'node:https';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';

export interface CreateResult<T> {
  status: number;
  /** Every `Warning` header value, as sent (e.g. `299 - "..."`). */
  warnings: string[];
  body: T;
}

export async function createPod(
  kc: KubeConfig,
  namespace: string,
  pod: V1Pod,
  opts: { dryRun?: boolean } = {},
): Promise<CreateResult<V1Pod & { message?: string }>> {
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (!cluster || !user?.certData || !user.keyData || !cluster.caData)
    throw new Error('createPod needs a client-certificate kubeconfig');
  const url = new URL(
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods${opts.dryRun ? '?dryRun=All' : ''}`,
    cluster.server,
  );
  const payload = JSON.stringify({ apiVersion: 'v1', kind: 'Pod', ...pod });
  const b64 = (s: string) => Buffer.from(s, 'base64');
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        ca: b64(cluster.caData!),
        cert: b64(user.certData!),
        key: b64(user.keyData!),
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        timeout: 60_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const raw = res.headers.warning;
          const warnings = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
          try {
            resolve({
              status: res.statusCode ?? 0,
              warnings,
              body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
            });
          } catch (err) {
            reject(
              new Error(
                `creating pod ${namespace}/${pod.metadata?.name}: HTTP ${res.statusCode} with a body that is not JSON`,
                { cause: err },
              ),
            );
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`creating pod ${namespace}/${pod.metadata?.name}: no answer in 60 s`)),
    );
    req.on('error', reject);
    req.end(payload);
  });
}
