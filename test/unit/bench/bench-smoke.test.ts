/**
 * The arithmetic behind `npm run bench` (percentiles, ratios, verdicts, h2load's log, the table),
 * so a figure in bench/README.md means what it says. No timings are measured or asserted here.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseH2load } from '../../../bench/admission/load.js';
import { maxFinite, percentile, ratio, summarize, verdict } from '../../../bench/lib/stats.js';
import { renderTable } from '../../../bench/lib/table.js';
import { LIMITS, benchTable, judge, type BenchFigures } from '../../../bench/report.js';
import type { AdmissionRun } from '../../../bench/admission/index.js';

describe('bench arithmetic', () => {
  describe('percentile (nearest rank)', () => {
    const oneToThousand = Array.from({ length: 1000 }, (_, i) => 1000 - i);

    it('p50, p99, p99.9 and p100 of 1..1000 are 500, 990, 999 and 1000', () => {
      assert.deepEqual([50, 99, 99.9, 100].map((p) => percentile(oneToThousand, p)), [500, 990, 999, 1000]);
    });

    it('is always one of the samples, with at least p% of them at or below it and fewer strictly below', () => {
      fc.assert(
        fc.property(fc.array(fc.double({ min: 0, max: 1e4, noNaN: true }), { minLength: 1, maxLength: 300 }), fc.double({ min: 0.1, max: 100, noNaN: true }), (samples, p) => {
          const value = percentile(samples, p);
          assert.ok(samples.includes(value));
          assert.ok(samples.filter((s) => s <= value).length >= (p / 100) * samples.length - 1e-9);
          assert.ok(samples.filter((s) => s < value).length < (p / 100) * samples.length);
        }),
      );
    });

    it('is NaN without samples and rejects p outside (0, 100]', () => {
      assert.ok(Number.isNaN(percentile([], 50)));
      assert.throws(() => percentile([1], 0), RangeError);
      assert.throws(() => percentile([1], 101), RangeError);
    });

    it('summarize gives count, p50, p99, p99.9 and max of unsorted samples', () => {
      assert.deepEqual(summarize(oneToThousand), { count: 1000, p50: 500, p99: 990, p999: 999, max: 1000 });
    });
  });

  it('ratio and maxFinite treat missing figures as NaN, not as zero', () => {
    assert.equal(ratio(3, 4), 0.75);
    assert.ok(Number.isNaN(ratio(3, 0)));
    assert.ok(Number.isNaN(ratio(Number.NaN, 4)));
    assert.equal(maxFinite([1, Number.NaN, 3, 2]), 3);
    assert.ok(Number.isNaN(maxFinite([Number.NaN])));
  });

  it('verdict: at most / at least, inclusive limits; a missing value is n/a', () => {
    assert.equal(verdict(5, 5, 'at most'), 'met');
    assert.equal(verdict(5.01, 5, 'at most'), 'MISSED');
    assert.equal(verdict(0.8, 0.8, 'at least'), 'met');
    assert.equal(verdict(0.79, 0.8, 'at least'), 'MISSED');
    assert.equal(verdict(Number.NaN, 0.8, 'at least'), 'n/a');
  });

  it("h2load's per-request log: 2xx latencies in ms, other statuses counted, unfinished (status 0) ignored", () => {
    const log = ['1795368366437060\t200\t1855', '1795368366438331\t200\t802', '1795368366439000\t503\t100', '1795368366440000\t0\t0', ''].join('\n');
    const summary = 'requests: 4 total, 4 started, 3 done, 2 succeeded, 1 failed, 1 errored, 2 timeout';
    const result = parseH2load('HTTP/2', log, summary, { rate: 1000, window: { measuredSeconds: 2 } });
    assert.deepEqual(result.latencyMs, { count: 2, p50: 0.802, p99: 1.855, p999: 1.855, max: 1.855 });
    assert.equal(result.requestsPerSecond, 1);
    assert.equal(result.non2xx, 1);
    assert.equal(result.errors, 3);
  });

  it("h2load's log without a measured phase: requests that start within the warm-up are cut, req/s over the rest", () => {
    // One request every 100 ms for 2 s; the first 0.5 s is warm-up.
    const log = Array.from({ length: 21 }, (_, i) => `${1_000_000_000 + i * 100_000}\t200\t${1000 + i}`).join('\n');
    const result = parseH2load('HTTP/1.1', log, '', { rate: 10, window: { warmupSeconds: 0.5 } });
    assert.equal(result.latencyMs.count, 16);
    assert.equal(result.latencyMs.p50, 1.012);
    assert.equal(result.requestsPerSecond, 16 / 1.5);
  });

  describe('targets and the table', () => {
    const load = (rps: number, p99: number) => ({ protocol: 'HTTP/2' as const, rate: 'saturation' as const, requestsPerSecond: rps, latencyMs: { count: 100, p50: 1, p99, p999: p99, max: p99 }, non2xx: 0, errors: 0, peakRssBytes: 100 * 2 ** 20 });
    const run = (rate: AdmissionRun['rate'], webhook: [number, number], baseline: [number, number]): AdmissionRun => ({
      protocol: 'HTTP/2',
      secrets: 4,
      rate,
      webhook: { ...load(...webhook), rate },
      baseline: { ...load(...baseline), rate },
      throughputRatio: webhook[0] / baseline[0],
      p99Ratio: webhook[1] / baseline[1],
    });
    const figures: BenchFigures = {
      admission: {
        bodyBytes: { 1: 9000, 4: 9500, 16: 11000 },
        runs: [run(1000, [1000, 4.2], [1000, 1.2]), run('saturation', [2000, 9], [8000, 3])],
        idleRssBytes: { webhook: 110 * 2 ** 20, baseline: 60 * 2 ** 20 },
        peakRssBytes: { webhook: 130 * 2 ** 20, baseline: 90 * 2 ** 20 },
        skipped: [],
      },
    };

    it('judges each figure against the limit of issue 6', () => {
      const targets = judge(figures);
      assert.deepEqual(
        targets.map((t) => [t.name, t.verdict]),
        [
          ['admission HTTP/2 4 secrets p99 at 1000 req/s', 'met'],
          ['admission HTTP/2 4 secrets saturation throughput vs baseline', 'MISSED'],
          ['admission webhook peak RSS under load', 'MISSED'],
        ],
      );
      assert.equal(targets[1]!.value, 0.25);
      assert.equal(targets[1]!.limit, LIMITS.saturationThroughputRatio);
    });

    it('prints every row with the same column boundaries, ratios and verdicts', () => {
      const text = renderTable(benchTable(figures, judge(figures)));
      const lines = text.split('\n');
      const rows = lines.filter((l) => l.includes('│'));
      const bars = (l: string) => [...l].flatMap((c, i) => (c === '│' ? [i] : []));
      for (const row of rows) assert.deepEqual(bars(row).slice(0, 4), bars(rows[0]!).slice(0, 4), row);
      const saturation = rows.find((r) => r.startsWith('HTTP/2 · 4 secrets · saturation'))!;
      assert.match(saturation, /req\/s 0\.25×/);
      assert.match(saturation, /MISSED$/);
      assert.match(rows.find((r) => r.startsWith('HTTP/2 · 4 secrets · 1,000 req/s'))!, /p99 3\.50× .* met$/);
    });
  });
});
