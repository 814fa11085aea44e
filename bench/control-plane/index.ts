/**
 * Pod creation through the real admission chain (issue 14): the e2e tier's kube-apiserver 1.34
 * with etcd and the controller manager (test/e2e/harness/controlPlane.ts), realistic Flyte task
 * pods with 4 secrets (admission/pods.ts) created at a fixed concurrency, three cases interleaved
 * round by round so background load hits them alike:
 *
 *   webhook  — the built webhook (dist/webhook/dap-secret-webhook.mjs serve, self-registered)
 *              mutating the Flyte pod
 *   mutated  — no webhook; the pod the webhook produced, created as it is (what the bigger pod
 *              costs the API server by itself)                                     (baseline a)
 *   agnhost  — Kubernetes' Go e2e webhook (`agnhost webhook`, /mutating-pods) called for the
 *              unmutated pod                                                       (baseline b)
 *   patched  — agnhost's /mutating-pods-sidecar: the same Go webhook answering a one-operation
 *              patch (a small container) for the unmutated pod: what any mutating webhook
 *              costs the API server                                                (baseline c)
 *
 * Per case: pods/s, create latency p50/p99 (client side, POST to 201), CPU ms per pod of the
 * webhook process and of kube-apiserver (/proc/<pid>/stat), webhook calls per pod (the API
 * server's own apiserver_admission_webhook_admission_duration_seconds_count), and the webhook's
 * peak RSS (VmHWM) over all rounds.
 */
import { Agent, request } from 'node:https';
import { AdmissionregistrationV1Api } from '@kubernetes/client-node';
import { createNamespace } from '../../test/e2e/harness/cluster.js';
import { type ControlPlane, startControlPlane } from '../../test/e2e/harness/controlPlane.js';
import { type RunningWebhook, startWebhook } from '../../test/e2e/harness/webhook.js';
import { INJECT_LABEL } from '../../webhook/mutate/inject.js';
import { benchPod } from '../admission/pods.js';
import { processCpuMs } from '../lib/proc-cpu.js';
import { procStatusBytes, resetPeakRss } from '../lib/processes.js';
import { type LatencySummary, summarize } from '../lib/stats.js';
import { type Agnhost, startAgnhost } from './agnhost.js';

const CASES = ['webhook', 'mutated', 'agnhost', 'patched'] as const;
type CaseId = (typeof CASES)[number];
const AGNHOST_LABEL = 'dap-bench/agnhost';
const AGNHOST_WEBHOOK = 'mutating-pods.agnhost.dap-bench.invalid';
const PATCHED_LABEL = 'dap-bench/agnhost-sidecar';
const PATCHED_WEBHOOK = 'mutating-pods-sidecar.agnhost.dap-bench.invalid';
const AGNHOST_LABELS: Partial<Record<CaseId, string>> = { agnhost: AGNHOST_LABEL, patched: PATCHED_LABEL };
const AGNHOST_WEBHOOKS: Partial<Record<CaseId, string>> = { agnhost: AGNHOST_WEBHOOK, patched: PATCHED_WEBHOOK };
const SECRETS = 4;
const WARMUP_PODS = 30;

export interface ControlPlaneCase {
  id: CaseId;
  pods: number;
  failed: number;
  failures: string[];
  podsPerSecond: number;
  latencyMs: LatencySummary;
  apiserverCpuMsPerPod: number;
  etcdCpuMsPerPod: number;
  /** The webhook process of the case (ours or agnhost); NaN for `mutated`. */
  webhookCpuMsPerPod: number;
  /** From the API server's metrics; NaN for `mutated`. */
  webhookCallsPerPod: number;
  /** Pods/s of each round, to see the spread. */
  roundPodsPerSecond: number[];
}

export interface ControlPlaneFigures {
  podsPerRound: number;
  rounds: number;
  concurrency: number;
  secrets: number;
  podBytes: { flyte: number; mutated: number };
  cases: ControlPlaneCase[];
  webhookPeakRssBytes: number;
  agnhostPeakRssBytes: number;
}

export interface ControlPlaneOptions {
  /** NODE_OPTIONS for the webhook, e.g. `--cpu-prof --cpu-prof-dir=…` (bench --cpu-prof). */
  webhookNodeOptions?: string;
  podsPerRound: number;
  rounds: number;
  concurrency: number;
  progress(line: string): void;
}

interface Client {
  create(namespace: string, body: string): Promise<{ status: number; body: string }>;
  get(path: string): Promise<{ status: number; body: string }>;
  del(path: string): Promise<{ status: number; body: string }>;
  close(): void;
}

/** A lean HTTPS client with the admin certificate: the bench's own CPU stays small and out of the figures. */
function adminClient(cp: ControlPlane, concurrency: number): Client {
  const user = cp.kubeConfig.getCurrentUser()!;
  const agent = new Agent({
    keepAlive: true,
    maxSockets: concurrency,
    ca: cp.caPem,
    cert: Buffer.from(user.certData!, 'base64'),
    key: Buffer.from(user.keyData!, 'base64'),
  });
  const call = (method: string, path: string, body?: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        new URL(path, cp.apiUrl),
        {
          method,
          agent,
          headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {},
          timeout: 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  return {
    create: (namespace, body) => call('POST', `/api/v1/namespaces/${namespace}/pods`, body),
    get: (path) => call('GET', path),
    del: (path) => call('DELETE', path),
    close: () => agent.destroy(),
  };
}

/** Sum of apiserver_admission_webhook_admission_duration_seconds_count per webhook name. */
export function webhookCallCounts(metrics: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of metrics.split('\n')) {
    if (!line.startsWith('apiserver_admission_webhook_admission_duration_seconds_count{')) continue;
    const name = /[{,]name="([^"]*)"/.exec(line)?.[1];
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (name !== undefined && Number.isFinite(value)) counts.set(name, (counts.get(name) ?? 0) + value);
  }
  return counts;
}

const namespaceOf = (id: CaseId) => `bench-cp-${id}`;

function flytePod(id: CaseId): Record<string, any> {
  const pod = benchPod(SECRETS) as Record<string, any>;
  pod.metadata = { ...pod.metadata, generateName: 'bench-', namespace: namespaceOf(id) };
  delete pod.metadata.name;
  const agnhostLabel = AGNHOST_LABELS[id];
  if (agnhostLabel) {
    const { [INJECT_LABEL]: _, ...labels } = pod.metadata.labels;
    pod.metadata.labels = { ...labels, [agnhostLabel]: 'true' };
  }
  return pod;
}

/** The stored pod the webhook produced, as a create body again: server-set fields gone, no webhook label. */
function asCreateBody(stored: Record<string, any>, namespace: string): Record<string, any> {
  const {
    uid: _u,
    resourceVersion: _r,
    creationTimestamp: _c,
    managedFields: _m,
    name: _n,
    ...metadata
  } = stored.metadata;
  const { [INJECT_LABEL]: _, ...labels } = metadata.labels ?? {};
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...metadata, labels, namespace, generateName: 'bench-' },
    spec: stored.spec,
  };
}

async function pool(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

async function registerAgnhost(cp: ControlPlane, agnhost: Agnhost): Promise<void> {
  const hook = (name: string, url: string, label: string) => ({
    name,
    clientConfig: { url, caBundle: Buffer.from(cp.caPem).toString('base64') },
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
    objectSelector: { matchLabels: { [label]: 'true' } },
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    failurePolicy: 'Fail',
    // As our webhook registers itself, so the chain treats them alike.
    reinvocationPolicy: 'IfNeeded',
    timeoutSeconds: 10,
  });
  await cp.kubeConfig.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
    body: {
      metadata: { name: 'dap-bench-agnhost' },
      webhooks: [
        hook(AGNHOST_WEBHOOK, agnhost.url, AGNHOST_LABEL),
        hook(PATCHED_WEBHOOK, agnhost.sidecarUrl, PATCHED_LABEL),
      ],
    },
  });
}

export async function runControlPlane(options: ControlPlaneOptions): Promise<ControlPlaneFigures> {
  let cp: ControlPlane | undefined;
  let webhook: RunningWebhook | undefined;
  let agnhost: Agnhost | undefined;
  let client: Client | undefined;
  try {
    options.progress('control plane: starting etcd, kube-apiserver, kube-controller-manager (test/e2e/harness)');
    cp = await startControlPlane();
    const apiserverPid = cp.processes.find((p) => p.name === 'kube-apiserver')!.pid;
    const etcdPid = cp.processes.find((p) => p.name === 'etcd')!.pid;
    options.progress('control plane: starting the built webhook and agnhost');
    webhook = await startWebhook(cp, {
      mlpApiHost: 'http://mlp.bench.invalid:8080',
      env: { LOG_LEVEL: 'warn', ...(options.webhookNodeOptions ? { NODE_OPTIONS: options.webhookNodeOptions } : {}) },
    });
    agnhost = await startAgnhost(cp);
    await registerAgnhost(cp, agnhost);
    for (const id of CASES) await createNamespace(cp.kubeConfig, namespaceOf(id));
    client = adminClient(cp, options.concurrency);
    const c = client;

    // The mutated pod: what the webhook made of the Flyte pod, read back from the API server.
    const first = await c.create(namespaceOf('webhook'), JSON.stringify(flytePod('webhook')));
    if (first.status !== 201)
      throw new Error(`the webhook case's first pod was refused (${first.status}): ${first.body.slice(0, 500)}`);
    const mutated = JSON.stringify(asCreateBody(JSON.parse(first.body), namespaceOf('mutated')));
    const bodies: Record<CaseId, string> = {
      webhook: JSON.stringify(flytePod('webhook')),
      mutated,
      agnhost: JSON.stringify(flytePod('agnhost')),
      patched: JSON.stringify(flytePod('patched')),
    };
    const webhookPid: Record<CaseId, number | undefined> = {
      webhook: webhook.process.pid,
      mutated: undefined,
      agnhost: agnhost.process.pid,
      patched: agnhost.process.pid,
    };

    const metrics = async () => webhookCallCounts((await c.get('/metrics')).body);
    const agnhostNames = new Set(Object.values(AGNHOST_WEBHOOKS));
    const callsOf = (counts: Map<string, number>, id: CaseId) => {
      const name = AGNHOST_WEBHOOKS[id];
      if (name) return counts.get(name) ?? 0;
      return [...counts].filter(([n]) => !agnhostNames.has(n)).reduce((n, [, v]) => n + v, 0);
    };
    const clear = async (id: CaseId) => {
      // Unscheduled pods go at once; wait until the list is empty so deletion does not overlap the next round.
      const del = await c.del(`/api/v1/namespaces/${namespaceOf(id)}/pods`);
      if (del.status !== 200) throw new Error(`deleting the pods of ${namespaceOf(id)} answered ${del.status}`);
      for (let i = 0; i < 200; i++) {
        const list = JSON.parse((await c.get(`/api/v1/namespaces/${namespaceOf(id)}/pods?limit=1`)).body) as {
          items: unknown[];
        };
        if (list.items.length === 0) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`the pods of ${namespaceOf(id)} were not gone after 20 s`);
    };

    const totals = new Map(
      CASES.map((id) => [
        id,
        {
          pods: 0,
          failed: 0,
          failures: new Set<string>(),
          wallMs: 0,
          latencies: [] as number[],
          apiserverMs: 0,
          etcdMs: 0,
          webhookMs: 0,
          calls: 0,
          roundRates: [] as number[],
        },
      ]),
    );
    const runCase = async (id: CaseId, pods: number, measured: boolean) => {
      const t = totals.get(id)!;
      const pid = webhookPid[id];
      const before = {
        api: processCpuMs(apiserverPid),
        etcd: processCpuMs(etcdPid),
        hook: pid ? processCpuMs(pid) : 0,
        calls: callsOf(await metrics(), id),
        at: performance.now(),
      };
      const latencies: number[] = [];
      let failed = 0;
      await pool(pods, options.concurrency, async () => {
        const started = performance.now();
        const res = await c
          .create(namespaceOf(id), bodies[id])
          .catch((err: Error) => ({ status: 0, body: err.message }));
        latencies.push(performance.now() - started);
        if (res.status !== 201) {
          failed++;
          if (measured) t.failures.add(`${res.status}: ${res.body.slice(0, 300)}`);
        }
      });
      const wallMs = performance.now() - before.at;
      const after = {
        api: processCpuMs(apiserverPid),
        etcd: processCpuMs(etcdPid),
        hook: pid ? processCpuMs(pid) : 0,
        calls: callsOf(await metrics(), id),
      };
      if (measured) {
        t.pods += pods;
        t.failed += failed;
        t.wallMs += wallMs;
        t.latencies.push(...latencies);
        t.apiserverMs += after.api - before.api;
        t.etcdMs += after.etcd - before.etcd;
        t.webhookMs += after.hook - before.hook;
        t.calls += after.calls - before.calls;
        t.roundRates.push((pods - failed) / (wallMs / 1000));
      }
      await clear(id);
    };

    options.progress(`control plane: warm-up, ${WARMUP_PODS} pods per case`);
    for (const id of CASES) await runCase(id, WARMUP_PODS, false);
    resetPeakRss(webhook.process.pid);
    resetPeakRss(agnhost.process.pid);
    for (let round = 0; round < options.rounds; round++) {
      // Rotate the order so no case always runs right after another's deletion.
      const order = CASES.map((_, i) => CASES[(i + round) % CASES.length]!);
      for (const id of order) {
        options.progress(
          `control plane: round ${round + 1}/${options.rounds}, ${id}: ${options.podsPerRound} pods, ${options.concurrency} at a time`,
        );
        await runCase(id, options.podsPerRound, true);
      }
    }
    const cases = CASES.map((id): ControlPlaneCase => {
      const t = totals.get(id)!;
      return {
        id,
        pods: t.pods,
        failed: t.failed,
        failures: [...t.failures].slice(0, 5),
        podsPerSecond: (t.pods - t.failed) / (t.wallMs / 1000),
        latencyMs: summarize(t.latencies),
        apiserverCpuMsPerPod: t.apiserverMs / t.pods,
        etcdCpuMsPerPod: t.etcdMs / t.pods,
        webhookCpuMsPerPod: webhookPid[id] ? t.webhookMs / t.pods : Number.NaN,
        webhookCallsPerPod: id === 'mutated' ? Number.NaN : t.calls / t.pods,
        roundPodsPerSecond: t.roundRates,
      };
    });
    return {
      podsPerRound: options.podsPerRound,
      rounds: options.rounds,
      concurrency: options.concurrency,
      secrets: SECRETS,
      podBytes: { flyte: Buffer.byteLength(bodies.webhook), mutated: Buffer.byteLength(mutated) },
      cases,
      webhookPeakRssBytes: procStatusBytes(webhook.process.pid, 'VmHWM'),
      agnhostPeakRssBytes: procStatusBytes(agnhost.process.pid, 'VmHWM'),
    };
  } finally {
    client?.close();
    await webhook?.stop();
    await agnhost?.stop();
    await cp?.stop();
  }
}
