/**
 * Bench helper: pod start on the real node, pod creation → task container running, for a task pod
 * the webhook injects (fetcher init container, per-pod Secret created at run time) against the
 * same pod with its secrets provided without a fetcher: the webhook's own output for that pod
 * (from a dry run) minus the fetcher, its in-memory FILE volume replaced by a `secret` volume and
 * both Secrets created beforehand — what a pod with pre-provisioned Kubernetes Secrets costs.
 *
 * For the bench (perf): call inside the real-node tier (test/node/run.sh's namespace), with the
 * chart installed and the MLP project of `namespace` holding `values`:
 *
 *   const r = await measurePodStart(cluster.kc, { namespace, pod: taskPod('bench'), values, samples: 5 });
 *   r.injected / r.baseline: milliseconds per sample, alternating; compare medians as a ratio.
 */
import { CoreV1Api, type KubeConfig, type V1Pod, type V1Volume, Watch } from '@kubernetes/client-node';
import type { Plan } from '../../../contract/plan.js';
import { createPod } from './api.js';

export interface PodStartOptions {
  namespace: string;
  /** A labelled, annotated task pod (its name is the prefix of each sample's pod name). */
  pod: V1Pod;
  /** MLP secret name → value, as the namespace's MLP project holds them (for the baseline's Secrets). */
  values: Record<string, string>;
  samples?: number;
  /** Bound on each pod's start. */
  timeoutMs?: number;
  /** Called with each sample's pod as seen when its task container ran (status timestamps, for a breakdown). */
  observe?: (kind: 'injected' | 'baseline', pod: V1Pod, seen: Seen) => void;
}

export interface PodStartResult {
  /** ms from the create call to the task container running (or already terminated), per sample. */
  injected: number[];
  baseline: number[];
}

const FETCHER = 'fetcher';

/** ms after the create call at which the watch first saw each step (absent: never seen, e.g. an init container too quick to be reported running). */
export interface Seen {
  scheduled?: number;
  initRunning?: number;
  /** Every init container terminated. */
  initDone?: number;
  taskRunning?: number;
}

export async function measurePodStart(kc: KubeConfig, o: PodStartOptions): Promise<PodStartResult> {
  const core = kc.makeApiClient(CoreV1Api);
  const samples = o.samples ?? 3;
  const result: PodStartResult = { injected: [], baseline: [] };
  const base = o.pod.metadata!.name!;
  for (let i = 0; i < samples; i++) {
    // Alternate which goes first, so a drifting machine load does not favour one side.
    const order = i % 2 === 0 ? (['injected', 'baseline'] as const) : (['baseline', 'injected'] as const);
    for (const kind of order) {
      const name = `${base}-${kind === 'injected' ? 'i' : 'b'}${i}`;
      const pod = structuredClone(o.pod);
      pod.metadata!.name = name;
      const cleanup: (() => Promise<unknown>)[] = [];
      let body = pod;
      if (kind === 'baseline') {
        const prepared = await withoutFetcher(kc, o.namespace, pod, o.values);
        body = prepared.pod;
        for (const s of prepared.secrets) {
          await core.createNamespacedSecret({ namespace: o.namespace, body: s });
          cleanup.push(() => core.deleteNamespacedSecret({ name: s.metadata!.name!, namespace: o.namespace }));
        }
      }
      const {
        ms,
        pod: seen,
        marks,
      } = await timeToRunning(kc, o.namespace, name, o.timeoutMs ?? 180_000, async () => {
        const res = await createPod(kc, o.namespace, body);
        if (res.status !== 201) throw new Error(`creating ${name}: ${res.status} ${res.body.message ?? ''}`);
      });
      result[kind].push(ms);
      o.observe?.(kind, seen, marks);
      await core.deleteNamespacedPod({ name, namespace: o.namespace, gracePeriodSeconds: 0 });
      for (const c of cleanup) await c();
    }
  }
  return result;
}

/** The webhook's output for `pod` (dry run), with the secrets delivered by pre-made Secrets instead of the fetcher. */
async function withoutFetcher(kc: KubeConfig, namespace: string, pod: V1Pod, values: Record<string, string>) {
  const dry = await createPod(kc, namespace, pod, { dryRun: true });
  if (dry.status !== 201) throw new Error(`dry run of ${pod.metadata?.name}: ${dry.status} ${dry.body.message ?? ''}`);
  const out = dry.body;
  const fetcher = out.spec?.initContainers?.find((c) => c.name === FETCHER);
  if (!fetcher) throw new Error(`the webhook did not inject ${pod.metadata?.name}: nothing to compare`);
  const plan = JSON.parse(fetcher.env?.find((e) => e.name === 'DAP_PLAN')?.value ?? 'null') as Plan | null;
  if (!plan) throw new Error('the fetcher has no DAP_PLAN');
  const value = (name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`no value given for MLP secret ${name}`);
    return Buffer.from(v).toString('base64');
  };
  const secrets = [];
  if (plan.secret) {
    secrets.push({
      metadata: { name: plan.secret.name },
      data: Object.fromEntries(plan.secret.keys.map((k) => [k.key, value(k.mlpSecret)])),
    });
  }
  // The volume the fetcher fills (mounted at the plan's fileRoot) becomes a secret volume with the same files.
  const fileMount = fetcher.volumeMounts?.find((m) => m.mountPath === plan.fileRoot);
  if (fileMount && plan.files.length) {
    const filesSecret = `${pod.metadata!.name}-files`;
    secrets.push({
      metadata: { name: filesSecret },
      data: Object.fromEntries(plan.files.map((f, i) => [`f${i}`, value(f.mlpSecret)])),
    });
    out.spec!.volumes = (out.spec!.volumes ?? []).map(
      (v): V1Volume =>
        v.name === fileMount.name
          ? {
              name: v.name,
              secret: {
                secretName: filesSecret,
                defaultMode: plan.fileMode,
                items: plan.files.map((f, i) => ({ key: `f${i}`, path: f.path })),
              },
            }
          : v,
    );
  }
  out.spec!.initContainers = out.spec!.initContainers!.filter((c) => c.name !== FETCHER);
  // Not a webhook pod any more: no label (no second injection), no server-set fields.
  delete out.metadata!.labels!['inject-flyte-secrets'];
  for (const k of ['uid', 'resourceVersion', 'creationTimestamp', 'managedFields'] as const) delete out.metadata![k];
  delete out.status;
  return { pod: out, secrets };
}

/** Runs `create` and resolves with the ms until the pod's first container is running (or has already terminated), and the pod as then seen. */
export async function timeToRunning(
  kc: KubeConfig,
  namespace: string,
  name: string,
  timeoutMs: number,
  create: () => Promise<void>,
): Promise<{ ms: number; pod: V1Pod; marks: Seen }> {
  let started = 0;
  const marks: Seen = {};
  const mark = (step: keyof Seen, now: number) => (marks[step] ??= now - started);
  let settle: { resolve(r: { ms: number; pod: V1Pod; marks: Seen }): void; reject(err: unknown): void } | undefined;
  const seen = new Promise<{ ms: number; pod: V1Pod; marks: Seen }>(
    (resolve, reject) => (settle = { resolve, reject }),
  );
  seen.catch(() => {}); // awaited below; a rejection during create() is not unhandled
  const timer = setTimeout(
    () => settle!.reject(new Error(`pod ${namespace}/${name}: task container not running after ${timeoutMs} ms`)),
    timeoutMs,
  );
  let abort: AbortController | undefined;
  try {
    // The watch is open before the create call: no event can be missed.
    abort = await new Watch(kc).watch(
      `/api/v1/namespaces/${namespace}/pods`,
      { fieldSelector: `metadata.name=${name}` },
      (_type: string, pod: V1Pod) => {
        if (!started) return;
        const now = performance.now();
        if (pod.spec?.nodeName) mark('scheduled', now);
        const inits = pod.status?.initContainerStatuses ?? [];
        if (inits.some((c) => c.state?.running)) mark('initRunning', now);
        if (inits.length > 0 && inits.every((c) => c.state?.terminated)) mark('initDone', now);
        const task = pod.status?.containerStatuses?.find((c) => c.name === pod.spec?.containers[0]?.name);
        if (task?.state?.running || task?.state?.terminated) {
          mark('taskRunning', now);
          settle!.resolve({ ms: now - started, pod, marks });
        } else if (pod.status?.phase === 'Failed')
          settle!.reject(
            new Error(
              `pod ${namespace}/${name} failed before its task container ran: ${JSON.stringify(pod.status.initContainerStatuses?.map((c) => c.state))}`,
            ),
          );
      },
      (err) =>
        settle!.reject(err ?? new Error(`the watch on pod ${namespace}/${name} ended before its task container ran`)),
    );
    started = performance.now();
    await create();
    return await seen;
  } finally {
    clearTimeout(timer);
    abort?.abort();
  }
}
