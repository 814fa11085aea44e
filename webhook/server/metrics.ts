/**
 * Prometheus metrics, served on the health port's /metrics. One registry per server instance
 * (not prom-client's global one), so tests can run several servers in one process.
 * Every label has a small fixed set of values; pod names never become labels.
 */
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { Outcome } from '../admission.js';
import type { FileMountType } from '../config.js';
import type { DenialReason } from '../mutate/deliveries.js';

const METRIC_PREFIX = 'dap_secret_webhook_';

/**
 * The admission outcomes plus the three the HTTP layer adds: bad input (4xx), request bodies over
 * WEBHOOK_MAX_INFLIGHT_BODY_BYTES (503) and internal errors (500).
 */
export type RequestOutcome = Outcome | 'invalid' | 'overloaded' | 'error';
const REQUEST_OUTCOMES: readonly RequestOutcome[] = [
  'injected',
  'unchanged',
  'denied',
  'ignored',
  'invalid',
  'overloaded',
  'error',
];
const MOUNT_TYPES: readonly FileMountType[] = ['FILE', 'ENV_VAR'];
// A Record, so adding a DenialReason without listing it here is a type error.
const DENIAL_REASONS = Object.keys({
  'malformed-annotation': true,
  'undeliverable-secret': true,
  'conflicting-secrets': true,
  'no-project': true,
  'name-collision': true,
  'stale-injection': true,
  'over-limit': true,
  'flytekit-settings': true,
  'unsupported-pod': true,
} satisfies Record<DenialReason, true>);

export interface WebhookMetrics {
  registry: Registry;
  requests: Counter<'outcome'>;
  duration: Histogram<'outcome'>;
  injectedSecrets: Counter<'mount'>;
  denials: Counter<'reason'>;
  registrations: Counter<'result'>;
  certificateReloads: Counter<'result'>;
}

export function createMetrics(): WebhookMetrics {
  const registry = new Registry();
  // prom-client samples event-loop delay every 10 ms by default: ~180 wake-ups a second that
  // cost an idle webhook ~6 ms of CPU per second (bench/README.md). 100 ms still shows a stalled loop.
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX, eventLoopMonitoringPrecision: 100 });
  const registers = [registry];
  const metrics: WebhookMetrics = {
    registry,
    requests: new Counter({
      name: `${METRIC_PREFIX}admission_requests_total`,
      help: 'Admission requests by outcome (invalid = rejected HTTP input, overloaded = request bodies over WEBHOOK_MAX_INFLIGHT_BODY_BYTES, error = internal error).',
      labelNames: ['outcome'],
      registers,
    }),
    duration: new Histogram({
      name: `${METRIC_PREFIX}admission_duration_seconds`,
      help: 'Time from request start to response, body read included.',
      labelNames: ['outcome'],
      // The mutation itself takes well under a millisecond; the upper buckets catch slow uploads and stalls.
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    injectedSecrets: new Counter({
      name: `${METRIC_PREFIX}injected_secrets_total`,
      help: 'Secrets wired into admitted pods, by mount type.',
      labelNames: ['mount'],
      registers,
    }),
    denials: new Counter({
      name: `${METRIC_PREFIX}denials_total`,
      help: 'Denial causes (one denied pod may count several).',
      labelNames: ['reason'],
      registers,
    }),
    registrations: new Counter({
      name: `${METRIC_PREFIX}registration_attempts_total`,
      help: 'Attempts to create or update the MutatingWebhookConfiguration, by result.',
      labelNames: ['result'],
      registers,
    }),
    certificateReloads: new Counter({
      name: `${METRIC_PREFIX}certificate_reloads_total`,
      help: 'Serving certificate reloads after the files changed, by result.',
      labelNames: ['result'],
      registers,
    }),
  };
  // Zero every known series up front: a rate() over a series that appears late misses its first increments.
  for (const outcome of REQUEST_OUTCOMES) metrics.requests.inc({ outcome }, 0);
  for (const mount of MOUNT_TYPES) metrics.injectedSecrets.inc({ mount }, 0);
  for (const reason of DENIAL_REASONS) metrics.denials.inc({ reason }, 0);
  for (const result of ['created', 'updated', 'failed', 'skipped'] as const) metrics.registrations.inc({ result }, 0);
  for (const result of ['success', 'failure'] as const) metrics.certificateReloads.inc({ result }, 0);
  return metrics;
}
