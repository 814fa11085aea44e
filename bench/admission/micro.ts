/**
 * The pure mutation alone, in-process: µs per pod for `admit()` (decode annotations, build the
 * fetcher, diff to a JSONPatch, base64) on the benchmark pods, next to `JSON.parse` of the same
 * body — work every webhook does anyway, so the ratio says how heavy the mutation is.
 * Bounded: at most MAX_ITERATIONS calls or BUDGET_MS per measurement.
 */
import { isDeepStrictEqual } from 'node:util';
import { goldenConfig } from '../../test/support/goldens.js';
import { admit } from '../../webhook/admission.js';
import { median } from '../lib/stats.js';
import { benchReviewBody, SECRET_COUNTS, type SecretCount } from './pods.js';

export interface MicroResult {
  secrets: SecretCount;
  bodyBytes: number;
  /** Median over batches of µs per call. */
  admitMicros: number;
  jsonParseMicros: number;
  iterations: number;
}

const BATCH = 50;
const WARMUP_CALLS = 500;

/** Median µs per call of `fn`, over batches of BATCH calls, within the bounds. */
function microsPerCall(
  fn: () => unknown,
  budgetMs: number,
  maxIterations: number,
): { micros: number; iterations: number } {
  for (let i = 0; i < WARMUP_CALLS; i++) fn();
  const perCall: number[] = [];
  const deadline = performance.now() + budgetMs;
  let iterations = 0;
  while (iterations < maxIterations && performance.now() < deadline) {
    const t0 = performance.now();
    for (let i = 0; i < BATCH; i++) fn();
    perCall.push(((performance.now() - t0) * 1000) / BATCH);
    iterations += BATCH;
  }
  return { micros: median(perCall), iterations };
}

export function runMicro(budgetMs = 1_000, maxIterations = 50_000): MicroResult[] {
  const config = goldenConfig();
  return SECRET_COUNTS.map((secrets) => {
    const body = benchReviewBody(secrets);
    const review = JSON.parse(body) as unknown;
    const before = structuredClone(review);
    const first = admit(review, config);
    if (first.outcome !== 'injected')
      throw new Error(
        `the ${secrets}-secret bench pod was not injected (${first.outcome}): fix bench/admission/pods.ts`,
      );
    // Reusing one parsed body is only fair if admit() leaves its input alone.
    if (!isDeepStrictEqual(review, before))
      throw new Error('admit() changed its input: the micro-benchmark must parse a fresh body per call');
    const admitRun = microsPerCall(() => admit(review, config), budgetMs, maxIterations);
    const parseRun = microsPerCall(() => JSON.parse(body), budgetMs / 4, maxIterations);
    return {
      secrets,
      bodyBytes: Buffer.byteLength(body),
      admitMicros: admitRun.micros,
      jsonParseMicros: parseRun.micros,
      iterations: admitRun.iterations,
    };
  });
}
