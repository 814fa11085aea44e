/**
 * Creates the per-pod Kubernetes Secret that carries the ENV_VAR secrets: Opaque, immutable, owned
 * by the pod (garbage-collected with it), labelled with who made it and for which pod. The fetcher
 * may only `create` Secrets, so an existing Secret of that name (the init container restarted)
 * counts as done — see README.md for why that is safe.
 *
 * One POST /api/v1/namespaces/{ns}/secrets with node:https (the fetcher's HTTP transport), the
 * bearer token and the cluster CA. @kubernetes/client-node did the same call but cost ~80–100 ms
 * of start-up per ENV_VAR run (loading it and its undici) and could not go into the startup
 * snapshot (bench/README.md); only its types are used here.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { SecureContext } from 'node:tls';
import type { V1Secret } from '@kubernetes/client-node';
import { FETCHER_ENV } from '../contract/fetcher-env.js';
import { readTextPrefix } from './bounded-body.js';
import type { KubeSettings } from './config.js';
import { FetcherError, quote } from './errors.js';
import type { HttpTransport } from './http.js';
import { ATTEMPT_TIMEOUT_MS, sanitisePeerText } from './http.js';
import { nodeHttpTransport } from './http-transport.js';
import type { Logger } from './log.js';
import type { Redactor } from './redact.js';
import { type Clock, type Deadline, parseRetryAfter, withRetry } from './retry.js';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'dap-secret-webhook';
export const POD_LABEL = 'dap-secret-webhook/pod';
/** Kubernetes' limit on a Secret's data (ValidateSecret: MaxSecretSize). */
export const MAX_SECRET_BYTES = 1024 * 1024;
const MAX_LABEL_VALUE = 63;

export interface PodSecretRequest {
  namespace: string;
  /** The Secret's name, from the plan. */
  name: string;
  podName: string;
  podUid: string;
  /** Data key → value, with the MLP secret each value came from (for messages). */
  entries: { key: string; value: string; mlpSecret: string }[];
}

/**
 * A label value for the pod name: the name itself when it fits (63 characters), else a prefix
 * and a hash of the whole name, so distinct long names stay distinct and the value stays valid.
 */
export function podNameLabel(podName: string): string {
  if (podName.length <= MAX_LABEL_VALUE) return podName;
  const hash = createHash('sha256').update(podName).digest('hex').slice(0, 10);
  const prefix = podName.slice(0, MAX_LABEL_VALUE - hash.length - 1).replace(/[^A-Za-z0-9]+$/, '');
  return `${prefix}-${hash}`;
}

/** Throws a clear error when the data is over Kubernetes' 1 MiB limit. Pure. */
export function checkPodSecretSize(request: PodSecretRequest): void {
  const total = request.entries.reduce((sum, e) => sum + Buffer.byteLength(e.value, 'utf8'), 0);
  if (total > MAX_SECRET_BYTES) {
    const sizes = request.entries
      .map((e) => ({ name: e.mlpSecret, bytes: Buffer.byteLength(e.value, 'utf8') }))
      .sort((a, b) => b.bytes - a.bytes)
      .map((e) => `${quote(e.name)} ${e.bytes} bytes`);
    throw new FetcherError({
      problem:
        `the env-var secrets add up to ${total} bytes (${sizes.join(', ')}), ` +
        `over the ${MAX_SECRET_BYTES}-byte limit of a Kubernetes Secret`,
      fix: 'request the large secrets as files (mount_requirement FILE) instead of environment variables',
      secrets: request.entries.map((e) => e.mlpSecret),
    });
  }
}

/** The Secret object, or a clear error when its data is over Kubernetes' 1 MiB limit. Pure. */
export function buildPodSecret(request: PodSecretRequest): V1Secret {
  checkPodSecretSize(request);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    immutable: true,
    metadata: {
      name: request.name,
      namespace: request.namespace,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [POD_LABEL]: podNameLabel(request.podName) },
      ownerReferences: [
        {
          apiVersion: 'v1',
          kind: 'Pod',
          name: request.podName,
          uid: request.podUid,
          // Not a controller reference: the pod does not reconcile the Secret; it only owns it
          // so the garbage collector deletes it with the pod.
          controller: false,
          // true would need update permission on pods/finalizers (OwnerReferencesPermissionEnforcement);
          // the fetcher may only create Secrets, and nothing needs to block the pod's deletion.
          blockOwnerDeletion: false,
        },
      ],
    },
    data: Object.fromEntries(request.entries.map((e) => [e.key, Buffer.from(e.value, 'utf8').toString('base64')])),
  };
}

/** The cluster CA, and a TLS context made from it once for every attempt. */
export interface KubeTls {
  ca: string;
  /** Absent when Node would not make one from this CA: each connection then tries, and fails, as before. */
  secureContext?: SecureContext;
}

/**
 * What the POST needs that does not depend on MLP's answer: the cluster CA read, node:https and
 * node:tls loaded, the TLS context made — 10–15 ms of a run's CPU, longer than the POST itself
 * (bench/README.md, "Where the time goes"). main.ts starts it while MLP is being asked. Rejects
 * with the error createPodSecret reports for an unreadable CA file; undefined for a plain-http API
 * (and for an empty CA file: Node's default CAs then, as before).
 */
export async function prepareKubeTls(kube: KubeSettings): Promise<KubeTls | undefined> {
  if (kube.apiUrl.protocol !== 'https:') return undefined;
  const ca = await readKubeFile(kube.caFile, FETCHER_ENV.kubeCaFile, 'CA certificate');
  if (ca === '') return undefined; // an empty file: Node's defaults, as a request without `ca` has
  try {
    process.getBuiltinModule('node:https'); // loads http, tls and net, which the request needs too
    return { ca, secureContext: process.getBuiltinModule('node:tls').createSecureContext({ ca }) };
  } catch {
    return { ca };
  }
}

export interface KubeDeps {
  clock: Clock;
  deadline: Deadline;
  log: Logger;
  redactor: Redactor;
  /** One attempt's bound (tests shorten it); ATTEMPT_TIMEOUT_MS by default, like every MLP call. */
  attemptTimeoutMs?: number;
  /** The HTTP transport; node:http(s) by default. */
  request?: HttpTransport;
  /** prepareKubeTls(kube), started earlier; made here when not given. */
  tls?: Promise<KubeTls | undefined>;
}

/** What came back from one create: the API server's answer, or the error of a request that got none. */
type Attempt = { status: number; body: string; headers: Record<string, string> } | { error: unknown };

/** Status bodies are small; more is only quoted, shortened. */
const ERROR_BODY_BYTES = 64 * 1024;

/** The Status message of an API error body, whole (callers shorten it). */
function statusMessage(body: unknown): string {
  let parsed = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return body;
    }
  }
  if (parsed && typeof parsed === 'object') {
    const message = (parsed as Record<string, unknown>).message;
    if (typeof message === 'string') return message;
  }
  return '';
}

/**
 * The API server's text as quoted: it can carry another admission webhook's or policy's words, so
 * it is cleaned like any peer's (no terminal escapes, bidi overrides or extra lines) and bounded.
 */
function shorten(text: string, max = 300): string {
  return sanitisePeerText(text, max);
}

/**
 * Who refused a create, from the API server's message (k8s.io/apiserver's wording):
 * `... is forbidden: ValidatingAdmissionPolicy 'p' with binding 'b' denied request: <why>`,
 * `admission webhook "w" denied the request: <why>`, or RBAC's
 * `User "system:serviceaccount:ns:sa" cannot create resource "secrets" ...`.
 */
type Refuser =
  | { by: 'policy'; name: string; why: string }
  | { by: 'webhook'; name: string; why: string }
  | { by: 'rbac' }
  | { by: 'unknown' };

function refuserOf(message: string): Refuser {
  const policy = /ValidatingAdmissionPolicy '([^']*)'(?: with binding '[^']*')? denied request: ([\s\S]*)$/.exec(
    message,
  );
  if (policy) return { by: 'policy', name: policy[1] as string, why: policy[2] as string };
  const webhook = /admission webhook "([^"]*)" denied the request:? ?([\s\S]*)$/.exec(message);
  if (webhook) return { by: 'webhook', name: webhook[1] as string, why: webhook[2] || 'no reason given' };
  if (/\bcannot create resource "secrets"/.test(message)) return { by: 'rbac' };
  return { by: 'unknown' };
}

const RBAC_FIX = (namespace: string): string =>
  `grant the pod's service account "create" on "secrets" in namespace ` +
  `${quote(namespace)} (the webhook's Helm chart ships that Role)`;

/** The refusal of a 403 (or a 422 from an admission policy), with the fix that fits who refused. */
function forbidden(status: number, message: string, secretRef: string, request: PodSecretRequest): FetcherError {
  const refuser = refuserOf(message);
  if (refuser.by === 'policy') {
    return new FetcherError({
      problem:
        `the admission policy ${quote(refuser.name)} refused creating Secret ${secretRef}: ` +
        `${shorten(refuser.why)}`,
      fix:
        `with the webhook's Secret policy (fetcher.secretPolicy.enabled) a pod ` +
        `may create only an Opaque Secret it owns, named like its own name: ` +
        `${quote(`${request.podName}-flyte-secrets-<10 hex>`)} (or ${quote('<its generateName>-flyte-secrets-gen-<10 hex>')} ` +
        `for a pod the API server named), with its pod-bound token; ` +
        'check that the pod spec was not copied or edited after the webhook admitted it, ' +
        'that the webhook and the policy come from the same release, ' +
        `and that ${FETCHER_ENV.kubeTokenFile} is the pod's projected token (deploy/README.md, ` +
        `"What a task pod can and cannot do with the fetcher grant")`,
      status,
    });
  }
  if (refuser.by === 'webhook') {
    return new FetcherError({
      problem:
        `the admission webhook ${quote(refuser.name)} refused ` +
        `creating Secret ${secretRef}: ${shorten(refuser.why)}`,
      fix:
        `ask the cluster's administrators to let pods in namespace ` +
        `${quote(request.namespace)} create their per-pod Secret (labelled ` +
        `app.kubernetes.io/managed-by=dap-secret-webhook) past that webhook`,
      status,
    });
  }
  const said = message ? ` (Kubernetes said: ${shorten(message)})` : '';
  return new FetcherError({
    problem: `Kubernetes denied creating Secret ${secretRef} to the fetcher's service account${said}`,
    fix:
      refuser.by === 'rbac'
        ? RBAC_FIX(request.namespace)
        : `${RBAC_FIX(request.namespace)}; if an admission policy refused it, its message above says why`,
    status,
  });
}

function statusReason(body: unknown): 'AlreadyExists' | 'unknown' | 'other' {
  try {
    const parsed: unknown = typeof body === 'string' ? JSON.parse(body) : body;
    const reason = parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>).reason : undefined;
    if (reason === 'AlreadyExists') return 'AlreadyExists';
    return typeof reason === 'string' && reason !== '' ? 'other' : 'unknown';
  } catch {
    return 'unknown';
  }
}

async function readKubeFile(path: string, variable: string, what: string): Promise<string> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (err) {
    throw new FetcherError({
      problem:
        `the Kubernetes ${what} file ${path} (${variable}) cannot ` +
        `be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      fix: `mount it there (the webhook adds a projected volume with it) or point ${variable} at it`,
    });
  }
}

/** The reason a request never got an HTTP answer (a socket error's code, an abort), or null. */
function networkFailure(err: unknown): string | null {
  if (!(err instanceof Error)) return null;
  if (err.name === 'AbortError' || err.name === 'TimeoutError') return 'timed out';
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  return null;
}

/** What one failed create means: done (409), retry (network, 5xx, 429), or a clear refusal. */
function classify(
  attempt: Attempt,
  secretRef: string,
  request: PodSecretRequest,
  clock: Clock,
  deadlinePassed: boolean,
): FetcherError | 'exists' {
  if ('error' in attempt) {
    // The deadline's abort rejects the call with the signal's reason, whatever that is.
    const reason = networkFailure(attempt.error) ?? (deadlinePassed ? 'timed out' : null);
    if (reason === null) throw attempt.error; // not a transport failure: a bug, reported as such by main
    return new FetcherError({
      problem: `could not reach the Kubernetes API to create Secret ${secretRef} (${reason})`,
      fix: `check ${FETCHER_ENV.kubeApiUrl} / KUBERNETES_SERVICE_HOST and the network policies for the fetcher`,
      retryable: true,
    });
  }
  const failure = attempt;
  const { status } = attempt;
  const message = statusMessage(failure.body);
  const detail = message ? ` (Kubernetes said: ${shorten(message)})` : '';
  // 409 on create means AlreadyExists (conflicts are an update thing); accept an unreadable body too.
  if (status === 409 && statusReason(failure.body) !== 'other') return 'exists';
  if (status >= 500 || status === 429) {
    const retryAfterMs = parseRetryAfter(failure.headers?.['retry-after'], clock.now());
    return new FetcherError({
      problem: `the Kubernetes API failed to create Secret ${secretRef}${detail}`,
      fix: "check the API server's health",
      status,
      retryable: true,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  // A policy's own `reason` may make its denial a 422 (Invalid) rather than 403.
  if (status === 403 || refuserOf(message).by === 'policy') return forbidden(status, message, secretRef, request);
  if (status === 401) {
    return new FetcherError({
      problem: `Kubernetes did not accept the fetcher's token for creating Secret ${secretRef}${detail}`,
      fix: `check that ${FETCHER_ENV.kubeTokenFile} holds a current service-account token for this cluster`,
      status,
    });
  }
  return new FetcherError({
    problem: `Kubernetes refused to create Secret ${secretRef}${detail}`,
    fix: 'check the Secret name and data keys the webhook chose (a bug in the webhook if they are invalid)',
    status,
  });
}

/** Creates the Secret; resolves 'exists' when it is already there from an earlier run of this pod. */
export async function createPodSecret(
  request: PodSecretRequest,
  kube: KubeSettings,
  deps: KubeDeps,
): Promise<'created' | 'exists'> {
  const body = buildPodSecret(request);
  // The one place the fetcher base64-encodes values: an API error that echoes the body must not print them either.
  for (const encoded of Object.values(body.data ?? {})) deps.redactor.add(encoded);
  const secretRef = quote(`${request.namespace}/${request.name}`);
  const tls = await (deps.tls ?? prepareKubeTls(kube));
  const attemptTimeoutMs = deps.attemptTimeoutMs ?? ATTEMPT_TIMEOUT_MS;
  const transport = deps.request ?? nodeHttpTransport;
  const url = new URL(
    `api/v1/namespaces/${encodeURIComponent(request.namespace)}/secrets`,
    kube.apiUrl.href.endsWith('/') ? kube.apiUrl : new URL(`${kube.apiUrl.href}/`),
  );
  const json = JSON.stringify(body);
  // One request, bounded by the run's deadline and by the per-attempt timeout, so an API server that
  // never answers costs one attempt, not the whole run; the answer read whole (Status bodies are small).
  const send = async (token: string): Promise<Attempt> => {
    const remaining = Math.max(1, deps.deadline.atMs - deps.clock.now());
    const signal = AbortSignal.any([deps.deadline.signal, AbortSignal.timeout(Math.min(attemptTimeoutMs, remaining))]);
    try {
      const response = await transport(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: json,
        ...(tls ? { ca: tls.ca } : {}),
        ...(tls?.secureContext ? { secureContext: tls.secureContext } : {}),
        signal,
      });
      const text = await readTextPrefix(response.body, ERROR_BODY_BYTES);
      const retryAfter = response.headers.get('retry-after');
      return { status: response.status, body: text, headers: retryAfter === null ? {} : { 'retry-after': retryAfter } };
    } catch (error) {
      return { error };
    }
  };
  return withRetry(
    async (attempt) => {
      // A fresh read per attempt: the kubelet rotates projected tokens.
      const token = await readKubeFile(kube.tokenFile, FETCHER_ENV.kubeTokenFile, 'token');
      deps.redactor.add(token);
      const started = deps.clock.now();
      const answer = await send(token);
      const status = 'status' in answer ? answer.status : null;
      deps.log.info('kubernetes call', {
        operation: 'create secret',
        secret: `${request.namespace}/${request.name}`,
        status,
        durationMs: deps.clock.now() - started,
        attempt,
      });
      if (status !== null && status >= 200 && status < 300) return 'created' as const;
      const outcome = classify(answer, secretRef, request, deps.clock, deps.deadline.signal.aborted);
      if (outcome === 'exists') return 'exists' as const;
      throw outcome;
    },
    {
      deadline: deps.deadline,
      clock: deps.clock,
      onRetry: (error, attempt, delayMs) =>
        deps.log.warn('retrying', {
          peer: 'Kubernetes',
          operation: 'create secret',
          attempt,
          delayMs,
          status: error.status ?? null,
          reason: error.problem,
        }),
    },
  );
}
