/**
 * Summary statistics and ratios for the benchmark table. Pure.
 * Percentiles use the nearest-rank method (the value of a real sample, never an interpolation):
 * p99 of 1,000 samples is the 990th smallest.
 */

/** Nearest-rank percentile of unsorted samples; NaN for no samples. `p` in (0, 100]. */
export function percentile(samples: readonly number[], p: number): number {
  return percentileOfSorted(
    [...samples].sort((a, b) => a - b),
    p,
  );
}

function percentileOfSorted(sorted: readonly number[], p: number): number {
  if (!(p > 0 && p <= 100)) throw new RangeError(`percentile: p must be in (0, 100], got ${p}`);
  if (sorted.length === 0) return Number.NaN;
  // The epsilon keeps float error (99.9 × 1000 / 100 = 999.0000000000001) from skipping a rank.
  const rank = Math.max(1, Math.ceil((p * sorted.length) / 100 - 1e-9));
  return sorted[rank - 1]!;
}

export const median = (samples: readonly number[]) => percentile(samples, 50);

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: percentileOfSorted(sorted, 50),
    p99: percentileOfSorted(sorted, 99),
    p999: percentileOfSorted(sorted, 99.9),
    max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
  };
}

/** The largest finite value; NaN when there is none. */
export function maxFinite(values: readonly number[]): number {
  let max = Number.NaN;
  for (const v of values) if (Number.isFinite(v) && !(v <= max)) max = v;
  return max;
}

/** measured / baseline; NaN when either is missing or the baseline is not positive. */
export function ratio(measured: number, baseline: number): number {
  if (!Number.isFinite(measured) || !Number.isFinite(baseline) || baseline <= 0) return Number.NaN;
  return measured / baseline;
}

export type Verdict = 'met' | 'MISSED' | 'n/a';

/** A target is `value <= limit` (at most) or `value >= limit` (at least); a missing value is n/a. */
export function verdict(value: number, limit: number, kind: 'at most' | 'at least'): Verdict {
  if (!Number.isFinite(value)) return 'n/a';
  return (kind === 'at most' ? value <= limit : value >= limit) ? 'met' : 'MISSED';
}

/** `1234.5` → `1,235`; NaN → `—`. */
export function fmtInt(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—';
}

/** Milliseconds with two decimals below 10, one below 100, none above; NaN → `—`. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  return ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0);
}

/** `1.234` → `1.23×`; NaN → `—`. */
export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}×` : '—';
}

export const MiB = 1024 * 1024;

/** Bytes → `12.3 MiB`; NaN → `—`. */
export function fmtMiB(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / MiB).toFixed(1)} MiB` : '—';
}
