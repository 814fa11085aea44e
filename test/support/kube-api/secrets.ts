/**
 * A Kubernetes API stand-in for one request: POST /api/v1/namespaces/{ns}/secrets, over HTTPS with
 * a bearer token, until the end-to-end harness's real kube-apiserver is used. It checks the body
 * the way the fetcher's contract needs it (kind, immutable, Opaque, owner reference to the pod,
 * labels, valid base64 data, the 1 MiB limit) and answers like the API server: 201 with the
 * object, 409 AlreadyExists, 403 Forbidden, 401, 422 Invalid — all as `Status` objects.
 */

import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { KeyAndCert } from '../k8s/pki.js';

interface StoredSecret {
  namespace: string;
  body: Record<string, any>;
}

export interface KubeSecretsApi {
  /** https://127.0.0.1:<port> for DAP_KUBE_API_URL. */
  url: string;
  /** Created Secrets, by `namespace/name`. */
  secrets: Map<string, StoredSecret>;
  /** Every request: method, path, status. */
  requests: { method: string; path: string; status: number }[];
  /** Namespaces where creating Secrets is forbidden (403). */
  forbiddenNamespaces: Set<string>;
  close(): Promise<void>;
}

export interface KubeSecretsApiOptions {
  tls: KeyAndCert;
  /** The bearer token the fetcher must present (what DAP_KUBE_TOKEN_FILE holds). */
  token: string;
}

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DATA_KEY = /^[-._a-zA-Z0-9]+$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const MAX_SECRET_BYTES = 1024 * 1024;

function status(
  res: ServerResponse,
  code: number,
  reason: string,
  message: string,
  details?: Record<string, unknown>,
): void {
  const body = JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  });
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(body);
}

/** Every way `body` breaks what the fetcher promises; empty when it is right. */
function secretProblems(namespace: string, body: Record<string, any>): string[] {
  const problems: string[] = [];
  const meta = body?.metadata ?? {};
  if (body?.apiVersion !== 'v1') problems.push('apiVersion must be v1');
  if (body?.kind !== 'Secret') problems.push('kind must be Secret');
  if (body?.type !== 'Opaque') problems.push('type must be Opaque');
  if (body?.immutable !== true) problems.push('immutable must be true');
  if (typeof meta.name !== 'string' || meta.name.length > 253 || !DNS_SUBDOMAIN.test(meta.name))
    problems.push('metadata.name must be a DNS subdomain');
  if (meta.namespace !== undefined && meta.namespace !== namespace)
    problems.push('metadata.namespace does not match the request path');
  const labels = meta.labels ?? {};
  if (labels['app.kubernetes.io/managed-by'] !== 'dap-secret-webhook')
    problems.push('label app.kubernetes.io/managed-by must be dap-secret-webhook');
  for (const [k, v] of Object.entries(labels)) {
    if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v))
      problems.push(`label ${k} has an invalid value`);
  }
  const owners = meta.ownerReferences;
  if (!Array.isArray(owners) || owners.length !== 1) problems.push('exactly one ownerReference expected');
  else {
    const [o] = owners;
    if (
      o.apiVersion !== 'v1' ||
      o.kind !== 'Pod' ||
      typeof o.name !== 'string' ||
      typeof o.uid !== 'string' ||
      o.uid === ''
    ) {
      problems.push('ownerReference must be {apiVersion v1, kind Pod, name, uid}');
    }
    if (o.blockOwnerDeletion === true)
      problems.push('blockOwnerDeletion=true needs update on pods/finalizers, which the fetcher does not have');
  }
  const data = body?.data;
  if (!data || typeof data !== 'object' || Object.keys(data).length === 0)
    problems.push('data must hold at least one key');
  else {
    let total = 0;
    for (const [k, v] of Object.entries(data)) {
      if (!DATA_KEY.test(k)) problems.push(`data[${k}]: invalid key`);
      if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) problems.push(`data[${k}]: not base64`);
      else total += Buffer.from(v, 'base64').length;
    }
    if (total > MAX_SECRET_BYTES) problems.push(`data: Too long: must have at most ${MAX_SECRET_BYTES} bytes`);
  }
  return problems;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startKubeSecretsApi(options: KubeSecretsApiOptions): Promise<KubeSecretsApi> {
  const secrets = new Map<string, StoredSecret>();
  const requests: KubeSecretsApi['requests'] = [];
  const forbiddenNamespaces = new Set<string>();
  const server: Server = createServer({ key: options.tls.keyPem, cert: options.tls.certPem }, (req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'https://kube').pathname;
      const method = req.method ?? 'GET';
      const answer = (code: number, reason: string, message: string, details?: Record<string, unknown>): void => {
        requests.push({ method, path, status: code });
        status(res, code, reason, message, details);
      };
      const text = await readBody(req);
      if (req.headers.authorization !== `Bearer ${options.token}`) return answer(401, 'Unauthorized', 'Unauthorized');
      const match = /^\/api\/v1\/namespaces\/([^/]+)\/secrets$/.exec(path);
      if (!match || method !== 'POST')
        return answer(404, 'NotFound', 'the server could not find the requested resource');
      const namespace = match[1] as string;
      if (forbiddenNamespaces.has(namespace)) {
        return answer(
          403,
          'Forbidden',
          `secrets is forbidden: User "system:serviceaccount:${namespace}:default" cannot create resource "secrets" in API group "" in the namespace "${namespace}"`,
        );
      }
      let body: Record<string, any>;
      try {
        body = JSON.parse(text);
      } catch {
        return answer(400, 'BadRequest', 'the request body is not JSON');
      }
      const problems = secretProblems(namespace, body);
      if (problems.length > 0)
        return answer(422, 'Invalid', `Secret "${body?.metadata?.name}" is invalid: ${problems.join('; ')}`);
      const key = `${namespace}/${body.metadata.name}`;
      if (secrets.has(key)) {
        return answer(409, 'AlreadyExists', `secrets "${body.metadata.name}" already exists`, {
          name: body.metadata.name,
          kind: 'secrets',
        });
      }
      const stored = {
        ...body,
        metadata: { ...body.metadata, namespace, uid: randomUUID(), creationTimestamp: new Date().toISOString() },
      };
      secrets.set(key, { namespace, body: stored });
      requests.push({ method, path, status: 201 });
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify(stored));
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    secrets,
    requests,
    forbiddenNamespaces,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
