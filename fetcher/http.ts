/**
 * One HTTP attempt against a peer (MLP, the OIDC issuer, the metadata server): bounded by the run's
 * deadline and a per-attempt timeout, timed, logged as one line, and with transport failures turned
 * into retryable FetcherErrors. Status handling stays with each peer's module, except the part
 * that is the same everywhere: 5xx and 429 are retryable, with Retry-After honoured.
 *
 * MLP and the metadata server are called through `HttpContext.request` (node:http, see
 * http-transport.ts); only openid-client, which needs fetch's own Response, uses fetch.
 */
import type { SecureContext } from 'node:tls';
import { readTextPrefix } from './bounded-body.js';
import { FetcherError } from './errors.js';
import type { Logger } from './log.js';
import { type Clock, type Deadline, parseRetryAfter } from './retry.js';

/** One slow attempt must not eat the whole deadline: after this, give up and retry. */
export const ATTEMPT_TIMEOUT_MS = 15_000;
/** How much of an error body is read at all: its text is only quoted, shortened, in a message. */
export const MAX_ERROR_BODY_BYTES = 16 * 1024;
/** Longest peer text quoted in a message. */
const MAX_QUOTED_CHARS = 200;

/** An answer as the fetcher reads it: what http-transport.ts makes (fetch's Response has the same shape). */
export interface HttpResponse {
  readonly status: number;
  /** The URL asked for (redirects are never followed). */
  readonly url: string;
  readonly headers: { get(name: string): string | null };
  /**
   * The body as it arrives; leaving the loop early discards the rest. There is deliberately no
   * `text()`: every reader goes through bounded-body.ts, with a cap.
   */
  readonly body: AsyncIterable<Uint8Array> | null;
}

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  /** Sent as the request body (the Kubernetes Secret's JSON). */
  body?: string;
  /** PEM CA bundle to trust instead of the defaults (https only): the cluster's CA. */
  ca?: string;
  /**
   * A TLS context made from `ca` beforehand (https only), so a connection does not make its own:
   * making it (and loading node:tls) costs more than the POST it is for (k8s-secret.ts).
   */
  secureContext?: SecureContext;
}

/**
 * Sends one request. Resolves once the status and headers arrive; rejects with the transport's
 * error, or with `signal.reason` when the signal aborts — which also cuts off a body still being read.
 */
export type HttpTransport = (url: URL, request: HttpRequest & { signal: AbortSignal }) => Promise<HttpResponse>;

export interface HttpContext {
  /** MLP's and the metadata server's requests. */
  request: HttpTransport;
  /** openid-client's requests (token-exchange only); the global fetch when not set. */
  fetch?: typeof fetch;
  clock: Clock;
  deadline: Deadline;
  log: Logger;
}

export interface CallInfo {
  /** The peer, for logs and messages: "MLP", "the OIDC issuer", "the GKE metadata server". */
  peer: string;
  /** What the call is for, for logs: "list projects". */
  operation: string;
  attempt?: number;
}

function errorCode(err: unknown): string | undefined {
  // node:http puts the code on the error itself; fetch on its cause.
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  return typeof e?.cause?.code === 'string' ? e.cause.code : typeof e?.code === 'string' ? e.code : undefined;
}

/**
 * OpenSSL's and Node's codes for a certificate the fetcher does not trust or that does not fit the
 * host: the same certificate comes back on every attempt, so these are not retried.
 */
const CERTIFICATE_ERRORS = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_TLS_CERT_ALTNAME_FORMAT',
]);

function isCertificateError(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && CERTIFICATE_ERRORS.has(code);
}

function describeNetworkError(err: unknown): string {
  const code = errorCode(err);
  if (code) return code;
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'timed out';
  return err instanceof Error ? err.message.slice(0, 120) : 'network error';
}

/** The request's URL as logged: path and query only (no credentials can be in it, by config). */
function loggableUrl(url: URL | string): string {
  const u = typeof url === 'string' ? new URL(url) : url;
  return `${u.origin}${u.pathname}${u.search}`;
}

/**
 * Runs one attempt: `send` gets a signal that aborts at the deadline or after the per-attempt
 * timeout (and with `extraSignal`). Resolves with the answer for any HTTP status; rejects with a
 * retryable FetcherError when the peer could not be reached or did not answer in time.
 */
export async function boundedAttempt<R extends { status: number }>(
  http: HttpContext,
  info: CallInfo,
  url: URL | string,
  method: string,
  send: (signal: AbortSignal) => Promise<R>,
  extraSignal?: AbortSignal,
): Promise<R> {
  const started = http.clock.now();
  const remaining = Math.max(1, http.deadline.atMs - started);
  const signal = AbortSignal.any([
    http.deadline.signal,
    AbortSignal.timeout(Math.min(ATTEMPT_TIMEOUT_MS, remaining)),
    ...(extraSignal ? [extraSignal] : []),
  ]);
  const where = loggableUrl(url);
  try {
    const response = await send(signal);
    http.log.info('http call', {
      peer: info.peer,
      operation: info.operation,
      method,
      url: where,
      status: response.status,
      durationMs: http.clock.now() - started,
      attempt: info.attempt,
    });
    return response;
  } catch (err) {
    const reason = describeNetworkError(err);
    http.log.warn('http call failed', {
      peer: info.peer,
      operation: info.operation,
      method,
      url: where,
      error: reason,
      durationMs: http.clock.now() - started,
      attempt: info.attempt,
    });
    if (isCertificateError(err)) {
      throw new FetcherError({
        problem:
          `${info.peer} at ${new URL(where).origin} presented a TLS certificate the fetcher ` +
          `does not accept (${reason}), so it did not send the request to ${info.operation}`,
        fix:
          `give the fetcher the CA that signed ${info.peer}'s certificate (the admin's FETCHER_CA_CONFIGMAP, ` +
          `Helm fetcher.caBundle: a ConfigMap in the pod's namespace, trusted through ` +
          `NODE_EXTRA_CA_CERTS), or check that the URL names the host the certificate is for`,
      });
    }
    throw new FetcherError({
      problem: `could not reach ${info.peer} at ${new URL(where).origin} to ${info.operation} (${reason})`,
      fix: `check that ${info.peer} is running and reachable from the pod (network policies, DNS, the URL setting)`,
      retryable: true,
    });
  }
}

/** One request through `http.request` (node:http), bounded, timed and logged as boundedAttempt says. */
export function attemptRequest(
  http: HttpContext,
  info: CallInfo,
  url: URL,
  request: HttpRequest = {},
): Promise<HttpResponse> {
  return boundedAttempt(http, info, url, request.method ?? 'GET', (signal) =>
    http.request(url, { ...request, signal }),
  );
}

/** The retryable error for an answer whose body broke off (reset, timeout) while it was being read. */
export function bodyReadFailure(info: CallInfo, url: URL | string, err: unknown): FetcherError {
  return new FetcherError({
    problem:
      `could not read the answer of ${info.peer} at ${new URL(loggableUrl(url)).origin} ` +
      `to ${info.operation} (${describeNetworkError(err)})`,
    fix: `check that ${info.peer} is running and reachable from the pod (network policies, DNS, the URL setting)`,
    retryable: true,
  });
}

/** Throws the retryable error for 5xx and 429; returns otherwise. */
export function throwIfRetryableStatus(
  response: Pick<HttpResponse, 'status' | 'headers'>,
  info: CallInfo,
  clock: Clock,
): void {
  const { status } = response;
  if (status !== 429 && status < 500) return;
  const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), clock.now());
  throw new FetcherError({
    problem:
      status === 429
        ? `${info.peer} is rate-limiting requests to ${info.operation}`
        : `${info.peer} failed to ${info.operation}`,
    fix: `check ${info.peer}'s health and logs`,
    status,
    retryable: true,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

/** Control characters, zero-width and bidirectional-override characters, byte-order mark. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE_PEER_CHARS = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/g;

/**
 * Peer text as it may appear in a message: control characters (terminal escapes, newlines that
 * would forge log lines) and bidirectional overrides become spaces, runs of space one, and at
 * most MAX_QUOTED_CHARS characters are kept.
 */
export function sanitisePeerText(text: string, max = MAX_QUOTED_CHARS): string {
  const clean = text.replace(UNSAFE_PEER_CHARS, ' ').replace(/\s+/g, ' ').trim();
  const chars = [...clean];
  return chars.length > max ? `${chars.slice(0, max).join('')}...` : clean;
}

/**
 * The error text a peer put in its body — `{"error": "..."}` (MLP), `{"error": {"message"}}`
 * (Oathkeeper), or plain text — from at most MAX_ERROR_BODY_BYTES of it, sanitised and shortened.
 */
export async function peerErrorText(response: { readonly body: AsyncIterable<Uint8Array> | null }): Promise<string> {
  let text: string;
  try {
    text = await readTextPrefix(response.body, MAX_ERROR_BODY_BYTES);
  } catch {
    return '';
  }
  let message = text;
  try {
    const body: unknown = JSON.parse(text);
    if (body && typeof body === 'object') {
      const b = body as Record<string, unknown>;
      const err = b.error;
      if (typeof err === 'string') message = err;
      else if (err && typeof err === 'object') {
        const e = err as Record<string, unknown>;
        message = [e.message, e.reason].filter((x) => typeof x === 'string' && x !== '').join(': ');
      } else if (typeof b.message === 'string') message = b.message;
      if (typeof b.error_description === 'string') message = `${message}: ${b.error_description}`;
    }
  } catch {
    // not JSON (or cut at the cap): keep the text
  }
  return sanitisePeerText(message);
}
