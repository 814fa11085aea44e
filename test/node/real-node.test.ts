/**
 * The real-node tier (issue 10): the chart installed with helm on a one-node cluster — kubelet,
 * containerd + runc, CNI bridge, kube-proxy, kube-scheduler, the default admission chain — whose
 * pods run the images; task pods get their secrets from the real MLP (+ PostgreSQL) through the
 * fetcher init container and real flytekit reads them in the task container.
 * Runs inside test/node/run.sh's network namespace (`npm run test:node`).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  AdmissionregistrationV1Api,
  AppsV1Api,
  CoreV1Api,
  type V1Container,
  type V1ContainerStatus,
  type V1Pod,
} from '@kubernetes/client-node';
import { createNamespace, waitForGone } from '../e2e/harness/cluster.js';
import { flytePropellerPod, type SecretVector, vector } from '../e2e/harness/flytePod.js';
import { caFetch } from '../e2e/harness/https.js';
import { waitFor } from '../e2e/harness/wait.js';
import { type RealMlpPeer, startRealMlpPeer } from '../support/real-mlp/peer.js';
import { createPod } from './harness/api.js';
import { CHART, installChart } from './harness/chart.js';
import { type NodeImages, nodeImages } from './harness/images.js';
import { type NodeCluster, nodeEnvironment, startNodeCluster, type Timings } from './harness/node.js';
import { measurePodStart } from './harness/podStart.js';

const READER = fileURLToPath(new URL('./harness/task_reader.py', import.meta.url));

const RELEASE = 'dsw';
const RELEASE_NS = 'dap-system';
const DOMAIN = 'development';
/** Flyte's `{{ project }}-{{ domain }}` namespaces; MLP project = namespace (the chart's default source). */
const NS = {
  main: `flytesnacks-${DOMAIN}`,
  restricted: `locked-${DOMAIN}`,
  denied: `nosy-${DOMAIN}`,
  loop: `churn-${DOMAIN}`,
};
const identity = (ns: string) => `system:serviceaccount:${ns}:default`;
const FETCHER = 'fetcher';

/** ENV_VAR, FILE, ANY, group_version, env_var (ENV_VAR and FILE): the shapes issue 10 names. */
const REQUESTED: SecretVector[] = [
  vector('group+key ENV_VAR'),
  vector('group+key FILE'),
  vector('snacks-core compiled fixture secret_task / user_info_task (ANY)'),
  vector('group_version set (FILE)'),
  vector('env_var custom name, ENV_VAR (flyteidl>=1.15.0)'),
  vector("k8s_secrets_test.go 'require file single with env var'"),
];
const MLP_VALUES: Record<string, string> = Object.fromEntries(
  REQUESTED.map((v) => [v.secret.key!, ` node value of ${v.secret.key} \n`]),
);
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const expectedDigest = (key: string) => sha(MLP_VALUES[key]!.trim());

interface ReaderReport {
  flytekit: string;
  uid: number;
  gid: number;
  groups: number[];
  secrets: { request: { group?: string; key?: string; group_version?: string }; sha256?: string; error?: string }[];
  env: Record<string, string | null>;
  fileEnv: Record<string, string | null>;
}

describe('real node: the chart on kubelet + containerd, real MLP, real flytekit', function () {
  const timings: Timings = {};
  let cluster: NodeCluster;
  let core: CoreV1Api;
  let mlp: RealMlpPeer;
  let images: NodeImages;
  let failed = false;

  /** Every pod this tier creates goes through here: a clean pod's creation must carry no warning. */
  const created: { ns: string; name: string; warnings: string[] }[] = [];
  const create = async (ns: string, pod: V1Pod, opts: { dryRun?: boolean } = {}) => {
    const res = await createPod(cluster.kc, ns, pod, opts);
    assert.equal(
      res.status,
      201,
      `creating ${ns}/${pod.metadata?.name} answered ${res.status}: ${res.body.message ?? ''}`,
    );
    created.push({ ns, name: pod.metadata!.name!, warnings: res.warnings });
    return res;
  };

  const taskPod = (
    name: string,
    opts: { fsGroup?: number; secrets?: string[]; sidecar?: boolean; reads?: SecretVector[] } = {},
  ): V1Pod => {
    const reads = opts.reads ?? REQUESTED;
    const pod = flytePropellerPod({
      name,
      project: 'flytesnacks',
      domain: DOMAIN,
      secrets: opts.secrets ?? reads.map((v) => v.annotation_value),
    });
    const spec = pod.spec!;
    spec.securityContext = {
      ...spec.securityContext,
      ...(opts.fsGroup === undefined ? {} : { fsGroup: opts.fsGroup }),
    };
    const task = spec.containers[0]!;
    task.image = images.task.image;
    task.imagePullPolicy = 'Never';
    task.command = ['python3'];
    const readerSpec = {
      requests: reads.map((v) => ({ group: v.secret.group, key: v.secret.key, group_version: v.secret.group_version })),
      env: reads.filter((v) => v.secret.env_var && v.secret.mount_requirement !== 'FILE').map((v) => v.secret.env_var!),
      fileEnv: reads
        .filter((v) => v.secret.env_var && v.secret.mount_requirement === 'FILE')
        .map((v) => v.secret.env_var!),
    };
    task.args = ['-c', readerSource, JSON.stringify(readerSpec)];
    task.terminationMessagePolicy = 'File';
    task.resources = { requests: { cpu: '50m', memory: '96Mi' }, limits: { cpu: '1', memory: '256Mi' } };
    task.securityContext = {
      ...task.securityContext,
      runAsNonRoot: true,
      runAsUser: 1000,
      runAsGroup: 1000,
      seccompProfile: { type: 'RuntimeDefault' },
    };
    if (opts.sidecar) {
      // Flyte v1.16.8's copilot uploader shape: a leading native sidecar (init container, restartPolicy Always).
      const sidecar: V1Container = {
        name: 'uploader',
        image: images.task.image,
        imagePullPolicy: 'Never',
        command: ['python3'],
        args: [
          '-c',
          'import signal, time\nsignal.signal(signal.SIGTERM, lambda *_: exit(0))\nwhile True: time.sleep(1)',
        ],
        restartPolicy: 'Always',
        resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
        securityContext: {
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
          runAsNonRoot: true,
          runAsUser: 1000,
          seccompProfile: { type: 'RuntimeDefault' },
        },
      };
      spec.initContainers = [sidecar];
    }
    return pod;
  };
  let readerSource = '';

  const waitForPodEnd = async (ns: string, name: string, timeoutMs = 180_000): Promise<V1Pod> =>
    waitFor(
      async () => {
        const pod = await core.readNamespacedPod({ name, namespace: ns });
        return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed' ? pod : undefined;
      },
      { what: `pod ${ns}/${name} to finish`, timeoutMs, intervalMs: 500 },
    );
  const status = (pod: V1Pod, container: string): V1ContainerStatus | undefined =>
    [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].find(
      (s) => s.name === container,
    );
  const readerReport = (pod: V1Pod): ReaderReport => {
    const s = status(pod, pod.metadata!.name!);
    const term = s?.state?.terminated;
    assert.ok(term, `task container of ${pod.metadata!.name} did not terminate: ${JSON.stringify(s?.state)}`);
    assert.equal(
      term.exitCode,
      0,
      `task container of ${pod.metadata!.name} exited ${term.exitCode}: ${term.message ?? ''}`,
    );
    return JSON.parse(term.message ?? '') as ReaderReport;
  };
  const assertEverySecretRead = (report: ReaderReport, reads = REQUESTED) => {
    assert.equal(report.secrets.length, reads.length);
    reads.forEach((v, i) => {
      const got = report.secrets[i]!;
      assert.equal(got.error, undefined, `flytekit could not read ${v.name}: ${got.error}`);
      assert.equal(got.sha256, expectedDigest(v.secret.key!), `flytekit read a different value for ${v.name}`);
    });
    for (const v of reads.filter((r) => r.secret.env_var)) {
      const where = v.secret.mount_requirement === 'FILE' ? report.fileEnv : report.env;
      assert.equal(where[v.secret.env_var!], expectedDigest(v.secret.key!), `env_var ${v.secret.env_var} of ${v.name}`);
    }
  };
  const podSecretName = (pod: V1Pod): string => {
    const env = pod.spec?.initContainers?.find((c) => c.name === FETCHER)?.env ?? [];
    const plan = JSON.parse(env.find((e) => e.name === 'DAP_PLAN')?.value ?? 'null') as {
      secret: { name: string } | null;
    } | null;
    assert.ok(plan?.secret, `pod ${pod.metadata?.name} has no fetcher plan naming a Secret`);
    return plan.secret.name;
  };

  /** Sum of the webhook's admission request counter over every ready replica, read from each pod's /metrics. */
  const webhookCalls = async (): Promise<number> => {
    const pods = await core.listNamespacedPod({
      namespace: RELEASE_NS,
      labelSelector: `app.kubernetes.io/instance=${RELEASE}`,
    });
    let total = 0;
    // The Deployment's replicas (owned by a ReplicaSet), not the certs Job's pods.
    const replicas = pods.items.filter(
      (x) =>
        x.status?.phase === 'Running' &&
        x.status.podIP &&
        x.metadata?.ownerReferences?.some((o) => o.kind === 'ReplicaSet'),
    );
    assert.ok(replicas.length > 0, 'no running webhook replica to read /metrics from');
    for (const p of replicas) {
      const port = p.spec?.containers
        .flatMap((c) => c.ports ?? [])
        .find((x) => x.name === 'http-metrics')?.containerPort;
      assert.ok(port, `webhook pod ${p.metadata?.name} has no http-metrics port`);
      const text = await (await fetch(`http://${p.status!.podIP}:${port}/metrics`)).text();
      for (const m of text.matchAll(/^dap_secret_webhook_admission_requests_total\{[^}]*\} (\d+)/gm))
        total += Number(m[1]);
    }
    return total;
  };

  /** What `kubectl describe pods` + `kubectl logs` would show for a namespace, for failure messages. */
  const describePods = async (ns: string): Promise<string> => {
    const out: string[] = [];
    for (const p of (await core.listNamespacedPod({ namespace: ns }).catch(() => ({ items: [] as V1Pod[] }))).items) {
      out.push(
        `--- pod ${ns}/${p.metadata?.name}: ${p.status?.phase} ${p.status?.reason ?? ''} ${p.status?.message ?? ''}`,
      );
      for (const c of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) {
        out.push(`  ${c.name}: ${JSON.stringify(c.state)}`);
        const logs = await cluster.containerLogs(ns, p.metadata!.name!, c.name);
        if (logs)
          out.push(
            logs
              .trimEnd()
              .split('\n')
              .slice(-15)
              .map((l) => `    | ${l}`)
              .join('\n'),
          );
      }
    }
    const events = await core.listNamespacedEvent({ namespace: ns }).catch(() => ({ items: [] }));
    for (const e of events.items.filter((x) => x.type === 'Warning').slice(-15))
      out.push(`  event ${e.involvedObject.kind}/${e.involvedObject.name}: ${e.reason}: ${e.message}`);
    return out.join('\n');
  };

  before(async function () {
    this.timeout(30 * 60_000);
    try {
      await setUp();
    } catch (err) {
      failed = true;
      throw err;
    }
  });

  const setUp = async () => {
    const env = nodeEnvironment();
    readerSource = await readFile(READER, 'utf8');
    images = await nodeImages();
    cluster = await startNodeCluster(env, timings);
    core = cluster.kc.makeApiClient(CoreV1Api);

    let since = Date.now();
    // The webhook's image name is the chart's default (image.repository:appVersion): installed with defaults.
    const chart = (await readFile(`${CHART}/Chart.yaml`, 'utf8')).match(/^appVersion:\s*"?([^"\n]+)"?/m)?.[1];
    const repository = (await readFile(`${CHART}/values.yaml`, 'utf8')).match(
      /^image:\n(?:\s+#.*\n)*\s+repository:\s*(\S+)/m,
    )?.[1];
    assert.equal(images.webhook.image, `${repository}:${chart}`, "the webhook image carries the chart's default name");
    for (const { image, archive } of Object.values(images)) {
      const names = await cluster.importImage(archive);
      assert.ok(names.includes(image), `${archive} holds ${names.join(', ')}, not ${image}`);
    }
    timings['ctr images import (webhook, fetcher, task)'] = Date.now() - since;

    since = Date.now();
    const cp = cluster.cp;
    mlp = await startRealMlpPeer(
      { jwks: new URL(cp.jwksUrl), jwksFetch: caFetch(cp.caPem), issuer: cp.issuer, audience: 'api.caraml' },
      { gatewayHost: cluster.nodeIp },
    );
    await mlp.seedProject({ name: NS.main, readers: [identity(NS.main)], secrets: MLP_VALUES });
    await mlp.seedProject({ name: NS.restricted, readers: [identity(NS.restricted)], secrets: MLP_VALUES });
    // The pod's identity is not among the readers: MLP's gateway answers 403.
    await mlp.seedProject({ name: NS.denied, readers: [], secrets: MLP_VALUES });
    await mlp.seedProject({ name: NS.loop, readers: [identity(NS.loop)], secrets: MLP_VALUES });
    for (const ns of Object.values(NS)) {
      await createNamespace(
        cluster.kc,
        ns,
        ns === NS.restricted ? { labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } } : {},
      );
    }
    timings['real MLP + PostgreSQL, namespaces'] = Date.now() - since;

    since = Date.now();
    await installChart({
      release: RELEASE,
      releaseNamespace: RELEASE_NS,
      kubeconfigPath: cp.kubeconfigPath,
      fetcherImage: images.fetcher.image,
      mlpUrl: mlp.url,
      fetcherNamespaces: Object.values(NS),
    }).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${await describePods(RELEASE_NS)}`);
    });
    timings['helm install --wait (certs Job, 2 webhook replicas Ready)'] = Date.now() - since;

    // Registration is the chart's business (self-registration or a rendered configuration): wait
    // until the API server actually calls the webhook, seen from a dry-run pod getting its fetcher.
    since = Date.now();
    let last = '';
    await waitFor(
      async () => {
        const res = await createPod(cluster.kc, NS.main, taskPod('probe'), { dryRun: true });
        last = `HTTP ${res.status} ${res.body.message ?? ''} init containers: ${JSON.stringify(res.body.spec?.initContainers?.map((c) => c.name))} warnings: ${JSON.stringify(res.warnings)}`;
        return res.status === 201 && res.body.spec?.initContainers?.some((c) => c.name === FETCHER) ? true : undefined;
      },
      {
        what: 'the API server to call the installed webhook (a dry-run pod gets its fetcher)',
        timeoutMs: 120_000,
        intervalMs: 500,
      },
    ).catch(async (err: Error) => {
      const configs = await cluster.kc.makeApiClient(AdmissionregistrationV1Api).listMutatingWebhookConfiguration();
      throw new Error(
        `${err.message}\nlast answer: ${last}\nMutatingWebhookConfigurations: ${JSON.stringify(configs.items.map((c) => ({ name: c.metadata?.name, webhooks: c.webhooks?.map((w) => ({ ...w, clientConfig: { ...w.clientConfig, caBundle: w.clientConfig.caBundle ? `${w.clientConfig.caBundle.length} chars` : undefined } })) })))}\n${await describePods(RELEASE_NS)}`,
      );
    });
    timings['webhook registered and called'] = Date.now() - since;
  };

  afterEach(function () {
    if (this.currentTest?.state === 'failed') failed = true;
  });

  after(async function () {
    this.timeout(120_000);
    const since = Date.now();
    if (failed && cluster)
      console.error(
        `\n[node] a test failed; the last log lines (all files kept in ${cluster.dir}):\n${cluster.logTails(12)}\n`,
      );
    await mlp?.close();
    await cluster?.stop({ keepDir: failed || process.env.DAP_E2E_KEEP === '1' });
    timings['stop (kubelet, containerd, control plane)'] = Date.now() - since;
    console.error(`[node] timings (ms): ${JSON.stringify(timings, null, 1)}`);
  });

  describe('1. secrets read by real flytekit in the task container', () => {
    const pods: Record<string, V1Pod> = {};
    for (const [label, name, fsGroup] of [
      ['with fsGroup', 'reader-fsgroup', 2000],
      ['without fsGroup', 'reader-plain', undefined],
    ] as const) {
      it(`FILE, ENV_VAR, ANY, group_version, env_var: a task uid ${label}`, async function () {
        this.timeout(240_000);
        await create(NS.main, taskPod(name, { fsGroup }));
        const pod = await waitForPodEnd(NS.main, name);
        const fetcher = status(pod, FETCHER);
        assert.equal(
          fetcher?.state?.terminated?.exitCode,
          0,
          `fetcher: ${JSON.stringify(fetcher?.state)}\n${await cluster.containerLogs(NS.main, name, FETCHER)}`,
        );
        assert.equal(pod.status?.phase, 'Succeeded');
        const report = readerReport(pod);
        assert.equal(report.uid, 1000);
        if (fsGroup !== undefined) assert.ok(report.groups.includes(fsGroup), `groups ${report.groups}`);
        assertEverySecretRead(report);
        pods[name] = pod;
      });
    }

    it('4. deleting the pod garbage-collects its Secret', async function () {
      this.timeout(120_000);
      const pod = pods['reader-plain'];
      assert.ok(pod, 'scenario 1 (without fsGroup) did not finish; see its failure above');
      const secret = podSecretName(pod);
      const stored = await core.readNamespacedSecret({ name: secret, namespace: NS.main });
      assert.equal(stored.metadata?.ownerReferences?.[0]?.uid, pod.metadata?.uid, 'the Secret is owned by its pod');
      await core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: NS.main, gracePeriodSeconds: 0 });
      await waitForGone(
        () => core.readNamespacedSecret({ name: secret, namespace: NS.main }),
        `Secret ${NS.main}/${secret}`,
        90_000,
      );
    });
  });

  describe('2. pod shapes', () => {
    it('a leading native sidecar: the fetcher still runs before the task, which reads every secret', async function () {
      this.timeout(240_000);
      await create(NS.main, taskPod('with-sidecar', { sidecar: true }));
      const pod = await waitForPodEnd(NS.main, 'with-sidecar');
      const inits = pod.spec!.initContainers!.map((c) => c.name);
      assert.equal(inits[0], 'uploader', `init containers: ${inits}`);
      assert.ok(inits.includes(FETCHER));
      assert.equal(
        status(pod, FETCHER)?.state?.terminated?.exitCode,
        0,
        `fetcher: ${JSON.stringify(status(pod, FETCHER)?.state)}`,
      );
      assertEverySecretRead(readerReport(pod));
    });

    it('a namespace enforcing Pod Security restricted admits and runs the injected pod', async function () {
      this.timeout(240_000);
      await create(NS.restricted, taskPod('restricted'));
      const pod = await waitForPodEnd(NS.restricted, 'restricted');
      assert.equal(pod.status?.phase, 'Succeeded', JSON.stringify(pod.status?.containerStatuses));
      assertEverySecretRead(readerReport(pod));
    });
  });

  describe('3. fetcher failures: the pod fails and its status says why, naming pod, secret and fix', () => {
    // A key MLP does not hold: a shape from the shared vectors that the seeded projects leave out.
    const absent = vector('key with dots/dashes/uppercase (ENV_VAR)');
    assert.ok(!(absent.secret.key! in MLP_VALUES));
    const cases = [
      {
        title: 'MLP answers 403 (the pod identity is not a reader)',
        ns: NS.denied,
        name: 'not-a-reader',
        read: vector('group+key FILE'),
        expect: [/denied/i, /add .* to the readers of MLP project/i],
      },
      {
        title: 'the secret does not exist in MLP',
        ns: NS.main,
        name: 'missing-secret',
        read: absent,
        expect: [/not found in MLP project/i, /create it in MLP project/i],
      },
    ];
    for (const c of cases) {
      it(c.title, async function () {
        this.timeout(240_000);
        const pod = taskPod(c.name, { reads: [c.read] });
        await create(c.ns, pod);
        const done = await waitForPodEnd(c.ns, c.name);
        assert.equal(done.status?.phase, 'Failed');
        const term = status(done, FETCHER)?.state?.terminated;
        assert.ok(term && term.exitCode !== 0, `fetcher state: ${JSON.stringify(status(done, FETCHER)?.state)}`);
        const message = term.message ?? '';
        assert.match(message, new RegExp(c.name), `the message names the pod: ${message}`);
        assert.ok(
          message.includes(c.read.secret.key!),
          `the message names the secret ${c.read.secret.key}: ${message}`,
        );
        for (const re of c.expect) assert.match(message, re, message);
        for (const value of Object.values(MLP_VALUES))
          assert.ok(!message.includes(value.trim()), 'no secret value in the message');
        // The task container never started.
        assert.equal(status(done, c.name)?.state?.running, undefined);
        assert.equal(status(done, c.name)?.state?.terminated?.exitCode ?? null, null);
      });
    }
  });

  describe('6. a rolling restart of the webhook Deployment while pods are created', () => {
    it('no pod refused, none admitted without its fetcher', async function () {
      this.timeout(15 * 60_000);
      const apps = cluster.kc.makeApiClient(AppsV1Api);
      const deployments = await apps.listNamespacedDeployment({
        namespace: RELEASE_NS,
        labelSelector: `app.kubernetes.io/instance=${RELEASE}`,
      });
      assert.equal(deployments.items.length, 1);
      const name = deployments.items[0]!.metadata!.name!;
      const oldPods = new Set(
        (
          await core.listNamespacedPod({
            namespace: RELEASE_NS,
            labelSelector: `app.kubernetes.io/instance=${RELEASE}`,
          })
        ).items.map((p) => p.metadata!.name!),
      );
      // `kubectl rollout restart`: a new pod-template annotation.
      await apps.patchNamespacedDeployment(
        {
          name,
          namespace: RELEASE_NS,
          body: [
            {
              op: 'add',
              path: '/spec/template/metadata/annotations',
              value: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() },
            },
          ],
        },
        { headers: { 'Content-Type': 'application/json-patch+json' } } as never,
      );
      const rolledOut = async () => {
        const d = await apps.readNamespacedDeployment({ name, namespace: RELEASE_NS });
        const s = d.status;
        const want = d.spec?.replicas ?? 1;
        const pods = (
          await core.listNamespacedPod({
            namespace: RELEASE_NS,
            labelSelector: `app.kubernetes.io/instance=${RELEASE}`,
          })
        ).items;
        const oldLeft = pods.filter((p) => oldPods.has(p.metadata!.name!) && !p.metadata?.labels?.['job-name']).length;
        return (
          (s?.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
          s?.updatedReplicas === want &&
          s?.readyReplicas === want &&
          s?.replicas === want &&
          oldLeft === 0
        );
      };
      const MAX_PODS = 200;
      const refused: string[] = [];
      const withoutFetcher: string[] = [];
      let n = 0;
      let done = false;
      while (n < MAX_PODS) {
        const pod = taskPod(`churn-${n}`);
        // Admitted and stored, never scheduled: the point is admission during the restart.
        pod.spec!.schedulingGates = [{ name: 'dap-node.test/never' }];
        const res = await createPod(cluster.kc, NS.loop, pod);
        n++;
        if (res.status !== 201) refused.push(`${pod.metadata!.name}: ${res.status} ${res.body.message}`);
        else if (!res.body.spec?.initContainers?.some((c) => c.name === FETCHER))
          withoutFetcher.push(pod.metadata!.name!);
        else created.push({ ns: NS.loop, name: pod.metadata!.name!, warnings: res.warnings });
        if (!done && n % 5 === 0) done = await rolledOut();
        if (done && n >= 50) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(refused, [], `${refused.length} of ${n} pods refused`);
      assert.deepEqual(withoutFetcher, [], `${withoutFetcher.length} of ${n} pods admitted without the fetcher`);
      assert.ok(done || (await rolledOut()), `the rollout did not finish within ${n} pod creations`);
      console.error(`[node] rolling restart: ${n} pods created during it, all admitted with their fetcher`);
      await core.deleteCollectionNamespacedPod({ namespace: NS.loop });
    });
  });
  describe('5. admission through the default admission chain', () => {
    it("every clean pod creation in this tier (incl. the rolling restart's) returned no warning", () => {
      assert.ok(created.length >= 5, `only ${created.length} pods were created; earlier scenarios failed`);
      const warned = created.filter((c) => c.warnings.length);
      const distinct = [...new Set(warned.flatMap((c) => c.warnings.map((w) => w.replace(c.name, '<pod>'))))];
      assert.equal(
        warned.length,
        0,
        `${warned.length} of ${created.length} pod creations returned warnings, e.g. ${warned
          .slice(0, 3)
          .map((c) => `${c.ns}/${c.name}`)
          .join(', ')}: ${distinct.join(' | ')}`,
      );
    });

    it("one webhook call per pod (read from the webhook replicas' /metrics)", async function () {
      this.timeout(60_000);
      const before = await webhookCalls();
      const res = await create(NS.main, taskPod('counted'));
      assert.ok(res.body.spec?.initContainers?.some((c) => c.name === FETCHER));
      const after = await webhookCalls();
      assert.deepEqual(
        { calls: after - before, warnings: res.warnings },
        { calls: 1, warnings: [] },
        'one call and no warning for one pod',
      );
    });
  });

  describe('bench helper', () => {
    it('measurePodStart starts the injected pod and its fetcher-free twin, and reads back when each task started (for bench/, no timing asserted here)', async function () {
      this.timeout(300_000);
      const result = await measurePodStart(cluster.kc, {
        namespace: NS.main,
        pod: taskPod('bench'),
        values: MLP_VALUES,
        samples: 1,
        containerLogs: cluster.containerLogs,
      });
      assert.equal(result.injected.length, 1);
      assert.equal(result.baseline.length, 1);
      const [injected] = result.samples.injected;
      const [baseline] = result.samples.baseline;
      // Every figure is after the create call: the task's stamp was read back, the fetcher's log lines found.
      for (const s of [injected!, baseline!]) {
        assert.ok(s.reportedMs > 0, `reported running ${s.reportedMs}`);
        assert.ok(s.taskStartedMs > 0, `task code started ${s.taskStartedMs}`);
      }
      assert.ok(
        injected!.fetcherLog &&
          injected!.fetcherLog.firstMs > 0 &&
          injected!.fetcherLog.lastMs >= injected!.fetcherLog.firstMs,
        `fetcher log span ${JSON.stringify(injected!.fetcherLog)}`,
      );
      // The task ran after the fetcher's last log line (its init container had exited).
      assert.ok(injected!.taskStartedMs > injected!.fetcherLog.lastMs, JSON.stringify(injected));
      console.error(
        `[node] pod start (1 sample, ms): task code started injected ${injected!.taskStartedMs.toFixed(0)}, baseline ${baseline!.taskStartedMs.toFixed(0)}; reported Running injected ${injected!.reportedMs.toFixed(0)}, baseline ${baseline!.reportedMs.toFixed(0)}`,
      );
    });
  });
});
