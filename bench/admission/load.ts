/**
 * The load generators, one interface: POST the same AdmissionReview to an HTTPS endpoint on
 * loopback for a bounded time, either as fast as the server answers (saturation: IN_FLIGHT
 * requests always outstanding) or at a fixed rate, and return requests/s and latency percentiles
 * of the 2xx responses after a short warm-up.
 * - HTTP/1.1 saturation: autocannon (programmatic), IN_FLIGHT keep-alive connections. Latencies
 *   come from its per-response event (its own histogram rounds to whole ms).
 * - Fixed rates (HTTP/1.1 and HTTP/2) and HTTP/2 saturation: Debian's h2load (nghttp2-client),
 *   `--h1` for HTTP/1.1. Its `--rps` paces every connection with a timer (requests spread evenly
 *   over the second), where autocannon's `overallRate` sends each connection's whole quota at the
 *   start of every second (lib/httpClient.js `reqsMadeThisSecond`) and so measures burst queueing,
 *   not latency at a steady rate. h2load logs every request of the measured phase in µs.
 *   HTTP/2 is what the API server speaks to webhooks.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { summarize, type LatencySummary } from '../lib/stats.js';

export type Protocol = 'HTTP/1.1' | 'HTTP/2';
/** Requests per second, or as fast as the server answers. */
export type Rate = number | 'saturation';

export interface LoadSpec {
  port: number;
  path: string;
  body: string;
  rate: Rate;
  /** Measured seconds, after `warmupSeconds` that are not counted. */
  seconds: number;
  warmupSeconds: number;
}

export interface LoadResult {
  protocol: Protocol;
  rate: Rate;
  /** 2xx responses per second in the measured phase. */
  requestsPerSecond: number;
  latencyMs: LatencySummary;
  /** Responses with another status, and connection/request errors: both should be 0. */
  non2xx: number;
  errors: number;
}

/** Most requests in flight: HTTP/1.1 keep-alive connections, or HTTP/2 connections × streams. */
export const IN_FLIGHT = 16;
/** The API server multiplexes a webhook's requests over few HTTP/2 connections. */
const H2_CONNECTIONS = 2;

export function load(protocol: Protocol, spec: LoadSpec): Promise<LoadResult> {
  return protocol === 'HTTP/1.1' && spec.rate === 'saturation' ? autocannonSaturation(spec) : h2loadRun(protocol, spec);
}

async function autocannonSaturation(spec: LoadSpec): Promise<LoadResult> {
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  const measureFrom = performance.now() + spec.warmupSeconds * 1000;
  let settle!: (err: Error | null) => void;
  const finished = new Promise<void>((resolve, reject) => (settle = (err) => (err ? reject(err) : resolve())));
  const instance = autocannon(
    {
      url: `https://127.0.0.1:${spec.port}${spec.path}`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: spec.body,
      connections: IN_FLIGHT,
      pipelining: 1,
      duration: spec.warmupSeconds + spec.seconds,
      timeout: 10,
      servername: 'localhost',
    },
    // The callback form returns the event emitter (for per-response latencies).
    (err) => settle(err),
  );
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTimeMs: number) => {
    if (performance.now() < measureFrom) return;
    if (statusCode >= 200 && statusCode < 300) latencies.push(responseTimeMs);
    else non2xx++;
  });
  instance.on('reqError', () => errors++);
  await finished;
  const measuredSeconds = (performance.now() - measureFrom) / 1000;
  return { protocol: 'HTTP/1.1', rate: 'saturation', requestsPerSecond: latencies.length / measuredSeconds, latencyMs: summarize(latencies), non2xx, errors };
}

/** Without h2load only the HTTP/1.1 saturation rows run; the others say this. */
export const H2LOAD = 'h2load';
export const H2LOAD_MISSING = 'h2load not found: apt-get install nghttp2-client (Debian/Ubuntu)';

export async function h2loadAvailable(): Promise<boolean> {
  const child = spawn(H2LOAD, ['--version'], { stdio: 'ignore' });
  const [code] = (await Promise.race([once(child, 'exit'), once(child, 'error').then(() => [-1])])) as [number | null];
  return code === 0;
}

async function h2loadRun(protocol: Protocol, spec: LoadSpec): Promise<LoadResult> {
  const connections = protocol === 'HTTP/2' ? H2_CONNECTIONS : IN_FLIGHT;
  const dir = mkdtempSync(join(tmpdir(), 'dap-bench-h2-'));
  try {
    const bodyFile = join(dir, 'body.json');
    const logFile = join(dir, 'requests.tsv');
    writeFileSync(bodyFile, spec.body);
    const args = [
      '--duration', `${Math.round(spec.seconds * 1000)}ms`,
      '--warm-up-time', `${Math.round(spec.warmupSeconds * 1000)}ms`,
      ...(protocol === 'HTTP/1.1' ? ['--h1'] : []),
      '--clients', String(connections),
      '--max-concurrent-streams', String(IN_FLIGHT / connections),
      '--data', bodyFile,
      '--header', 'content-type: application/json',
      '--log-file', logFile,
      ...(spec.rate === 'saturation' ? [] : ['--rps', String(spec.rate / connections)]),
      `https://127.0.0.1:${spec.port}${spec.path}`,
    ];
    const child = spawn(H2LOAD, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    // Bounded: h2load stops itself after warm-up + duration; this is the backstop.
    const kill = setTimeout(() => child.kill('SIGKILL'), (spec.warmupSeconds + spec.seconds + 15) * 1000);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(kill);
    if (code !== 0) throw new Error(`h2load exited with ${code}:\n${output}`);
    return parseH2load(protocol, readFileSync(logFile, 'utf8'), output, spec);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * h2load's per-request log: `start µs since epoch <TAB> status <TAB> µs to the end of the response`;
 * status 0 = still in flight when the measured phase ended (not counted).
 */
export function parseH2load(protocol: Protocol, log: string, summaryText: string, spec: Pick<LoadSpec, 'rate' | 'seconds'>): LoadResult {
  const latencies: number[] = [];
  let non2xx = 0;
  for (const line of log.split('\n')) {
    if (line === '') continue;
    const [, status, micros] = line.split('\t').map(Number) as [number, number, number];
    if (status === 0) continue;
    if (status >= 200 && status < 300) latencies.push(micros / 1000);
    else non2xx++;
  }
  const requests = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(summaryText);
  const errors = requests ? Number(requests[6]) + Number(requests[7]) : 0;
  return { protocol, rate: spec.rate, requestsPerSecond: latencies.length / spec.seconds, latencyMs: summarize(latencies), non2xx, errors };
}
