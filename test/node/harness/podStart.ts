/**
 * Bench helper: pod start on the real node, for a task pod the webhook injects (fetcher init
 * container, per-pod Secret created at run time) against the same pod with its secrets provided
 * without a fetcher: the webhook's own output for that pod (from a dry run) minus the fetcher, its
 * in-memory FILE volume replaced by a `secret` volume and both Secrets created beforehand — what a
 * pod with pre-provisioned Kubernetes Secrets costs.
 *
 * Two figures per sample, both from the create call (the node and the harness share the machine's
 * clock):
 * - task code started: the task container's first Python statement writes `time.time()` to its
 *   termination message (the helper replaces the task's command with that stamp; every Flyte task
 *   image has python3) — what the user's task actually waits;
 * - reported running: when the watch first saw the kubelet report the task container running (or
 *   already terminated) — what `kubectl get pod` shows. The kubelet learns of container state
 *   changes by relisting the runtime every 1 s (generic PLEG), so this adds up to a relist to
 *   the task code start.
 *
 * Samples alternate which variant goes first, and each create waits a spread offset within the
 * kubelet's 1 s relist period: the previous pod's end is seen right after a relist, so back-to-back
 * creates would all land at the same phase of the relist (no real pod does).
 *
 * For the bench (perf): call inside the real-node tier (test/node/run.sh's namespace), with the
 * chart installed and the MLP project of `namespace` holding `values`:
 *
 *   const r = await measurePodStart(cluster.kc, { namespace, pod: taskPod('bench'), values, samples: 5 });
 */
import { CoreV1Api, type KubeConfig, type V1Pod, type V1Volume, Watch } from '@kubernetes/client-node';
import type { Plan } from '../../../contract/plan.js';
import { createPod } from './api.js';

export interface PodStartOptions {
  namespace: string;
  /** A labelled, annotated task pod (its name is the prefix of each sample's pod name; its first container is the task). */
  pod: V1Pod;
  /** MLP secret name → value, as the namespace's MLP project holds them (for the baseline's Secrets). */
  values: Record<string, string>;
  samples?: number;
  /** Bound on each pod's start. */
  timeoutMs?: number;
  /** The period the create offsets spread over (the kubelet's PLEG relist period; 0: no offsets). */
  spreadMs?: number;
  /** A container's log files (CRI format, a timestamp per line), for the fetcher's own run; without it, not measured. */
  containerLogs?: (namespace: string, pod: string, container: string) => Promise<string>;
}

/** One pod's start; every figure in ms after the create call. */
export interface PodStartSample {
  /** The watch first saw the kubelet report the task container running (or already terminated). */
  reportedMs: number;
  /** The task container's code ran its first statement (its own clock reading). */
  taskStartedMs: number;
  /** When the create was sent after the previous pod's end (the relist-phase offset). */
  offsetMs: number;
  /** The create call's wall-clock time (epoch ms), to line the sample up with the kubelet's and containerd's logs. */
  createdAtMs: number;
  seen: Seen;
  /** The fetcher's first and last log lines (containerd's timestamps), injected pods with `containerLogs` only. */
  fetcherLog?: { firstMs: number; lastMs: number };
}

export interface PodStartResult {
  /** Reported running, ms after the create call, per sample (as before: what the kubelet reports). */
  injected: number[];
  baseline: number[];
  /** Task code started, ms after the create call, per sample. */
  injectedTaskStarted: number[];
  baselineTaskStarted: number[];
  samples: { injected: PodStartSample[]; baseline: PodStartSample[] };
}

const FETCHER = 'fetcher';
/** The task's first statement stamps the wall clock into its termination message, then the task ends. */
const STAMP_COMMAND = [
  'python3',
  '-c',
  "import time; t = time.time(); open('/dev/termination-log', 'w').write(repr(t))",
];

/** ms after the create call at which the watch first saw each step (absent: never seen, e.g. an init container too quick to be reported running). */
export interface Seen {
  scheduled?: number;
  initRunning?: number;
  /** Every init container terminated. */
  initDone?: number;
  taskRunning?: number;
}

/** Offset i of n in [0, period): the golden-ratio sequence, which covers the period evenly for any n. */
export const spreadOffset = (i: number, periodMs: number) => ((i * 0.6180339887498949) % 1) * periodMs;

/** The first and last timestamps of a CRI log (`<RFC 3339 time> <stream> <P|F> <text>` per line), in epoch ms. */
export function criLogSpan(log: string): { first: number; last: number } | undefined {
  const times = log
    .split('\n')
    .map((l) => Date.parse(l.slice(0, l.indexOf(' '))))
    .filter(Number.isFinite);
  return times.length ? { first: times[0]!, last: times.at(-1)! } : undefined;
}

export async function measurePodStart(kc: KubeConfig, o: PodStartOptions): Promise<PodStartResult> {
  const core = kc.makeApiClient(CoreV1Api);
  const samples = o.samples ?? 3;
  const result: PodStartResult = {
    injected: [],
    baseline: [],
    injectedTaskStarted: [],
    baselineTaskStarted: [],
    samples: { injected: [], baseline: [] },
  };
  const base = o.pod.metadata!.name!;
  for (let i = 0; i < samples; i++) {
    // Alternate which goes first, so a drifting machine load does not favour one side.
    const order = i % 2 === 0 ? (['injected', 'baseline'] as const) : (['baseline', 'injected'] as const);
    const offsetMs = spreadOffset(i, o.spreadMs ?? 1000);
    for (const kind of order) {
      const name = `${base}-${kind === 'injected' ? 'i' : 'b'}${i}`;
      const pod = structuredClone(o.pod);
      pod.metadata!.name = name;
      const task = pod.spec!.containers[0]!;
      task.command = STAMP_COMMAND;
      task.args = [];
      task.terminationMessagePolicy = 'File';
      delete task.terminationMessagePath;
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
      await new Promise((r) => setTimeout(r, offsetMs));
      const {
        ms,
        createdAt,
        pod: seen,
        marks,
      } = await timeToRunning(
        kc,
        o.namespace,
        name,
        o.timeoutMs ?? 180_000,
        async () => {
          const res = await createPod(kc, o.namespace, body);
          if (res.status !== 201) throw new Error(`creating ${name}: ${res.status} ${res.body.message ?? ''}`);
        },
        { untilTerminated: true },
      );
      const sample: PodStartSample = {
        reportedMs: ms,
        taskStartedMs: taskStamp(seen) - createdAt,
        offsetMs,
        createdAtMs: createdAt,
        seen: marks,
      };
      if (kind === 'injected' && o.containerLogs) {
        const span = criLogSpan(await o.containerLogs(o.namespace, name, FETCHER));
        if (span) sample.fetcherLog = { firstMs: span.first - createdAt, lastMs: span.last - createdAt };
      }
      result[kind].push(sample.reportedMs);
      result[kind === 'injected' ? 'injectedTaskStarted' : 'baselineTaskStarted'].push(sample.taskStartedMs);
      result.samples[kind].push(sample);
      await core.deleteNamespacedPod({ name, namespace: o.namespace, gracePeriodSeconds: 0 });
      for (const c of cleanup) await c();
    }
  }
  return result;
}

/** The task container's own start (epoch ms) from the stamp in its termination message. */
function taskStamp(pod: V1Pod): number {
  const name = pod.spec?.containers[0]?.name;
  const term = pod.status?.containerStatuses?.find((c) => c.name === name)?.state?.terminated;
  const stamp = Number(term?.message);
  if (term?.exitCode !== 0 || !term.message || !Number.isFinite(stamp))
    throw new Error(
      `pod ${pod.metadata?.namespace}/${pod.metadata?.name}: the task container left no start stamp (state ${JSON.stringify(term)}); its command must be ${JSON.stringify(STAMP_COMMAND)}`,
    );
  return stamp * 1000;
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

interface Started {
  /** ms from the create call until the pod's first container was reported running (or already terminated). */
  ms: number;
  /** The create call's wall-clock time (epoch ms): the zero of the task's stamp. */
  createdAt: number;
  /** The pod as seen when the watch resolved. */
  pod: V1Pod;
  marks: Seen;
}

/**
 * Runs `create` and resolves once the pod's first container is reported running (or already
 * terminated) — with `untilTerminated`, once it is reported terminated (its termination message is
 * then in the pod), `ms` still the first report.
 */
export async function timeToRunning(
  kc: KubeConfig,
  namespace: string,
  name: string,
  timeoutMs: number,
  create: () => Promise<void>,
  opts: { untilTerminated?: boolean } = {},
): Promise<Started> {
  let started = 0;
  let createdAt = 0;
  const marks: Seen = {};
  const mark = (step: keyof Seen, now: number) => (marks[step] ??= now - started);
  let settle: { resolve(r: Started): void; reject(err: unknown): void } | undefined;
  const seen = new Promise<Started>((resolve, reject) => (settle = { resolve, reject }));
  seen.catch(() => {}); // awaited below; a rejection during create() is not unhandled
  const timer = setTimeout(
    () =>
      settle!.reject(
        new Error(
          `pod ${namespace}/${name}: task container not ${opts.untilTerminated ? 'ended' : 'running'} after ${timeoutMs} ms`,
        ),
      ),
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
        if (task?.state?.running || task?.state?.terminated) mark('taskRunning', now);
        if (task?.state?.terminated || (task?.state?.running && !opts.untilTerminated))
          settle!.resolve({ ms: marks.taskRunning!, createdAt, pod, marks });
        else if (task?.state?.running) {
          // reported running; waiting for its end (and termination message)
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
    // The wall clock now, not timeOrigin + performance.now(): the task's stamp is a wall-clock reading too.
    createdAt = Date.now();
    await create();
    return await seen;
  } finally {
    clearTimeout(timer);
    abort?.abort();
  }
}
