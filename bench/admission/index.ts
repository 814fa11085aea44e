/**
 * Admission over HTTPS on loopback: the built webhook and the baseline server, started once and
 * loaded alternately with the same scenario (so background noise hits both alike). Scenarios:
 * HTTP/1.1 and HTTP/2 × 1/4/16-secret pods × 500 and 2,000 req/s, 1,000 req/s with 4 secrets
 * (the p99 target), then saturation — fixed rates first, so the memory a saturation run makes
 * the heap grow to does not count as the peak RSS of a fixed-rate run.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { processCpuMsPrecise } from '../lib/proc-cpu.js';
import { procStatusBytes, resetPeakRss } from '../lib/processes.js';
import { maxFinite, ratio } from '../lib/stats.js';
import { H2LOAD_MISSING, h2loadAvailable, type LoadResult, load, type Protocol, type Rate } from './load.js';
import { benchReviewBody, SECRET_COUNTS, type SecretCount } from './pods.js';
import {
  MUTATE_PATH,
  postOnce,
  type ServerUnderTest,
  startBaseline,
  startWebhook,
  writeCertificate,
} from './servers.js';

interface AdmissionScenario {
  protocol: Protocol;
  secrets: SecretCount;
  rate: Rate;
}

interface Measured extends LoadResult {
  /** Peak RSS of the server during this run (VmHWM after resetting it); NaN when not resettable. */
  peakRssBytes: number;
  /**
   * The webhook's own answer times in this run, from its duration histogram (request start to
   * response; queueing before the handler runs is not in it): the bucket bounds (ms) that 99% and
   * 99.9% of the answers fall under. Only for the webhook, only where it serves the metrics.
   */
  ownMs?: { p99Bound: number; p999Bound: number };
}

export interface AdmissionRun extends AdmissionScenario {
  webhook: Measured;
  baseline: Measured;
  /** webhook / baseline */
  throughputRatio: number;
  p99Ratio: number;
}

export interface AdmissionFigures {
  bodyBytes: Record<SecretCount, number>;
  runs: AdmissionRun[];
  /** RSS after start-up and one request per pod, before any load. */
  idleRssBytes: { webhook: number; baseline: number };
  /** Peak RSS over all measured runs. */
  peakRssBytes: { webhook: number; baseline: number };
  /** CPU ms per second with no requests (timers, metrics sampling): what an idle replica costs. */
  idleCpuMsPerSecond: { webhook: number; baseline: number };
  /**
   * CPU µs per request at LOW_RATE req/s over one HTTP/2 connection: the API server's call
   * pattern, where a Node process pays far more per request than at saturation (one wake-up each).
   */
  lowRateCpuMicros: { webhook: number; baseline: number };
  /** Scenarios that did not run, and why. */
  skipped: { scenario: AdmissionScenario; why: string }[];
}

export interface AdmissionOptions {
  /** Measured seconds per fixed-rate run and per saturation run, after warmupSeconds each. */
  rateSeconds: number;
  saturationSeconds: number;
  warmupSeconds: number;
  /** Seconds of the idle-CPU reading and of the low-rate run. */
  idleSeconds: number;
  /** NODE_OPTIONS for the webhook process (profiling). */
  webhookNodeOptions?: string;
  progress(line: string): void;
}

const PROTOCOLS: readonly Protocol[] = ['HTTP/1.1', 'HTTP/2'];
const FIXED_RATES = [500, 2_000] as const;
export const TARGET_RATE = 1_000;
/** About the pods/s of the control-plane tier: how often the API server calls a webhook there. */
export const LOW_RATE = 50;
export const TARGET_RATE_SECRETS: SecretCount = 4;

function scenarios(): AdmissionScenario[] {
  const list: AdmissionScenario[] = [];
  for (const protocol of PROTOCOLS) {
    for (const secrets of SECRET_COUNTS) list.push({ protocol, secrets, rate: FIXED_RATES[0] });
    list.push({ protocol, secrets: TARGET_RATE_SECRETS, rate: TARGET_RATE });
    for (const secrets of SECRET_COUNTS) list.push({ protocol, secrets, rate: FIXED_RATES[1] });
  }
  for (const protocol of PROTOCOLS)
    for (const secrets of SECRET_COUNTS) list.push({ protocol, secrets, rate: 'saturation' });
  return list;
}

/** Both servers must answer every benchmark body with 200 — and the webhook with a patch — before any load. */
async function checkAnswers(
  servers: ServerUnderTest[],
  caPem: string,
  bodies: Record<SecretCount, string>,
): Promise<void> {
  for (const server of servers) {
    for (const secrets of SECRET_COUNTS) {
      const res = await postOnce(server.port, caPem, bodies[secrets]);
      if (res.status !== 200)
        throw new Error(
          `${server.name} answered the ${secrets}-secret pod with HTTP ${res.status}: ${res.body.slice(0, 300)}`,
        );
      const response = (JSON.parse(res.body) as { response?: { allowed?: boolean; patchType?: string } }).response;
      if (response?.allowed !== true)
        throw new Error(`${server.name} did not allow the ${secrets}-secret pod: ${res.body.slice(0, 300)}`);
      if (server.name === 'webhook' && response.patchType !== 'JSONPatch')
        throw new Error(`the webhook did not patch the ${secrets}-secret pod: ${res.body.slice(0, 300)}`);
    }
  }
}

export async function runAdmission(options: AdmissionOptions): Promise<AdmissionFigures> {
  const bodies = Object.fromEntries(SECRET_COUNTS.map((n) => [n, benchReviewBody(n)])) as Record<SecretCount, string>;
  const haveH2load = await h2loadAvailable();
  // h2load drives HTTP/1.1 at fixed rates and HTTP/2 at saturation (see load.ts).
  const runnable = (s: AdmissionScenario) => haveH2load || (s.protocol === 'HTTP/1.1') === (s.rate === 'saturation');
  const cert = await writeCertificate();
  const servers: ServerUnderTest[] = [];
  try {
    servers.push(await startWebhook(cert, options.webhookNodeOptions));
    servers.push(await startBaseline(cert));
    const [webhook, baseline] = servers as [ServerUnderTest, ServerUnderTest];
    await checkAnswers(servers, cert.caPem, bodies);
    const idleRssBytes = {
      webhook: procStatusBytes(webhook.child.pid, 'VmRSS'),
      baseline: procStatusBytes(baseline.child.pid, 'VmRSS'),
    };

    const measure = async (server: ServerUnderTest, s: AdmissionScenario): Promise<Measured> => {
      const resettable = resetPeakRss(server.child.pid);
      const before = server.healthPort ? await durationBuckets(server.healthPort) : undefined;
      const result = await load(s.protocol, {
        port: server.port,
        path: MUTATE_PATH,
        body: bodies[s.secrets],
        rate: s.rate,
        seconds: s.rate === 'saturation' ? options.saturationSeconds : options.rateSeconds,
        warmupSeconds: options.warmupSeconds,
      });
      const own = before && server.healthPort ? ownTimes(before, await durationBuckets(server.healthPort)) : undefined;
      return {
        ...result,
        peakRssBytes: resettable ? server.peakRssBytes() : Number.NaN,
        ...(own ? { ownMs: own } : {}),
      };
    };

    // JIT and TLS warm-up of both servers at a modest rate (so it does not grow the heap); discarded.
    options.progress('admission: warm-up');
    const warmup: AdmissionScenario = { protocol: 'HTTP/2', secrets: 4, rate: 500 };
    for (const server of servers) await measure(server, warmup);

    options.progress(`admission: idle CPU (${options.idleSeconds} s), then CPU per request at ${LOW_RATE} req/s`);
    const idleCpuMsPerSecond = await idleCpu(webhook, baseline, options.idleSeconds);
    const lowRateCpuMicros = { webhook: 0, baseline: 0 };
    for (const server of servers) {
      const before = processCpuMsPrecise(server.child.pid);
      const run = await load('HTTP/2', {
        port: server.port,
        path: MUTATE_PATH,
        body: bodies[TARGET_RATE_SECRETS],
        rate: LOW_RATE,
        seconds: options.idleSeconds,
        warmupSeconds: 0,
      });
      const answered = run.requestsPerSecond * options.idleSeconds;
      lowRateCpuMicros[server.name] = ((processCpuMsPrecise(server.child.pid) - before) * 1000) / answered;
    }

    const runs: AdmissionRun[] = [];
    const skipped: AdmissionFigures['skipped'] = [];
    const list = scenarios();
    for (const [i, s] of list.entries()) {
      if (!runnable(s)) {
        skipped.push({ scenario: s, why: H2LOAD_MISSING });
        continue;
      }
      options.progress(
        `admission ${i + 1}/${list.length}: ${s.protocol}, ${s.secrets} secret(s), ${s.rate === 'saturation' ? 'saturation' : `${s.rate} req/s`}`,
      );
      const w = await measure(webhook, s);
      const b = await measure(baseline, s);
      runs.push({
        ...s,
        webhook: w,
        baseline: b,
        throughputRatio: ratio(w.requestsPerSecond, b.requestsPerSecond),
        p99Ratio: ratio(w.latencyMs.p99, b.latencyMs.p99),
      });
    }
    // VmHWM was reset before each run: the overall peak is the largest per-run peak (or, when it could not be reset, VmHWM itself).
    const overall = (server: ServerUnderTest, pick: (r: AdmissionRun) => Measured) =>
      maxFinite([server.peakRssBytes(), ...runs.map((r) => pick(r).peakRssBytes)]);
    return {
      bodyBytes: Object.fromEntries(SECRET_COUNTS.map((n) => [n, Buffer.byteLength(bodies[n])])) as Record<
        SecretCount,
        number
      >,
      runs,
      idleRssBytes,
      peakRssBytes: { webhook: overall(webhook, (r) => r.webhook), baseline: overall(baseline, (r) => r.baseline) },
      idleCpuMsPerSecond,
      lowRateCpuMicros,
      skipped,
    };
  } finally {
    await Promise.all(servers.map((s) => s.child.stop()));
    cert.remove();
  }
}

/** Both servers idle side by side (after their warm-up has settled): CPU ms per second each. */
async function idleCpu(
  webhook: ServerUnderTest,
  baseline: ServerUnderTest,
  seconds: number,
): Promise<{ webhook: number; baseline: number }> {
  await sleep(1_000);
  const before = [processCpuMsPrecise(webhook.child.pid), processCpuMsPrecise(baseline.child.pid)];
  await sleep(seconds * 1000);
  return {
    webhook: (processCpuMsPrecise(webhook.child.pid) - before[0]!) / seconds,
    baseline: (processCpuMsPrecise(baseline.child.pid) - before[1]!) / seconds,
  };
}

/** Cumulative counts of the webhook's admission duration histogram (all outcomes), by upper bound in seconds. */
async function durationBuckets(healthPort: number): Promise<Map<number, number>> {
  const text = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  const buckets = new Map<number, number>();
  for (const m of text.matchAll(
    /^dap_secret_webhook_admission_duration_seconds_bucket\{le="([^"]+)",[^}]*\} (\d+)$/gm,
  )) {
    const le = m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]);
    buckets.set(le, (buckets.get(le) ?? 0) + Number(m[2]));
  }
  return buckets;
}

/** The smallest bucket bounds (ms) under which 99% and 99.9% of the answers between two readings fall. */
export function ownTimes(
  before: Map<number, number>,
  after: Map<number, number>,
): { p99Bound: number; p999Bound: number } {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const count = (le: number) => (after.get(le) ?? 0) - (before.get(le) ?? 0);
  const total = count(Number.POSITIVE_INFINITY);
  const bound = (q: number) => (bounds.find((le) => count(le) >= q * total) ?? Number.POSITIVE_INFINITY) * 1000;
  return { p99Bound: bound(0.99), p999Bound: bound(0.999) };
}
