/**
 * One HTTP attempt against a peer (MLP, the OIDC issuer, the metadata server): bounded by the run's
 * deadline and a per-attempt timeout, timed, logged as one line, and with transport failures turned
 * into retryable FetcherErrors. Status handling stays with each peer's module, except the part
 * that is the same everywhere: 5xx and 429 are retryable, with Retry-After honoured.
 */
import { FetcherError } from './errors.js';
import type { Logger } from './log.js';
import { parseRetryAfter, type Clock, type Deadline } from './retry.js';

/** One slow attempt must not eat the whole deadline: after this, give up and retry. */
export const ATTEMPT_TIMEOUT_MS = 15_000;

export interface HttpContext {
  fetch: typeof fetch;
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
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
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
 * Performs one request. Resolves with the Response for any HTTP status; rejects with a
 * retryable FetcherError when the peer could not be reached or did not answer in time.
 */
export async function attemptFetch(http: HttpContext, info: CallInfo, url: URL | string, init: RequestInit = {}): Promise<Response> {
  const started = http.clock.now();
  const remaining = Math.max(1, http.deadline.atMs - started);
  const signal = AbortSignal.any([
    http.deadline.signal,
    AbortSignal.timeout(Math.min(ATTEMPT_TIMEOUT_MS, remaining)),
    ...(init.signal ? [init.signal] : []),
  ]);
  const method = init.method ?? 'GET';
  const where = loggableUrl(url);
  try {
    const response = await http.fetch(url, { ...init, signal, redirect: 'manual' });
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

/** The retryable error for an answer whose body broke off (reset, timeout) while it was being read. */
export function bodyReadFailure(info: CallInfo, url: URL | string, err: unknown): FetcherError {
  return new FetcherError({
    problem: `could not read the answer of ${info.peer} at ${new URL(loggableUrl(url)).origin} to ${info.operation} (${describeNetworkError(err)})`,
    fix: `check that ${info.peer} is running and reachable from the pod (network policies, DNS, the URL setting)`,
    retryable: true,
  });
}

/** Throws the retryable error for 5xx and 429; returns otherwise. */
export function throwIfRetryableStatus(response: Response, info: CallInfo, clock: Clock): void {
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
export async function peerErrorText(response: Response): Promise<string> {
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
