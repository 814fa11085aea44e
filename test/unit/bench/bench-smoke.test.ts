/**
 * The arithmetic behind `npm run bench` (percentiles, ratios, verdicts, h2load's log, the table),
 * so a figure in bench/README.md means what it says. No timings are measured or asserted here.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type AdmissionRun, ownTimes } from '../../../bench/admission/index.js';
import { parseH2load } from '../../../bench/admission/load.js';
import { type ControlPlaneCase, webhookCallCounts } from '../../../bench/control-plane/index.js';
import { parseStat } from '../../../bench/lib/proc-cpu.js';
import { maxFinite, percentile, ratio, summarize, verdict } from '../../../bench/lib/stats.js';
import { renderTable } from '../../../bench/lib/table.js';
import { type BenchFigures, benchTable, judge, LIMITS } from '../../../bench/report.js';

describe('bench arithmetic', () => {
  describe('percentile (nearest rank)', () => {
    const oneToThousand = Array.from({ length: 1000 }, (_, i) => 1000 - i);

    it('p50, p99, p99.9 and p100 of 1..1000 are 500, 990, 999 and 1000', () => {
      assert.deepEqual(
        [50, 99, 99.9, 100].map((p) => percentile(oneToThousand, p)),
        [500, 990, 999, 1000],
      );
    });

    it('is always one of the samples, with at least p% of them at or below it and fewer strictly below', () => {
      fc.assert(
        fc.property(
          fc.array(fc.double({ min: 0, max: 1e4, noNaN: true }), { minLength: 1, maxLength: 300 }),
          fc.double({ min: 0.1, max: 100, noNaN: true }),
          (samples, p) => {
            const value = percentile(samples, p);
            assert.ok(samples.includes(value));
            assert.ok(samples.filter((s) => s <= value).length >= (p / 100) * samples.length - 1e-9);
            assert.ok(samples.filter((s) => s < value).length < (p / 100) * samples.length);
          },
        ),
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
    const log = [
      '1795368366437060\t200\t1855',
      '1795368366438331\t200\t802',
      '1795368366439000\t503\t100',
      '1795368366440000\t0\t0',
      '',
    ].join('\n');
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
    const load = (rps: number, p99: number) => ({
      protocol: 'HTTP/2' as const,
      rate: 'saturation' as const,
      requestsPerSecond: rps,
      latencyMs: { count: 100, p50: 1, p99, p999: p99, max: p99 },
      non2xx: 0,
      errors: 0,
      peakRssBytes: 100 * 2 ** 20,
    });
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
        runs: [
          {
            ...run(1000, [1000, 4.2], [1000, 1.2]),
            webhook: { ...load(1000, 4.2), rate: 1000, ownMs: { p99Bound: 2.5, p999Bound: 10 } },
          },
          run('saturation', [2000, 9], [8000, 3]),
        ],
        idleRssBytes: { webhook: 110 * 2 ** 20, baseline: 60 * 2 ** 20 },
        peakRssBytes: { webhook: 130 * 2 ** 20, baseline: 90 * 2 ** 20 },
        idleCpuMsPerSecond: { webhook: 1, baseline: 0.5 },
        lowRateCpuMicros: { webhook: 1700, baseline: 1000 },
        skipped: [],
      },
    };

    it('judges each figure against its limit; saturation vs the no-op server is reported, not judged (issue 14)', () => {
      const targets = judge(figures);
      assert.deepEqual(
        targets.map((t) => [t.name, t.verdict]),
        [
          ['admission HTTP/2 4 secrets p99 at 1000 req/s', 'met'],
          ['admission webhook peak RSS under load', 'met'],
        ],
      );
      assert.equal(targets[1]!.limit, LIMITS.webhookRssBytes);
    });

    const controlPlane = (ours: Partial<ControlPlaneCase>): BenchFigures => {
      const base = (id: ControlPlaneCase['id']): ControlPlaneCase => ({
        id,
        pods: 100,
        failed: 0,
        failures: [],
        podsPerSecond: 300,
        latencyMs: { count: 100, p50: 20, p99: 40, p999: 40, max: 40 },
        apiserverCpuMsPerPod: 2,
        etcdCpuMsPerPod: 0.5,
        webhookCpuMsPerPod: id === 'mutated' ? Number.NaN : 0.6,
        webhookCallsPerPod: id === 'mutated' ? Number.NaN : 1,
        roundPodsPerSecond: [300],
      });
      return {
        controlPlane: {
          podsPerRound: 100,
          rounds: 1,
          concurrency: 8,
          secrets: 4,
          podBytes: { flyte: 10_000, mutated: 14_000 },
          cases: [
            { ...base('webhook'), ...ours },
            base('mutated'),
            base('agnhost'),
            { ...base('patched'), apiserverCpuMsPerPod: 1.6 },
          ],
          webhookPeakRssBytes: 150 * 2 ** 20,
          agnhostPeakRssBytes: 30 * 2 ** 20,
        },
      };
    };

    it('control plane: 1 call per pod, CPU vs agnhost, API server CPU within 10% of no webhook', () => {
      const verdicts = (f: BenchFigures) => Object.fromEntries(judge(f).map((t) => [t.name, t.verdict]));
      assert.deepEqual(verdicts(controlPlane({})), {
        'control plane: webhook calls per pod': 'met',
        'control plane: webhook CPU per pod vs agnhost': 'met',
        'control plane: API server CPU per pod vs no webhook': 'met',
        'control plane: webhook peak RSS': 'met',
      });
      const worse = verdicts(
        controlPlane({ webhookCallsPerPod: 2, webhookCpuMsPerPod: 0.61, apiserverCpuMsPerPod: 2.21 }),
      );
      assert.equal(worse['control plane: webhook calls per pod'], 'MISSED');
      assert.equal(worse['control plane: webhook CPU per pod vs agnhost'], 'MISSED');
      assert.equal(worse['control plane: API server CPU per pod vs no webhook'], 'MISSED');
      assert.equal(
        verdicts(controlPlane({ apiserverCpuMsPerPod: 2.2 }))['control plane: API server CPU per pod vs no webhook'],
        'met',
      );
      const text = renderTable(benchTable(controlPlane({}), judge(controlPlane({}))));
      assert.match(text, /webhook CPU per pod .* 0\.60 ms .* agnhost 0\.60 ms .* 1\.00× .* met/);
      // Baseline (c), a Go webhook answering a patch: reported, never judged.
      assert.match(text, /agnhost \/mutating-pods-sidecar \(c\) · create .* 300 pods\/s/);
      assert.match(
        text,
        /kube-apiserver CPU per pod vs a patch .* 2\.00 ms .* \(c\) 1\.60 ms \(1-op patch\) .* 1\.25× .* reported/,
      );
    });

    it('herd: fetcher CPU per run against 100 ms (S=10) and 150 ms (S=1,000), and no failed pod', () => {
      const herdCase = (secrets: number, design: 'fetcher' | 'old', cpu: number, failed = 0) => ({
        secrets,
        design,
        pods: 100,
        failed,
        retries: 0,
        failures: [],
        wallSeconds: 10,
        podsPerSecond: 10,
        mlpCpuMsPerPod: 3,
        postgresCpuMsPerPod: 1,
        mlpRequestsPerPod: design === 'fetcher' ? 3 : 12,
        ...(design === 'fetcher' ? { fetcherCpuMs: { median: cpu, p90: cpu, mean: cpu } } : {}),
      });
      const figures: BenchFigures = {
        herd: {
          pods: 100,
          concurrency: 25,
          rounds: 1,
          secretsPerPod: 4,
          database: { maxIdleConns: 10, maxOpenConns: 20 },
          cases: [
            herdCase(10, 'fetcher', 100),
            herdCase(10, 'old', 0),
            herdCase(1000, 'fetcher', 151, 1),
            herdCase(1000, 'old', 0),
          ],
        },
      };
      assert.deepEqual(
        judge(figures).map((t) => [t.name, t.verdict]),
        [
          ['herd S=10: fetcher CPU per run (median)', 'met'],
          ['herd S=10: failed pods', 'met'],
          ['herd S=1000: fetcher CPU per run (median)', 'MISSED'],
          ['herd S=1000: failed pods', 'MISSED'],
        ],
      );
    });

    it("counts the API server's webhook calls per webhook name from its metrics", () => {
      const metrics = [
        '# TYPE apiserver_admission_webhook_admission_duration_seconds histogram',
        'apiserver_admission_webhook_admission_duration_seconds_bucket{name="a.example",operation="CREATE",rejected="false",type="admit",le="0.005"} 3',
        'apiserver_admission_webhook_admission_duration_seconds_count{name="a.example",operation="CREATE",rejected="false",type="admit"} 7',
        'apiserver_admission_webhook_admission_duration_seconds_count{name="a.example",operation="CREATE",rejected="true",type="admit"} 1',
        'apiserver_admission_webhook_admission_duration_seconds_count{name="b.example",operation="CREATE",rejected="false",type="admit"} 2',
      ].join('\n');
      assert.deepEqual(
        [...webhookCallCounts(metrics)],
        [
          ['a.example', 8],
          ['b.example', 2],
        ],
      );
    });

    it("reads the webhook's own 99% and 99.9% bounds from the difference of two histogram readings", () => {
      const inf = Number.POSITIVE_INFINITY;
      const before = new Map([
        [0.001, 100],
        [0.0025, 100],
        [0.005, 100],
        [inf, 100],
      ]);
      const after = new Map([
        [0.001, 1080],
        [0.0025, 1095],
        [0.005, 1100],
        [inf, 1100],
      ]);
      assert.deepEqual(ownTimes(before, after), { p99Bound: 2.5, p999Bound: 5 });
      assert.deepEqual(
        ownTimes(
          before,
          new Map([
            [0.001, 100],
            [0.0025, 100],
            [0.005, 100],
            [inf, 101],
          ]),
        ),
        {
          p99Bound: inf,
          p999Bound: inf,
        },
      );
    });

    it('reads CPU ticks from /proc/<pid>/stat, whatever the command name holds', () => {
      const fields = ['S', '42', ...Array.from({ length: 9 }, () => '0'), '100', '20', '3', '4', '0'];
      assert.deepEqual(parseStat(`1234 (we ird) (name)) ${fields.join(' ')}`), { ppid: 42, own: 120, reaped: 7 });
    });

    it('prints every row with the same column boundaries, ratios and verdicts', () => {
      const text = renderTable(benchTable(figures, judge(figures)));
      const lines = text.split('\n');
      const rows = lines.filter((l) => l.includes('│'));
      const bars = (l: string) => [...l].flatMap((c, i) => (c === '│' ? [i] : []));
      for (const row of rows) assert.deepEqual(bars(row).slice(0, 4), bars(rows[0]!).slice(0, 4), row);
      const saturation = rows.find((r) => r.startsWith('HTTP/2 · 4 secrets · saturation'))!;
      assert.match(saturation, /req\/s 0\.25× .* reported/);
      assert.match(rows.find((r) => r.startsWith('HTTP/2 · 4 secrets · 1,000 req/s'))!, /p99 3\.50× .* met$/);
      assert.match(
        rows.find((r) => r.startsWith("webhook's own answer time during HTTP/2 · 4 secrets · 1,000 req/s"))!,
        /99% ≤ 2\.50 · 99\.9% ≤ 10\.0 ms .* reported/,
      );
      assert.match(
        rows.find((r) => r.startsWith('CPU per second, idle'))!,
        /1\.00\/s .* 0\.50\/s .* 2\.00× .* reported/,
      );
      assert.match(
        rows.find((r) => r.startsWith('CPU per request, HTTP/2 · 4 secrets · 50 req/s'))!,
        /1,700 µs .* 1,000 µs .* 1\.70× .* reported/,
      );
    });
  });
});
