/**
 * Figures → the targets of issue 6 with their verdicts, and the one table `npm run bench`
 * prints. Pure: the same figures always give the same table (the JSON holds the figures).
 */
import type { AdmissionFigures, AdmissionRun } from './admission/index.js';
import { TARGET_RATE, TARGET_RATE_SECRETS } from './admission/index.js';
import type { LoadResult } from './admission/load.js';
import type { MicroResult } from './admission/micro.js';
import type { ControlPlaneFigures } from './control-plane/index.js';
import type { FetcherFigures, Timing } from './fetcher/index.js';
import type { HerdFigures } from './herd/index.js';
import { MiB, fmtInt, maxFinite, fmtMiB, fmtMs, fmtRatio, verdict, type Verdict } from './lib/stats.js';
import type { Table } from './lib/table.js';

export interface BenchFigures {
  admission?: AdmissionFigures;
  micro?: MicroResult[];
  fetcher?: FetcherFigures;
  controlPlane?: ControlPlaneFigures;
  herd?: HerdFigures;
}

export interface Target {
  /** What is judged, e.g. `admission HTTP/2 4 secrets saturation throughput`. */
  name: string;
  value: number;
  unit: '×' | 'ms' | 'bytes';
  kind: 'at most' | 'at least';
  limit: number;
  verdict: Verdict;
}

/** The limits from issue 6. */
export const LIMITS = {
  saturationThroughputRatio: 0.8,
  targetRateP99Ms: 5,
  webhookRssBytes: 120 * MiB,
  fetcherWallRatio: 2.0,
  fetcherRssBytes: 96 * MiB,
} as const;

const secretsLabel = (n: number) => `${n} secret${n === 1 ? '' : 's'}`;
const loadLabel = (r: AdmissionRun) => (r.rate === 'saturation' ? 'saturation' : `${fmtInt(r.rate)} req/s`);
const isTargetRate = (r: AdmissionRun) => r.rate === TARGET_RATE && r.secrets === TARGET_RATE_SECRETS;

function target(name: string, value: number, unit: Target['unit'], kind: Target['kind'], limit: number): Target {
  return { name, value, unit, kind, limit, verdict: verdict(value, limit, kind) };
}

/** One target per checkable figure; a figure that was not measured is `n/a`. */
export function judge(figures: BenchFigures): Target[] {
  const targets: Target[] = [];
  const a = figures.admission;
  if (a) {
    for (const r of a.runs) {
      const what = `admission ${r.protocol} ${secretsLabel(r.secrets)}`;
      if (r.rate === 'saturation') targets.push(target(`${what} saturation throughput vs baseline`, r.throughputRatio, '×', 'at least', LIMITS.saturationThroughputRatio));
      if (isTargetRate(r)) targets.push(target(`${what} p99 at ${TARGET_RATE} req/s`, r.webhook.latencyMs.p99, 'ms', 'at most', LIMITS.targetRateP99Ms));
    }
    targets.push(target('admission webhook peak RSS under load', a.peakRssBytes.webhook, 'bytes', 'at most', LIMITS.webhookRssBytes));
  }
  const f = figures.fetcher;
  if (f) {
    for (const c of f.cases) targets.push(target(`fetcher ${c.label} median wall time vs --version`, c.medianRatio, '×', 'at most', LIMITS.fetcherWallRatio));
    targets.push(target('fetcher peak RSS (all runs)', maxFinite(f.cases.map((c) => c.peakRssBytes.max)), 'bytes', 'at most', LIMITS.fetcherRssBytes));
  }
  return targets;
}

function loadCell(r: LoadResult): string {
  const l = r.latencyMs;
  const trouble = r.non2xx + r.errors > 0 ? ` · ${r.non2xx} non-2xx, ${r.errors} errors` : '';
  return `${fmtInt(r.requestsPerSecond)} req/s · p50 ${fmtMs(l.p50)} · p99 ${fmtMs(l.p99)} · p99.9 ${fmtMs(l.p999)} ms${trouble}`;
}

function timingCell(t: Timing): string {
  return `median ${fmtMs(t.wallMs.median)} · p90 ${fmtMs(t.wallMs.p90)} ms · RSS ${fmtMiB(t.peakRssBytes.max)}`;
}

const limitText = (t: Target) => `${t.kind === 'at most' ? '≤' : '≥'} ${t.unit === 'bytes' ? fmtMiB(t.limit) : t.unit === 'ms' ? `${t.limit} ms` : fmtRatio(t.limit)}`;

export function benchTable(figures: BenchFigures, targets: Target[]): Table {
  const rows: (string[] | string)[] = [];
  const find = (name: string) => targets.find((t) => t.name === name);
  const judged = (t: Target | undefined, prefix = ''): [string, string] => (t ? [`${prefix}${limitText(t)}`, t.verdict] : ['', '']);

  const a = figures.admission;
  if (a) {
    rows.push('admission: HTTPS POST /mutate on 127.0.0.1, webhook (dist/webhook/dap-secret-webhook.mjs serve) vs baseline-server.mjs');
    for (const r of a.runs) {
      const what = `admission ${r.protocol} ${secretsLabel(r.secrets)}`;
      const ratioCell = r.rate === 'saturation' ? `req/s ${fmtRatio(r.throughputRatio)}` : `p99 ${fmtRatio(r.p99Ratio)}`;
      const t = r.rate === 'saturation' ? find(`${what} saturation throughput vs baseline`) : isTargetRate(r) ? find(`${what} p99 at ${TARGET_RATE} req/s`) : undefined;
      rows.push([`${r.protocol} · ${secretsLabel(r.secrets)} · ${loadLabel(r)}`, loadCell(r.webhook), loadCell(r.baseline), ratioCell, ...judged(t, r.rate === 'saturation' ? 'req/s ' : 'p99 ')]);
    }
    for (const s of a.skipped) rows.push([`${s.scenario.protocol} · ${secretsLabel(s.scenario.secrets)} · ${s.scenario.rate === 'saturation' ? 'saturation' : `${fmtInt(s.scenario.rate)} req/s`}`, `skipped: ${s.why}`, '', '', '', 'n/a']);
    rows.push(['RSS idle (after start-up)', fmtMiB(a.idleRssBytes.webhook), fmtMiB(a.idleRssBytes.baseline), fmtRatio(a.idleRssBytes.webhook / a.idleRssBytes.baseline), '', '']);
    const targetRun = a.runs.find((r) => isTargetRate(r) && r.protocol === 'HTTP/2') ?? a.runs.find(isTargetRate);
    if (targetRun) rows.push([`RSS peak during ${targetRun.protocol} · ${loadLabel(targetRun)}`, fmtMiB(targetRun.webhook.peakRssBytes), fmtMiB(targetRun.baseline.peakRssBytes), fmtRatio(targetRun.webhook.peakRssBytes / targetRun.baseline.peakRssBytes), '', '']);
    rows.push(['RSS peak, all runs (VmHWM)', fmtMiB(a.peakRssBytes.webhook), fmtMiB(a.peakRssBytes.baseline), fmtRatio(a.peakRssBytes.webhook / a.peakRssBytes.baseline), ...judged(find('admission webhook peak RSS under load'))]);
  }
  if (figures.micro) {
    rows.push('admit(): the pure mutation in-process, µs per pod (baseline: JSON.parse of the same body)');
    for (const m of figures.micro) {
      rows.push([`admit() · ${secretsLabel(m.secrets)} · ${(m.bodyBytes / 1024).toFixed(1)} KiB body`, `${m.admitMicros.toFixed(0)} µs/pod`, `${m.jsonParseMicros.toFixed(0)} µs`, fmtRatio(m.admitMicros / m.jsonParseMicros), '', '']);
    }
  }
  const f = figures.fetcher;
  if (f) {
    rows.push(`fetcher: dist/dap-secret-fetcher end to end, ${f.version.runs} runs per case (baseline: the same executable's --version)`);
    for (const c of f.cases) rows.push([`fetcher · ${c.label}`, timingCell(c), timingCell(f.version), `median ${fmtRatio(c.medianRatio)}`, ...judged(find(`fetcher ${c.label} median wall time vs --version`), 'median ')]);
    const rss = find('fetcher peak RSS (all runs)');
    rows.push(['fetcher peak RSS, all runs', f.rssSkipped ? `skipped: ${f.rssSkipped}` : fmtMiB(rss?.value ?? Number.NaN), fmtMiB(f.version.peakRssBytes.max), fmtRatio((rss?.value ?? Number.NaN) / f.version.peakRssBytes.max), ...judged(rss)]);
    rows.push(['fetcher executable size', `${fmtMiB(f.executableBytes)} (gzip ${fmtMiB(f.executableGzipBytes)})`, '', '', 'reported', '']);
  }
  return { header: ['what', 'measured', 'baseline (same run)', 'ratio', 'target', 'verdict'], rows };
}
