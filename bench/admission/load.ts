/**
 * The load generators, one interface: POST the same AdmissionReview to an HTTPS endpoint on
 * loopback for a bounded time, either as fast as the server answers (saturation: IN_FLIGHT
 * requests always outstanding) or at a fixed rate, and return requests/s and latency percentiles
 * of the 2xx responses after a short warm-up.
 * - HTTP/1.1 saturation: autocannon (programmatic), IN_FLIGHT keep-alive connections. Latencies
 *   come from its per-response event (its own histogram rounds to whole ms).
 * - HTTP/1.1 at a fixed rate: Debian's h2load (nghttp2-client) `--h1 --rps`, which paces each
 *   connection with a timer and logs every request in µs. Not autocannon's `overallRate`: it
 *   sends each connection's whole quota at the start of every second (lib/httpClient.js
 *   `reqsMadeThisSecond`), which measures how a burst queues, not latency at a steady rate.
 * - HTTP/2 (what the API server speaks to webhooks), one connection: h2load at saturation;
 *   paced-http2.ts at a fixed rate (see there why not h2load).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { startChild, tempDir } from '../lib/processes.js';
import { type LatencySummary, summarize } from '../lib/stats.js';
import { pacedHttp2 } from './paced-http2.js';

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

/** Requests in flight at saturation: HTTP/1.1 keep-alive connections, or HTTP/2 streams. */
const IN_FLIGHT = 16;

export function load(protocol: Protocol, spec: LoadSpec): Promise<LoadResult> {
  if (spec.rate === 'saturation')
    return protocol === 'HTTP/1.1' ? autocannonSaturation(spec) : h2loadRun(protocol, spec);
  return protocol === 'HTTP/2' ? pacedHttp2({ ...spec, rate: spec.rate }) : h2loadRun(protocol, spec);
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
  return {
    protocol: 'HTTP/1.1',
    rate: 'saturation',
    requestsPerSecond: latencies.length / measuredSeconds,
    latencyMs: summarize(latencies),
    non2xx,
    errors,
  };
}

/** Without h2load, the HTTP/1.1 fixed-rate and HTTP/2 saturation rows say this. */
const H2LOAD = 'h2load';
export const H2LOAD_MISSING = 'h2load not found: apt-get install nghttp2-client (Debian/Ubuntu)';

export async function h2loadAvailable(): Promise<boolean> {
  const child = spawn(H2LOAD, ['--version'], { stdio: 'ignore' });
  // events.once rejects when 'error' comes first (no h2load on PATH): that is the answer too.
  const [code] = (await once(child, 'exit').catch(() => [-1])) as [number | null];
  return code === 0;
}

async function h2loadRun(protocol: Protocol, spec: LoadSpec): Promise<LoadResult> {
  const dir = tempDir('dap-bench-h2-');
  try {
    const bodyFile = join(dir.path, 'body.json');
    const logFile = join(dir.path, 'requests.tsv');
    writeFileSync(bodyFile, spec.body);
    const shape = h2loadShape(protocol, spec);
    const args = [
      ...shape.args,
      '--data',
      bodyFile,
      '--header',
      'content-type: application/json',
      '--log-file',
      logFile,
      `https://127.0.0.1:${spec.port}${spec.path}`,
    ];
    const child = startChild(H2LOAD, args, process.env);
    // Bounded: h2load stops itself after the duration or request count; this is the backstop.
    const kill = setTimeout(() => void child.stop(0), (spec.warmupSeconds + spec.seconds + 15) * 1000);
    const [code] = (await (child.process.exitCode !== null
      ? [child.process.exitCode]
      : once(child.process, 'exit'))) as [number | null];
    clearTimeout(kill);
    if (code !== 0) throw new Error(`h2load exited with ${code}:\n${child.output()}`);
    return parseH2load(protocol, readFileSync(logFile, 'utf8'), child.output(), {
      rate: spec.rate,
      window: shape.window,
    });
  } finally {
    dir.remove();
  }
}

/** Which requests of h2load's log count: those of its measured phase, or (no phase) those after a warm-up. */
export type LogWindow = { measuredSeconds: number } | { warmupSeconds: number };

/**
 * HTTP/2 saturation: one connection (as the API server multiplexes a webhook's requests),
 * IN_FLIGHT streams.
 * HTTP/1.1 at a fixed rate: IN_FLIGHT keep-alive connections, each paced at rate/IN_FLIGHT. All
 * started at once, their timers would fire together and send bursts of IN_FLIGHT requests, so
 * connections are opened 1/rate apart (`--rate`/`--rate-period`, whole milliseconds), which
 * h2load only allows with a request count (`-n`) instead of a duration: the warm-up is then
 * cut from the log by start time.
 */
function h2loadShape(protocol: Protocol, spec: LoadSpec): { args: string[]; window: LogWindow } {
  const timed = [
    '--duration',
    `${Math.round(spec.seconds * 1000)}ms`,
    '--warm-up-time',
    `${Math.round(spec.warmupSeconds * 1000)}ms`,
  ];
  if (protocol === 'HTTP/2' && spec.rate === 'saturation')
    return {
      args: [...timed, '--clients', '1', '--max-concurrent-streams', String(IN_FLIGHT)],
      window: { measuredSeconds: spec.seconds },
    };
  if (protocol === 'HTTP/2' || spec.rate === 'saturation')
    throw new Error(`h2load does not run ${protocol} at ${spec.rate}: see load()`);
  const periodMs = Math.max(1, Math.round(1000 / spec.rate));
  const perPeriod = Math.max(1, Math.round((spec.rate * periodMs) / 1000));
  const requests = IN_FLIGHT * Math.ceil((spec.rate * (spec.warmupSeconds + spec.seconds)) / IN_FLIGHT);
  return {
    args: [
      '--h1',
      '--clients',
      String(IN_FLIGHT),
      '--max-concurrent-streams',
      '1',
      '--rps',
      String(spec.rate / IN_FLIGHT),
      '--rate',
      String(perPeriod),
      '--rate-period',
      `${periodMs}ms`,
      '--requests',
      String(requests),
    ],
    window: { warmupSeconds: spec.warmupSeconds },
  };
}

/**
 * h2load's per-request log: `start µs since epoch <TAB> status <TAB> µs to the end of the
 * response`; status 0 = still in flight when the measured phase ended (not counted). Requests/s
 * = 2xx responses in the window ÷ its length.
 */
export function parseH2load(
  protocol: Protocol,
  log: string,
  summaryText: string,
  spec: { rate: Rate; window: LogWindow },
): LoadResult {
  const rows = log
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => line.split('\t').map(Number) as [start: number, status: number, micros: number]);
  let counted = rows;
  let seconds: number;
  if ('measuredSeconds' in spec.window) seconds = spec.window.measuredSeconds;
  else {
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;
    for (const [start] of rows) {
      first = Math.min(first, start);
      last = Math.max(last, start);
    }
    const from = first + spec.window.warmupSeconds * 1e6;
    counted = rows.filter(([start]) => start >= from);
    seconds = (last - from) / 1e6;
  }
  const latencies: number[] = [];
  let non2xx = 0;
  for (const [, status, micros] of counted) {
    if (status === 0) continue;
    if (status >= 200 && status < 300) latencies.push(micros / 1000);
    else non2xx++;
  }
  const requests =
    /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
      summaryText,
    );
  const errors = requests ? Number(requests[6]) + Number(requests[7]) : 0;
  return {
    protocol,
    rate: spec.rate,
    requestsPerSecond: seconds > 0 ? latencies.length / seconds : Number.NaN,
    latencyMs: summarize(latencies),
    non2xx,
    errors,
  };
}
