/**
 * The largest pod admitted at the default caps (issue 11 item 2), through the built webhook:
 * WEBHOOK_MAX_SECRETS_PER_POD ENV_VAR secrets, each with an env_var too, into
 * WEBHOOK_MAX_WIRED_CONTAINERS containers, with keys as long as the annotation-bytes and
 * patch-bytes caps still admit. Sequential requests (the worst single answer, not throughput);
 * latency median and max, and the webhook's peak RSS against the chart's memory limit.
 * Baseline in the same run: the baseline server (read + JSON.parse + fixed answer) on the same body.
 */

import { goldenConfig } from '../test/support/goldens.js';
import { admit } from '../webhook/admission.js';
import { CONFIG_VARS } from '../webhook/config.js';
import { encodeSecretAnnotation, type FlyteSecret } from '../webhook/flyte/annotations.js';
import { podReview } from '../webhook/render.js';
import { postOnce, type ServerUnderTest, startBaseline, startWebhook, writeCertificate } from './admission/servers.js';
import { median } from './lib/stats.js';
import type { Table } from './lib/table.js';

/** The chart's resources.limits.memory for the webhook (deploy/helm/.../values.yaml). */
const CHART_MEMORY_LIMIT_BYTES = 256 * 1024 * 1024;
const TARGET_SECONDS = 0.5;
const REQUESTS = 15;

const defaultOf = (name: string) => Number(CONFIG_VARS.find((v) => v.name === name)!.default);

export interface CapsFigures {
  secrets: number;
  containers: number;
  keyLength: number;
  bodyBytes: number;
  patchBytes: number;
  webhook: { medianMs: number; maxMs: number; peakRssBytes: number };
  baseline: { medianMs: number; maxMs: number; peakRssBytes: number };
}

function capsPod(keyLength: number): { body: string; patchBytes: number } | null {
  const secrets = defaultOf('WEBHOOK_MAX_SECRETS_PER_POD');
  const containers = defaultOf('WEBHOOK_MAX_WIRED_CONTAINERS');
  const annotations: Record<string, string> = {};
  for (let i = 0; i < secrets; i++) {
    const key = `k${i}-`.padEnd(keyLength, 'x');
    const secret: FlyteSecret = {
      group: `group-${i % 4}`,
      groupVersion: '',
      key,
      mountRequirement: 'ENV_VAR',
      envVar: `EXTRA_${i}`,
    };
    annotations[`flyte.secrets/s${i}`] = encodeSecretAnnotation(secret);
  }
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'caps-a1b2c3-n0-0',
      namespace: 'flytesnacks-development',
      labels: { 'inject-flyte-secrets': 'true' },
      annotations,
    },
    spec: {
      restartPolicy: 'Never',
      containers: Array.from({ length: containers }, (_, i) => ({
        name: `c${i}`,
        image: 'cr.flyte.org/flyteorg/flytekit:py3.11-1.16.24',
        env: [{ name: 'FLYTE_INTERNAL_EXECUTION_ID', value: 'a1b2c3' }],
      })),
    },
  };
  const body = JSON.stringify(podReview(pod, { uid: 'bench-caps' }));
  const result = admit(JSON.parse(body), goldenConfig());
  if (result.outcome !== 'injected') return null;
  return { body, patchBytes: Buffer.from(result.review.response.patch!, 'base64').length };
}

/** The longest key (in steps of 8) with which the pod is still admitted at the default caps. */
function largestAdmitted(): { keyLength: number; body: string; patchBytes: number } {
  let best: { keyLength: number; body: string; patchBytes: number } | undefined;
  for (let keyLength = 8; keyLength <= 4096; keyLength += 8) {
    const pod = capsPod(keyLength);
    if (!pod) break;
    best = { keyLength, ...pod };
  }
  if (!best) throw new Error('bench/admission-caps.ts: even the smallest caps pod is denied; fix the pod');
  return best;
}

async function timeRequests(
  server: ServerUnderTest,
  caPem: string,
  body: string,
): Promise<{ medianMs: number; maxMs: number; peakRssBytes: number }> {
  const first = await postOnce(server.port, caPem, body);
  if (first.status !== 200 || (server.name === 'webhook' && !first.body.includes('"patchType":"JSONPatch"'))) {
    throw new Error(`${server.name} did not admit the caps pod (${first.status}): ${first.body.slice(0, 300)}`);
  }
  const samples: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const t0 = performance.now();
    await postOnce(server.port, caPem, body);
    samples.push(performance.now() - t0);
  }
  return { medianMs: median(samples), maxMs: Math.max(...samples), peakRssBytes: server.peakRssBytes() };
}

export async function runCapsBench(progress: (line: string) => void = () => {}): Promise<CapsFigures> {
  const pod = largestAdmitted();
  progress(
    `caps: the largest admitted pod has ${pod.body.length} bytes, keys of ${pod.keyLength} characters, a ${pod.patchBytes}-byte patch`,
  );
  const cert = await writeCertificate();
  try {
    const measure = async (start: () => Promise<ServerUnderTest>) => {
      const server = await start();
      try {
        return await timeRequests(server, cert.caPem, pod.body);
      } finally {
        await server.child.stop();
      }
    };
    const webhook = await measure(() => startWebhook(cert));
    const baseline = await measure(() => startBaseline(cert));
    return {
      secrets: defaultOf('WEBHOOK_MAX_SECRETS_PER_POD'),
      containers: defaultOf('WEBHOOK_MAX_WIRED_CONTAINERS'),
      keyLength: pod.keyLength,
      bodyBytes: pod.body.length,
      patchBytes: pod.patchBytes,
      webhook,
      baseline,
    };
  } finally {
    cert.remove();
  }
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

export function capsTable(f: CapsFigures): Table {
  const time = f.webhook.maxMs / 1000 <= TARGET_SECONDS ? 'met' : 'MISSED';
  const memory = f.webhook.peakRssBytes <= CHART_MEMORY_LIMIT_BYTES ? 'met' : 'MISSED';
  return {
    header: ['largest pod admitted at the default caps', 'webhook', 'baseline', 'ratio', 'target', 'verdict'],
    rows: [
      `${f.secrets} ENV_VAR secrets + env_var × ${f.containers} containers, keys of ${f.keyLength} chars: ${(f.bodyBytes / 1024).toFixed(0)} KiB body, ${(f.patchBytes / 1024).toFixed(0)} KiB patch`,
      [
        'answer time, median / max of 15',
        `${f.webhook.medianMs.toFixed(0)} / ${f.webhook.maxMs.toFixed(0)} ms`,
        `${f.baseline.medianMs.toFixed(0)} / ${f.baseline.maxMs.toFixed(0)} ms`,
        `${(f.webhook.medianMs / f.baseline.medianMs).toFixed(1)}×`,
        `max ≤ ${TARGET_SECONDS * 1000} ms`,
        time,
      ],
      [
        'peak RSS',
        mib(f.webhook.peakRssBytes),
        mib(f.baseline.peakRssBytes),
        `${(f.webhook.peakRssBytes / f.baseline.peakRssBytes).toFixed(1)}×`,
        `≤ ${mib(CHART_MEMORY_LIMIT_BYTES)} (chart limit)`,
        memory,
      ],
    ],
  };
}
