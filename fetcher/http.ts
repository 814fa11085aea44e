/**
 * One HTTP attempt against a peer (MLP, the OIDC issuer, the metadata server): bounded by the run's
 * deadline and a per-attempt timeout, timed, logged as one line, and with transport failures turned
 * into retryable FetcherErrors. Status handling stays with each peer's module, except the part
 * that is the same everywhere: 5xx and 429 are retryable, with Retry-After honoured.
 *
 * MLP and the metadata server are called through `HttpContext.request` (node:http, see
 * http-transport.ts); only openid-client, which needs fetch's own Response, uses fetch.
 */
import { FetcherError } from './errors.js';
import type { Logger } from './log.js';
import { parseRetryAfter, type Clock, type Deadline } from './retry.js';

/** One slow attempt must not eat the whole deadline: after this, give up and retry. */
export const ATTEMPT_TIMEOUT_MS = 15_000;

/** An answer as the fetcher reads it: what http-transport.ts makes (fetch's Response has the same shape). */
export interface HttpResponse {
  readonly status: number;
  /** The URL asked for (redirects are never followed). */
  readonly url: string;
  readonly headers: { get(name: string): string | null };
  /** The body as it arrives; leaving the loop early discards the rest. */
  readonly body: AsyncIterable<Uint8Array> | null;
  /** The whole body, as UTF-8. */
  text(): Promise<string>;
}

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
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

function describeNetworkError(err: unknown): string {
  // node:http puts the code on the error itself; fetch on its cause.
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  const code = typeof e?.cause?.code === 'string' ? e.cause.code : typeof e?.code === 'string' ? e.code : undefined;
  if (code) return code;
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return 'timed out';
  return err instanceof Error ? err.message.slice(0, 120) : 'network error';
}

/** The request's URL as logged: path and query only (no credentials can be in it, by config). */
export function loggableUrl(url: URL | string): string {
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
    throw new FetcherError({
      problem: `could not reach ${info.peer} at ${new URL(where).origin} to ${info.operation} (${reason})`,
      fix: `check that ${info.peer} is running and reachable from the pod (network policies, DNS, the URL setting)`,
      retryable: true,
    });
  }
}

/** One request through `http.request` (node:http), bounded, timed and logged as boundedAttempt says. */
export function attemptRequest(http: HttpContext, info: CallInfo, url: URL, request: HttpRequest = {}): Promise<HttpResponse> {
  return boundedAttempt(http, info, url, request.method ?? 'GET', (signal) => http.request(url, { ...request, signal }));
}

/** The retryable error for an answer whose body broke off (reset, timeout) while it was being read. */
export function bodyReadFailure(info: CallInfo, url: URL | string, err: unknown): FetcherError {
  return new FetcherError({
    problem: `could not read the answer of ${info.peer} at ${new URL(loggableUrl(url)).origin} to ${info.operation} (${describeNetworkError(err)})`,
    fix: `check that ${info.peer} is running and reachable from the pod (network policies, DNS, the URL setting)`,
    retryable: true,
  });
}

/** Throws the retryable error for 5xx and 429; returns otherwise. */
export function throwIfRetryableStatus(response: Pick<HttpResponse, 'status' | 'headers'>, info: CallInfo, clock: Clock): void {
  const { status } = response;
  if (status !== 429 && status < 500) return;
  const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), clock.now());
  throw new FetcherError({
    problem: status === 429 ? `${info.peer} is rate-limiting requests to ${info.operation}` : `${info.peer} failed to ${info.operation}`,
    fix: `check ${info.peer}'s health and logs`,
    status,
    retryable: true,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

/** The error text a peer put in its body — `{"error": "..."}` (MLP), `{"error": {"message"}}` (Oathkeeper), or plain text — shortened. */
export async function peerErrorText(response: Pick<HttpResponse, 'text'>): Promise<string> {
  let text: string;
  try {
    text = await response.text();
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
    // not JSON: keep the text
  }
  const oneLine = message.replace(/\s+/g, ' ').trim();
  return oneLine.length > 200 ? `${oneLine.slice(0, 200)}...` : oneLine;
}
