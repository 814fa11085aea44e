/**
 * Pod start on the real node (issue 14), run by bench/podstart/index.ts as
 * `bash test/node/run.sh bench/podstart/podstart.bench.ts` — the real-node tier's runner (flock,
 * network namespace, cgroups, cleanup) and its setup (kubelet + containerd, real MLP, the chart
 * installed with helm). Not a test: it measures, and writes its figures as JSON to
 * $DAP_BENCH_PODSTART_OUT. Samples: $DAP_BENCH_PODSTART_SAMPLES (default 9).
 *
 * Measured: pod creation → task container running, for an injected 4-secret task pod against the
 * same pod with its secrets in pre-made Secrets and no fetcher (test/node/harness/podStart.ts),
 * interleaved. "First pull" (no registry here): `ctr images import` of the fetcher's OCI archive,
 * then the first injected pod's start — the fetcher image's first container — after a warm-up
 * pod has started the task image once.
 */

import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { AdmissionregistrationV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { createNamespace } from '../../test/e2e/harness/cluster.js';
import { flytePropellerPod, vector } from '../../test/e2e/harness/flytePod.js';
import { caFetch } from '../../test/e2e/harness/https.js';
import { waitFor } from '../../test/e2e/harness/wait.js';
import { createPod } from '../../test/node/harness/api.js';
import { installChart } from '../../test/node/harness/chart.js';
import { nodeImages } from '../../test/node/harness/images.js';
import {
  EXPERIMENT,
  type NodeCluster,
  nodeEnvironment,
  startNodeCluster,
  type Timings,
} from '../../test/node/harness/node.js';
import { measurePodStart, timeToRunning } from '../../test/node/harness/podStart.js';
import { type RealMlpPeer, startRealMlpPeer } from '../../test/support/real-mlp/peer.js';
import { breakdown, type PodStartRaw } from './figures.js';
import { ociImageSize } from './image-size.js';

const run = promisify(execFile);
const NS = 'flytesnacks-development';
const FETCHER = 'fetcher';
/** The control-plane tier's 4-secret Flyte pod shape: 2 ENV_VAR, 2 FILE (one with group_version). */
const REQUESTED = [
  vector('group+key ENV_VAR'),
  vector('group+key FILE'),
  vector('snacks-core compiled fixture secret_task / user_info_task (ANY)'),
  vector('group_version set (FILE)'),
];
const VALUES: Record<string, string> = Object.fromEntries(
  REQUESTED.map((v) => [v.secret.key!, `bench value of ${v.secret.key}`]),
);

describe('bench: pod start on the real node', function () {
  this.timeout(40 * 60_000);
  const timings: Timings = {};
  let cluster: NodeCluster | undefined;
  let mlp: RealMlpPeer | undefined;

  after(async () => {
    await mlp?.close();
    await cluster?.stop({ keepDir: process.env.DAP_E2E_KEEP === '1' });
  });

  it('measures injected vs fetcher-free pod start and the fetcher image', async () => {
    const out = process.env.DAP_BENCH_PODSTART_OUT;
    if (!out) throw new Error('DAP_BENCH_PODSTART_OUT is not set: run this through `npm run bench -- --only=podstart`');
    const samples = Number(process.env.DAP_BENCH_PODSTART_SAMPLES ?? 9);
    const images = await nodeImages();
    const fetcherSize = await ociImageSize(images.fetcher.archive);
    cluster = await startNodeCluster(nodeEnvironment(), timings);
    const core = cluster.kc.makeApiClient(CoreV1Api);

    for (const { image, archive } of [images.webhook, images.task])
      await cluster
        .importImage(archive)
        .then((n) => n.includes(image) || Promise.reject(new Error(`${archive} holds ${n.join(', ')}, not ${image}`)));
    const since = performance.now();
    const names = await cluster.importImage(images.fetcher.archive);
    const fetcherImportMs = performance.now() - since;
    if (!names.includes(images.fetcher.image))
      throw new Error(`${images.fetcher.archive} holds ${names.join(', ')}, not ${images.fetcher.image}`);

    const cp = cluster.cp;
    mlp = await startRealMlpPeer(
      { jwks: new URL(cp.jwksUrl), jwksFetch: caFetch(cp.caPem), issuer: cp.issuer, audience: 'api.caraml' },
      { gatewayHost: cluster.nodeIp },
    );
    await mlp.seedProject({ name: NS, readers: [`system:serviceaccount:${NS}:default`], secrets: VALUES });
    await createNamespace(cluster.kc, NS);
    await installChart({
      kubeconfigPath: cp.kubeconfigPath,
      fetcherImage: images.fetcher.image,
      mlpUrl: mlp.url,
      fetcherNamespaces: [NS],
    });
    const taskPod = (name: string): V1Pod => {
      const pod = flytePropellerPod({
        name,
        project: 'flytesnacks',
        domain: 'development',
        secrets: REQUESTED.map((v) => v.annotation_value),
      });
      const task = pod.spec!.containers[0]!;
      task.image = images.task.image;
      task.imagePullPolicy = 'Never';
      // What runs is measurePodStart's start stamp (STAMP_COMMAND): the task ends at once, keeping the node idle between samples.
      task.resources = { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '1', memory: '128Mi' } };
      return pod;
    };
    await waitFor(
      async () => {
        const res = await createPod(cluster!.kc, NS, taskPod('probe'), { dryRun: true });
        return res.status === 201 && res.body.spec?.initContainers?.some((c) => c.name === FETCHER) ? true : undefined;
      },
      { what: 'the API server to call the installed webhook', timeoutMs: 120_000, intervalMs: 500 },
    ).catch(async (err: Error) => {
      const configs = await cluster!.kc.makeApiClient(AdmissionregistrationV1Api).listMutatingWebhookConfiguration();
      throw new Error(
        `${err.message}; webhook configurations: ${configs.items.map((c) => c.metadata?.name).join(', ')}`,
      );
    });

    // Warm-up: the task image's first container, in a pod without the webhook's label.
    const plain = taskPod('warm-task');
    delete plain.metadata!.labels!['inject-flyte-secrets'];
    delete plain.metadata!.annotations;
    const warm = await timeToRunning(cluster.kc, NS, 'warm-task', 180_000, async () => {
      const res = await createPod(cluster!.kc, NS, plain);
      if (res.status !== 201) throw new Error(`creating warm-task: ${res.status} ${res.body.message ?? ''}`);
    });
    if (warm.pod.spec?.initContainers?.some((c) => c.name === FETCHER))
      throw new Error('the warm-up pod was injected; it must only start the task image');
    await core.deleteNamespacedPod({ name: 'warm-task', namespace: NS, gracePeriodSeconds: 0 });
    // The fetcher image's first container: the first injected pod (sample 0 starts injected).
    const first = await measurePodStart(cluster.kc, {
      namespace: NS,
      pod: taskPod('first'),
      values: VALUES,
      samples: 1,
    });

    const r = await measurePodStart(cluster.kc, {
      namespace: NS,
      pod: taskPod('bench'),
      values: VALUES,
      samples,
      containerLogs: cluster.containerLogs,
    });
    const raw: PodStartRaw = {
      samples,
      injectedMs: r.injected,
      baselineMs: r.baseline,
      injectedTaskStartedMs: r.injectedTaskStarted,
      baselineTaskStartedMs: r.baselineTaskStarted,
      offsetsMs: r.samples.injected.map((s) => s.offsetMs),
      detail: r.samples,
      fetcherImage: {
        image: images.fetcher.image,
        ...fetcherSize,
        importMs: fetcherImportMs,
        firstInjectedPodMs: first.injected[0]!,
        firstBaselinePodMs: first.baseline[0]!,
      },
      breakdown: breakdown([
        ...r.samples.injected.map((sample) => ({ kind: 'injected' as const, sample })),
        ...r.samples.baseline.map((sample) => ({ kind: 'baseline' as const, sample })),
      ]),
    };
    if (EXPERIMENT.containerd !== 'containerd' || EXPERIMENT.kubelet.featureGates) {
      const { stdout } = await run(EXPERIMENT.containerd, ['--version']);
      raw.experiment = `EXPERIMENT: ${stdout.trim()}, kubelet feature gates ${JSON.stringify(EXPERIMENT.kubelet.featureGates ?? {})}`;
    }
    await writeFile(out, JSON.stringify(raw));
  });
});
