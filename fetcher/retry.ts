/**
 * Retries with exponential backoff and full jitter, honouring Retry-After, bounded by the run's
 * overall deadline. The clock, the random source and sleep are injected so unit tests are exact.
 */
import { EXIT_CODES, FetcherError } from './errors.js';

export interface Clock {
  now(): number;
  random(): number;
  /** Resolves after `ms`, or rejects early when `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  random: () => Math.random(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
    }),
};

/** The run's overall deadline: an absolute time and a signal that aborts when it passes. */
export interface Deadline {
  readonly atMs: number;
  readonly totalMs: number;
  readonly signal: AbortSignal;
}

export function startDeadline(totalMs: number, clock: Clock = systemClock): Deadline & { cancel(): void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error('deadline passed')), totalMs);
  timer.unref();
  return {
    atMs: clock.now() + totalMs,
    totalMs,
    signal: controller.signal,
    cancel: () => clearTimeout(timer),
  };
}

export interface RetryPolicy {
  /** First backoff ceiling; doubles per attempt up to `capMs`. */
  baseMs: number;
  capMs: number;
  /** A hard bound on attempts, so a zero-jitter streak cannot spin. */
  maxAttempts: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseMs: 250, capMs: 8000, maxAttempts: 12 };

export interface RetryOptions {
  deadline: Deadline;
  clock: Clock;
  policy?: RetryPolicy;
  /** Called before each wait, for logging. */
  onRetry?: (error: FetcherError, attempt: number, delayMs: number) => void;
}

/** Full jitter (AWS architecture blog): a uniform wait in [0, min(cap, base·2^attempt)). */
export function backoffMs(attempt: number, policy: RetryPolicy, random: number): number {
  return Math.floor(random * Math.min(policy.capMs, policy.baseMs * 2 ** attempt));
}

/** Retry-After as delta-seconds or an HTTP-date (RFC 9110 §10.2.3), in ms from `nowMs`. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP-date always names the weekday and month; Date.parse alone would accept "-5".
  if (!/[A-Za-z]/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - nowMs);
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

/** The error that ends a run whose last attempt was retryable but no time or attempts are left. */
export function gaveUp(last: FetcherError, reason: string): FetcherError {
  return new FetcherError({
    problem: `${reason}; the last attempt failed: ${last.problem.replace(/[.]$/, '')}`,
    fix: `${last.fix.replace(/[.]$/, '')}; if the peer is only slow, raise DAP_DEADLINE_SECONDS`,
    ...(last.status === undefined ? {} : { status: last.status }),
    ...(last.secrets === undefined ? {} : { secrets: last.secrets }),
    exitCode: EXIT_CODES.deadline,
  });
}

/**
 * Runs `action` until it returns, throws a non-retryable error, or the deadline or attempt bound
 * is reached. `action` receives the 0-based attempt number.
 */
export async function withRetry<T>(action: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const { deadline, clock } = options;
  const policy = options.policy ?? DEFAULT_RETRY_POLICY;
  for (let attempt = 0; ; attempt++) {
    try {
      return await action(attempt);
    } catch (err) {
      if (!(err instanceof FetcherError) || !err.retryable) throw err;
      const remainingMs = deadline.atMs - clock.now();
      if (remainingMs <= 0 || deadline.signal.aborted) {
        throw gaveUp(err, `gave up when the ${seconds(deadline.totalMs)} deadline passed`);
      }
      if (attempt + 1 >= policy.maxAttempts) throw gaveUp(err, `gave up after ${policy.maxAttempts} attempts`);
      const delayMs = Math.max(err.retryAfterMs ?? 0, backoffMs(attempt, policy, clock.random()));
      if (delayMs >= remainingMs) {
        const why =
          err.retryAfterMs !== undefined && err.retryAfterMs >= remainingMs
            ? `gave up because the peer asked to retry after ${seconds(err.retryAfterMs)}, ` +
              `past the ${seconds(deadline.totalMs)} deadline`
            : `gave up because the next attempt would start after the ${seconds(deadline.totalMs)} deadline`;
        throw gaveUp(err, why);
      }
      options.onRetry?.(err, attempt, delayMs);
      try {
        await clock.sleep(delayMs, deadline.signal);
      } catch {
        throw gaveUp(err, `gave up when the ${seconds(deadline.totalMs)} deadline passed`);
      }
    }
  }
}
