/**
 * End to end on a real control plane (issues 4 and 7): the real kube-apiserver calls the built
 * webhook, stores the patched pod; the built fetcher runs with the env the kubelet would give it,
 * against the REAL MLP server (PostgreSQL behind it) fronted by a gateway that validates the
 * pod's token with the API server's JWKS, as CaraML's Oathkeeper does; the real flytekit reads
 * every secret back. The MLP stand-in serves only the fault scenario that needs its knobs.
 */
import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiException, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { EXIT_CODES as FETCHER_EXIT } from '../../fetcher/errors.js';
import { type MlpPeer, startMlp } from '../support/mlp/index.js';
import { type RealMlpPeer, startRealMlpPeer } from '../support/real-mlp/peer.js';
import { createNamespace, readOrUndefined, readPod, waitForGone } from './harness/cluster.js';
import { createPodSandbox, type PodSandbox } from './harness/container.js';
import type { ControlPlane } from './harness/controlPlane.js';
import { runTaskStep, type SecretRequest } from './harness/flytekit.js';
import { flytePropellerPod, type SecretVector, vector } from './harness/flytePod.js';
import { caFetch } from './harness/https.js';
import { FETCHER_CONTAINER, FETCHER_EXECUTABLE, runFetcherStep } from './harness/kubelet.js';
import { grantFetcherRbac } from './harness/rbac.js';
import { START_TIMEOUT_MS, sharedControlPlane } from './harness/shared.js';
import { SIDECAR_LABEL, SIDECAR_NAME, startSidecarWebhook } from './harness/sidecarWebhook.js';
import { describeSocket, isLoopback, listeningSockets } from './harness/sockets.js';
import { type RunningWebhook, startWebhook, WEBHOOK_PROGRAM } from './harness/webhook.js';

const PROJECT = 'flytesnacks';
const DOMAIN = 'development';
/** Flyte's namespace template `{{ project }}-{{ domain }}`; the webhook's default MLP project source is the namespace. */
const NS = `${PROJECT}-${DOMAIN}`;
const AUDIENCE = 'api.caraml';
const POD_IDENTITY = `system:serviceaccount:${NS}:default`;

/** One of each shape the contract names: ENV_VAR, FILE, ANY, group_version, env_var (both mounts), odd characters, no group. */
const REQUESTED: SecretVector[] = [
  vector('group+key ENV_VAR'),
  vector('group+key FILE'),
  vector('snacks-core compiled fixture secret_task / user_info_task (ANY)'),
  vector('group_version set (FILE)'),
  vector('key with dots/dashes/uppercase (ENV_VAR)'),
  vector('group empty (flytekit>=1.10.3 allows; k8s injector rejects)'),
  vector('env_var custom name, ENV_VAR (flyteidl>=1.15.0)'),
  vector("k8s_secrets_test.go 'require file single with env var'"),
];
/** MLP secret name = the Flyte key (contract §4). Values with surrounding whitespace: flytekit strips. */
const MLP_VALUES: Record<string, string> = Object.fromEntries(
  REQUESTED.map((v) => [v.secret.key!, ` value of ${v.secret.key} \n`]),
);
const stripped = (key: string) => MLP_VALUES[key]!.trim();
const asRequest = (v: SecretVector): SecretRequest => ({
  group: v.secret.group,
  key: v.secret.key,
  groupVersion: v.secret.group_version,
});

describe('e2e: Flyte task pods get their MLP secrets (real API server, real MLP + PostgreSQL, built webhook and fetcher, real flytekit)', function () {
  let cp: ControlPlane;
  let core: CoreV1Api;
  let mlp: RealMlpPeer;
  /** The stand-in, for faults the real server cannot be told to make (5xx until the deadline). */
  let standIn: MlpPeer;
  let webhook: RunningWebhook;
  const sandboxes: PodSandbox[] = [];
  /** Everything the fetcher printed or reported, for the no-leak check. */
  const fetcherOutputs: string[] = [];

  const createFlytePod = async (
    name: string,
    secrets = REQUESTED.map((v) => v.annotation_value),
    namespace = NS,
    extra: Partial<Parameters<typeof flytePropellerPod>[0]> = {},
  ): Promise<V1Pod> => {
    await core.createNamespacedPod({
      namespace,
      body: flytePropellerPod({ name, project: PROJECT, domain: DOMAIN, secrets, ...extra }),
    });
    return readPod(cp.kubeConfig, namespace, name);
  };
  const sandboxFor = async (pod: V1Pod) => {
    const sandbox = await createPodSandbox(cp.kubeConfig, pod, join(cp.dir, 'sandboxes'));
    sandboxes.push(sandbox);
    return sandbox;
  };
  const fetcherStep = async (sandbox: PodSandbox, extraEnv?: Record<string, string>) => {
    const run = await runFetcherStep(sandbox, { apiUrl: cp.apiUrl, caFile: cp.caFile, extraEnv });
    fetcherOutputs.push(run.stdout, run.stderr, run.terminationMessage);
    return run;
  };
  const podSecretName = (pod: V1Pod): string => {
    const plan = JSON.parse(
      pod.spec!.initContainers!.find((c) => c.name === FETCHER_CONTAINER)!.env!.find((e) => e.name === 'DAP_PLAN')!
        .value!,
    ) as { secret: { name: string } | null };
    assert.ok(plan.secret, 'the plan names a per-pod Secret');
    return plan.secret.name;
  };

  before(async function () {
    this.timeout(START_TIMEOUT_MS);
    for (const built of [WEBHOOK_PROGRAM, FETCHER_EXECUTABLE]) {
      await access(built).catch(() => {
        throw new Error(
          `${built} is missing: the e2e runs the built programs; run \`npm run build\` first (npm test does)`,
        );
      });
    }
    cp = await sharedControlPlane();
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const gateway = { jwks: new URL(cp.jwksUrl), jwksFetch: caFetch(cp.caPem), issuer: cp.issuer, audience: AUDIENCE };
    mlp = await startRealMlpPeer(gateway);
    // MLP matches project names by prefix: a readable decoy whose name extends NS, created first,
    // with different values, proves the fetcher picks the exact project.
    await mlp.seedProject({
      name: `${NS}-archive`,
      readers: [POD_IDENTITY],
      secrets: Object.fromEntries(Object.keys(MLP_VALUES).map((k) => [k, 'decoy value'])),
    });
    await mlp.seedProject({ name: NS, readers: [POD_IDENTITY], secrets: MLP_VALUES });
    standIn = await startMlp(gateway);
    standIn.data.addProject({ name: NS, readers: [POD_IDENTITY], secrets: MLP_VALUES });
    await createNamespace(cp.kubeConfig, NS);
    await grantFetcherRbac(cp.kubeConfig, NS);
    webhook = await startWebhook(cp, { mlpApiHost: mlp.url, env: { MLP_TOKEN_AUDIENCE: AUDIENCE } });
  });

  after(async function () {
    this.timeout(30_000);
    for (const s of sandboxes) await s.dispose();
    await webhook?.stop();
    await webhook?.deleteRegistration().catch(() => {});
    await mlp?.close();
    await standIn?.close();
  });

  describe('1. self-registration', () => {
    it('the built webhook registers itself (URL client config) and becomes ready', async () => {
      const config = await webhook.configuration();
      const [hook] = config.webhooks ?? [];
      assert.ok(hook, 'one webhook entry');
      assert.equal(hook.clientConfig.url, webhook.url);
      assert.equal(Buffer.from(hook.clientConfig.caBundle ?? '', 'base64').toString(), cp.caPem);
      assert.equal(hook.failurePolicy, 'Fail');
      assert.equal(hook.sideEffects, 'None');
      assert.equal(hook.reinvocationPolicy, 'IfNeeded');
      assert.deepEqual(hook.objectSelector?.matchLabels, { 'inject-flyte-secrets': 'true' });
    });

    it('the built webhook listens on loopback only (admission and health ports)', async () => {
      const sockets = await listeningSockets(webhook.process.pid);
      assert.deepEqual(
        sockets.map((s) => s.port).sort(),
        [new URL(webhook.url).port, new URL(webhook.healthUrl).port].map(Number).sort(),
      );
      assert.deepEqual(
        sockets.filter((s) => !isLoopback(s)).map(describeSocket),
        [],
        'the webhook listens beyond loopback',
      );
    });
  });

  /** Set when scenario 3 ran the fetcher to success: 4, 5 and 10 build on it. */
  let fetchedSandbox: PodSandbox | undefined;

  describe('a pod shaped as flytepropeller makes it, through the kubelet and task steps', () => {
    // Scenarios 2 → 3 → 4 → 5 are one pod's life: each states which earlier step it needs, so a
    // failure reads as "scenario N failed", not as a TypeError in the ones after it.
    let pod: V1Pod | undefined;
    const needPod = (): V1Pod => {
      assert.ok(pod, 'scenario 2 did not create the pod; see its failure above');
      return pod;
    };
    const needFetched = (): PodSandbox => {
      assert.ok(fetchedSandbox, 'scenario 3 did not run the fetcher to success; see its failure above');
      return fetchedSandbox;
    };

    it('2. is stored with the fetcher first, the volumes and the env wiring', async () => {
      const stored = await createFlytePod('a1b2c3d4e5f6g7h8i9j0-n0-0');
      pod = stored;
      const init = stored.spec?.initContainers ?? [];
      assert.equal(init[0]?.name, FETCHER_CONTAINER, 'the fetcher is the first init container');
      assert.equal(init.filter((c) => c.name === FETCHER_CONTAINER).length, 1);
      const secretsVolume = stored.spec?.volumes?.find((v) => v.emptyDir);
      assert.equal(secretsVolume?.emptyDir?.medium, 'Memory', 'FILE secrets live in an in-memory emptyDir');
      const task = stored.spec!.containers[0]!;
      const env = new Map((task.env ?? []).map((e) => [e.name, e]));
      for (const v of REQUESTED.filter((x) => x.secret.mount_requirement === 'ENV_VAR')) {
        assert.ok(
          env.get(v.flytekit_lookup.env_var)?.valueFrom?.secretKeyRef,
          `${v.flytekit_lookup.env_var} comes from the per-pod Secret`,
        );
      }
      assert.equal(env.get('FLYTE_SECRETS_DEFAULT_DIR')?.value, '/etc/flyte/secrets');
      assert.ok(
        env.get('OPENAI_API_KEY')?.valueFrom?.secretKeyRef,
        'env_var of an ENV_VAR secret is wired to the Secret',
      );
      assert.equal(
        env.get('MY_CUSTOM_ENV')?.value,
        vector("k8s_secrets_test.go 'require file single with env var'").flytekit_lookup.file_path,
        'env_var of a FILE secret holds the file path',
      );
      assert.ok(
        task.volumeMounts?.some(
          (m) => m.name === secretsVolume!.name && m.mountPath === '/etc/flyte/secrets' && m.readOnly,
        ),
      );
    });

    it('3. the fetcher, run as the kubelet would, fetches with the pod-bound token and creates the owned Secret', async function () {
      this.timeout(90_000);
      const pod = needPod();
      const sandbox = await sandboxFor(pod);
      const run = await fetcherStep(sandbox);
      assert.equal(run.exitCode, 0, `the fetcher failed: ${run.terminationMessage || run.stderr.slice(-2000)}`);
      const forwarded = mlp.decisions.filter((d) => d.outcome === 'forwarded');
      assert.ok(
        forwarded.length > 0 && forwarded.every((d) => d.identity === POD_IDENTITY),
        "MLP saw the pod's own identity",
      );
      const secret = await core.readNamespacedSecret({ namespace: NS, name: podSecretName(pod) });
      assert.deepEqual(
        secret.metadata?.ownerReferences?.map((o) => [o.kind, o.name, o.uid]),
        [['Pod', pod.metadata!.name, pod.metadata!.uid]],
      );
      fetchedSandbox = sandbox;
    });

    it('4. the real flytekit finds every secret, and the env_var variables hold what they promise', async function () {
      this.timeout(90_000);
      const pod = needPod();
      const sandbox = needFetched();
      // A secret requested with a group_version is found both ways: get(group, key, group_version=...)
      // and get(group, key), as tasks written for Flyte's native injector ask (README: group_version).
      const withoutVersion = REQUESTED.filter((v) => v.secret.group_version).map((v) => ({
        ...asRequest(v),
        groupVersion: undefined,
      }));
      assert.ok(withoutVersion.length > 0, 'REQUESTED has a group_version secret');
      const result = await runTaskStep(
        sandbox,
        pod.spec!.containers[0]!.name,
        [...REQUESTED.map(asRequest), ...withoutVersion],
        { env: ['OPENAI_API_KEY', 'MY_CUSTOM_ENV'] },
      );
      const got = result.secrets.map((s) => [
        s.request.key,
        s.request.groupVersion ?? '',
        s.value ?? `not found (${s.envVar}, ${s.file})`,
      ]);
      assert.deepEqual(got, [
        ...REQUESTED.map((v) => [v.secret.key, v.secret.group_version ?? '', stripped(v.secret.key!)]),
        ...withoutVersion.map((r) => [r.key, '', stripped(r.key!)]),
      ]);
      assert.equal(result.env.OPENAI_API_KEY?.trim(), stripped('api-key'));
      assert.equal((await readFile(result.env.MY_CUSTOM_ENV!, 'utf8')).trim(), stripped('HELLO'));
    });

    it('5. deleting the pod garbage-collects its Secret', async () => {
      const pod = needPod();
      needFetched();
      const name = podSecretName(pod);
      // There before the deletion, or "gone" would prove nothing.
      assert.ok(
        await readOrUndefined(() => core.readNamespacedSecret({ namespace: NS, name })),
        `Secret ${NS}/${name} exists before the pod is deleted`,
      );
      await core.deleteNamespacedPod({ namespace: NS, name: pod.metadata!.name! });
      await waitForGone(
        () => core.readNamespacedSecret({ namespace: NS, name }),
        `Secret ${NS}/${name} owned by the deleted pod`,
      );
    });
  });

  describe('6. dry run', () => {
    it('a dryRun=All creation is mutated and leaves nothing behind', async () => {
      const body = flytePropellerPod({
        name: 'dry-run-n0-0',
        project: PROJECT,
        domain: DOMAIN,
        secrets: REQUESTED.map((v) => v.annotation_value),
      });
      const returned = await core.createNamespacedPod({ namespace: NS, body, dryRun: 'All' });
      assert.equal(returned.spec?.initContainers?.[0]?.name, FETCHER_CONTAINER, 'the dry-run answer is mutated');
      assert.equal(await readOrUndefined(() => readPod(cp.kubeConfig, NS, 'dry-run-n0-0')), undefined);
      const secrets = await core.listNamespacedSecret({ namespace: NS });
      assert.deepEqual(
        secrets.items.filter((s) => s.metadata?.ownerReferences?.some((o) => o.name === 'dry-run-n0-0')),
        [],
      );
    });
  });

  describe('7. Pod Security restricted', () => {
    it('Pod Security "restricted" still admits a compliant Flyte pod after injection', async () => {
      const ns = 'restricted-development';
      await createNamespace(cp.kubeConfig, ns, {
        labels: {
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/enforce-version': 'latest',
        },
      });
      const pod = await createFlytePod('restricted-n0-0', undefined, ns);
      assert.equal(pod.spec?.initContainers?.[0]?.name, FETCHER_CONTAINER);
    });
  });

  describe('8. failures end clearly, nothing silent', () => {
    it('a malformed annotation: creation is denied with our message', async () => {
      await assert.rejects(createFlytePod('malformed-n0-0', ['not base32 !']), (err: unknown) => {
        assert.ok(err instanceof ApiException, String(err));
        assert.match(String(err.body), /flyte\.secrets\/s0/);
        return true;
      });
    });

    it('a pod without the label never reaches the webhook (even a malformed annotation is admitted as is)', async () => {
      const pod = await createFlytePod('unlabelled-n0-0', ['not base32 !'], NS, { injectLabel: false });
      assert.equal(pod.spec?.initContainers, undefined);
    });

    /** The fetcher ran to its own end (no timeout, no signal), failed with `exitCode`, and its termination message says each of `mentions`. */
    const expectFetcherFailure = async (
      podName: string,
      opts: {
        namespace?: string;
        secrets?: string[];
        env?: Record<string, string>;
        exitCode: number;
        mentions: RegExp[];
      },
    ) => {
      const ns = opts.namespace ?? NS;
      const pod = await createFlytePod(podName, opts.secrets, ns);
      const run = await fetcherStep(await sandboxFor(pod), opts.env);
      const how = `exit code ${run.exitCode}, signal ${run.signal}, timed out: ${run.timedOut}; termination message: ${run.terminationMessage || '(empty)'}; stderr: ${run.stderr.slice(-2000)}`;
      // A run the harness killed also "exits non-zero": only the fetcher's own exit counts.
      assert.equal(
        run.timedOut,
        false,
        `the fetcher was killed by the harness's timeout, it did not end by itself (${how})`,
      );
      assert.equal(run.signal, null, `the fetcher died of a signal (${how})`);
      assert.equal(run.exitCode, opts.exitCode, `the fetcher must fail with exit code ${opts.exitCode} (${how})`);
      for (const m of opts.mentions) assert.match(run.terminationMessage, m);
      assert.equal(
        await readOrUndefined(() => core.readNamespacedSecret({ namespace: ns, name: podSecretName(pod) })),
        undefined,
        'no Secret is left half-made',
      );
      return run;
    };

    it('a secret missing in MLP: the fetcher exits non-zero, names it, and leaves no Secret', async function () {
      this.timeout(90_000);
      const missing = vector('repo fixture task_exec_context_test.go'); // my_group/my_key: not in MLP
      const present = REQUESTED[0]!;
      const run = await expectFetcherFailure('missing-n0-0', {
        secrets: [present.annotation_value, missing.annotation_value],
        exitCode: FETCHER_EXIT.failed,
        mentions: [new RegExp(`secret \`${missing.secret.key}\` not found in MLP project \`${NS}\``)],
      });
      assert.doesNotMatch(
        run.terminationMessage,
        new RegExp(`\`${present.secret.key}\``),
        'only the missing secret is named',
      );
    });

    it("an identity that is not a reader: MLP's gateway forbids it, the fetcher says so and leaves no Secret", async function () {
      this.timeout(90_000);
      const ns = 'outsider-development';
      const identity = `system:serviceaccount:${ns}:default`;
      const { project } = await mlp.seedProject({
        name: ns,
        readers: ['someone-else@example.com'],
        secrets: MLP_VALUES,
      });
      await createNamespace(cp.kubeConfig, ns);
      await grantFetcherRbac(cp.kubeConfig, ns);
      const decisionsBefore = mlp.decisions.length;
      await expectFetcherFailure('outsider-n0-0', {
        namespace: ns,
        secrets: [REQUESTED[0]!.annotation_value],
        exitCode: FETCHER_EXIT.failed,
        mentions: [new RegExp(`MLP denied project \`${ns}\` to identity \`${identity}\``), /HTTP 403/],
      });
      // The gateway, not some other failure, refused: the pod's identity, for that very project.
      const forbidden = mlp.decisions.slice(decisionsBefore).filter((d) => d.outcome === 'forbidden');
      assert.deepEqual(
        forbidden.map((d) => [d.identity, d.projectId]),
        [[identity, project.id]],
        "the gateway forbade the pod's identity that project, once",
      );
    });

    it('MLP down: the fetcher gives up within its deadline, exits non-zero and leaves no Secret', async function () {
      this.timeout(90_000);
      standIn.faults.failNext(1_000, 503);
      try {
        // The stand-in plays the failing MLP; a short deadline keeps the test fast. The rest of the env is the stored pod's.
        await expectFetcherFailure('mlp-down-n0-0', {
          secrets: [REQUESTED[0]!.annotation_value],
          env: { DAP_DEADLINE_SECONDS: '3', MLP_API_HOST: standIn.url },
          exitCode: FETCHER_EXIT.deadline,
          mentions: [/gave up (when|because)[^;]* 3 s deadline/, /HTTP 503/],
        });
      } finally {
        standIn.faults.clear();
      }
    });
  });

  describe('9. reinvocation', () => {
    it('a later webhook adds a container; still one fetcher, and the new container is wired', async () => {
      const sidecar = await startSidecarWebhook(cp);
      try {
        const pod = await createFlytePod('reinvoked-n0-0', undefined, NS, { extraLabels: { [SIDECAR_LABEL]: 'true' } });
        assert.ok(sidecar.calls > 0, 'the sidecar webhook was called');
        assert.equal(
          pod.spec?.initContainers?.filter((c) => c.name === FETCHER_CONTAINER).length,
          1,
          'exactly one fetcher',
        );
        const added = pod.spec?.containers.find((c) => c.name === SIDECAR_NAME);
        assert.ok(added, 'the sidecar is there');
        const names = new Set((added.env ?? []).map((e) => e.name));
        for (const v of REQUESTED.filter((x) => x.secret.mount_requirement === 'ENV_VAR'))
          assert.ok(names.has(v.flytekit_lookup.env_var), `sidecar has ${v.flytekit_lookup.env_var}`);
        assert.ok(
          added.volumeMounts?.some((m) => m.mountPath === '/etc/flyte/secrets'),
          'sidecar mounts the secrets volume',
        );
      } finally {
        await sidecar.close();
      }
    });
  });

  describe('10. nothing leaks', () => {
    it("no secret value or token appears in any fetcher output or termination message, the webhook's log or metrics, a stored pod (the admission responses applied) or an event", async () => {
      // Values reach the fetcher only on a successful fetch: without scenario 3 this would prove little.
      assert.ok(
        fetchedSandbox,
        'scenario 3 did not run the fetcher to success, so there is nothing to check for leaks; see its failure above',
      );
      const tokens: string[] = [];
      for (const volume of sandboxes.flatMap((sb) => [...sb.volumes.values()])) {
        for (const file of ['mlp/token', 'kube/token']) {
          const token = await readFile(join(volume.hostDir, file), 'utf8').catch(() => undefined);
          if (token) tokens.push(token);
        }
      }
      assert.ok(
        tokens.length > 0 && fetcherOutputs.length > 0,
        "the sandboxes of scenarios 3 and 8 hold projected tokens and the fetcher's output",
      );
      const metrics = await (await fetch(webhook.healthUrl.replace(/\/readyz$/, '/metrics'))).text();
      assert.match(
        metrics,
        /dap_secret_webhook_admission_requests_total\{outcome="injected"\} [1-9]/,
        'the webhook admitted pods, so its metrics have something to say',
      );
      const pods = await core.listNamespacedPod({ namespace: NS });
      assert.ok(
        pods.items.some((p) => p.metadata?.annotations?.['dap-secret-webhook.caraml.dev/injected'] === 'true'),
        'injected pods are stored',
      );
      const events = await core.listNamespacedEvent({ namespace: NS });
      const haystacks = [
        ...fetcherOutputs,
        await readFile(webhook.logPath, 'utf8'),
        metrics,
        JSON.stringify(pods.items),
        JSON.stringify(events.items),
      ];
      const values = Object.values(MLP_VALUES).map((v) => v.trim());
      // Pods, events and metrics could only carry a value in some encoding: look for base64 too.
      const needles = [...values, ...values.map((v) => Buffer.from(v).toString('base64')), ...tokens];
      const leaks = needles.filter((needle) => haystacks.some((h) => h.includes(needle)));
      // Count only: printing a leaked value would leak it again.
      assert.equal(leaks.length, 0, `${leaks.length} secret value(s) or token(s) appeared in output`);
    });
  });

  // Mocha runs a suite's own tests before its child suites: every scenario is a child suite, in
  // order, and this one is last because it takes the webhook down for good.
  describe('8. failures: webhook down', () => {
    it('webhook down with failurePolicy Fail: creation is refused, no pod starts without its secrets', async function () {
      this.timeout(30_000);
      await webhook.stop();
      await assert.rejects(createFlytePod('webhook-down-n0-0'), (err: unknown) => {
        assert.ok(err instanceof ApiException, String(err));
        assert.match(String(err.body), /failed calling webhook/);
        return true;
      });
      assert.equal(await readOrUndefined(() => readPod(cp.kubeConfig, NS, 'webhook-down-n0-0')), undefined);
    });
  });
});
