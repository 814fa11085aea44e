/**
 * Open-loop HTTP/2 load at a fixed rate over one connection, the way the API server multiplexes
 * its calls to a webhook: request i is due at start + i/rate whatever happened to the ones before,
 * and its latency runs from that due time (so a late client or a queue in front of the server
 * counts, instead of being hidden as coordinated omission).
 * Why not h2load here: in its `--rps` mode over HTTP/2 it adds ~1 ms to every request on this
 * machine (the no-op baseline measured p50 1.2–2 ms paced, 0.2 ms sequential; this client, paced,
 * 0.4 ms). Bounded: rate × (warm-up + seconds) requests, at most MAX_IN_FLIGHT outstanding (a
 * request due beyond that counts as an error), and a deadline.
 */

import { once } from 'node:events';
import http2 from 'node:http2';
import { summarize } from '../lib/stats.js';
import type { LoadResult, LoadSpec } from './load.js';

const MAX_IN_FLIGHT = 256;
const DRAIN_MS = 10_000;

export async function pacedHttp2(spec: LoadSpec & { rate: number }): Promise<LoadResult> {
  const session = http2.connect(`https://127.0.0.1:${spec.port}`, {
    rejectUnauthorized: false,
    servername: 'localhost',
  });
  session.on('error', () => {});
  await Promise.race([once(session, 'connect'), once(session, 'error').then(([err]) => Promise.reject(err as Error))]);
  const body = Buffer.from(spec.body);
  const total = Math.round(spec.rate * (spec.warmupSeconds + spec.seconds));
  const intervalMs = 1000 / spec.rate;
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let inFlight = 0;
  let settled = 0;
  let allSettled!: () => void;
  const done = new Promise<void>((resolve) => (allSettled = resolve));
  const start = performance.now() + 5;
  const measureFrom = start + spec.warmupSeconds * 1000;
  const measureTo = measureFrom + spec.seconds * 1000;
  let completedInWindow = 0;

  const settle = () => {
    inFlight--;
    if (++settled === total) allSettled();
  };
  const issue = (due: number) => {
    if (inFlight >= MAX_IN_FLIGHT || session.closed || session.destroyed) {
      errors++;
      inFlight++;
      settle();
      return;
    }
    inFlight++;
    const req = session.request({
      ':method': 'POST',
      ':path': spec.path,
      'content-type': 'application/json',
      'content-length': body.length,
    });
    let status = 0;
    req.on('response', (headers) => (status = Number(headers[':status'])));
    req.on('data', () => {});
    req.on('end', () => {
      const now = performance.now();
      if (due >= measureFrom && due < measureTo) {
        if (status >= 200 && status < 300) latencies.push(now - due);
        else non2xx++;
      }
      if (status >= 200 && status < 300 && now >= measureFrom && now < measureTo) completedInWindow++;
      settle();
    });
    req.on('error', () => {
      if (due >= measureFrom) errors++;
      settle();
    });
    req.end(body);
  };

  let next = 0;
  const tick = () => {
    const now = performance.now();
    while (next < total && start + next * intervalMs <= now) issue(start + next++ * intervalMs);
    if (next < total) setTimeout(tick, Math.max(0, start + next * intervalMs - performance.now()));
  };
  setTimeout(tick, 5);
  const deadline = setTimeout(allSettled, (spec.warmupSeconds + spec.seconds) * 1000 + DRAIN_MS);
  await done;
  clearTimeout(deadline);
  session.destroy();
  errors += total - settled;
  return {
    protocol: 'HTTP/2',
    rate: spec.rate,
    requestsPerSecond: completedInWindow / spec.seconds,
    latencyMs: summarize(latencies),
    non2xx,
    errors,
  };
}
