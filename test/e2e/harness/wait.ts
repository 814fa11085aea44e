/**
 * Waiting on a condition with a bound: poll until `check` returns a value (not undefined),
 * or fail naming what was awaited and the last error seen.
 */
import { setTimeout as delay } from 'node:timers/promises';

export interface WaitOptions {
  /** What is awaited, in words: it becomes the error message. */
  what: string;
  timeoutMs?: number;
  intervalMs?: number;
  /** Checked between polls: a reason to stop early (e.g. a process that exited). */
  abortIf?: () => string | undefined;
}

export async function waitFor<T>(check: () => Promise<T | undefined> | T | undefined, opts: WaitOptions): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    const abortReason = opts.abortIf?.();
    if (abortReason) throw new Error(`gave up waiting for ${opts.what}: ${abortReason}`);
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what}${cause}`);
    }
    await delay(intervalMs);
  }
}
