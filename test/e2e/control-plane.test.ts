/**
 * The harness itself, on the real control plane: what the scenarios rely on, proven without the
 * webhook or the fetcher.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiException, CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { createNamespace, readOrUndefined, readPod, waitForGone } from './harness/cluster.js';
import { createPodSandbox, runContainer } from './harness/container.js';
import type { ControlPlane } from './harness/controlPlane.js';
import { runTaskStep } from './harness/flytekit.js';
import { caFetch } from './harness/https.js';
import { grantFetcherRbac } from './harness/rbac.js';
import { START_TIMEOUT_MS, sharedControlPlane } from './harness/shared.js';
import { describeSocket, isLoopback, listeningSockets } from './harness/sockets.js';
import { mintPodToken } from './harness/tokens.js';

const NS = 'harness-smoke';
const AUDIENCE = 'api.caraml';

describe('e2e harness: the control plane and the kubelet stand-in', () => {
  let cp: ControlPlane;
  let core: CoreV1Api;

  before(async function () {
    this.timeout(START_TIMEOUT_MS);
    cp = await sharedControlPlane();
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
    await createNamespace(cp.kubeConfig, NS);
  });

  it('serves on loopback only: every socket etcd, kube-apiserver and kube-controller-manager listen on', async () => {
    assert.deepEqual(
      cp.processes.map((p) => p.name),
      ['etcd', 'kube-apiserver', 'kube-controller-manager'],
    );
    for (const p of cp.processes) {
      // What the kernel says the running process listens on, not the flags it was given.
      const sockets = await listeningSockets(p.pid);
      assert.ok(sockets.length > 0, `${p.name} (pid ${p.pid}) listens on no TCP socket: the check would prove nothing`);
      const exposed = sockets.filter((s) => !isLoopback(s)).map(describeSocket);
      assert.deepEqual(exposed, [], `${p.name} (pid ${p.pid}) listens beyond loopback`);
    }
    const apiPort = Number(new URL(cp.apiUrl).port);
    const apiserver = cp.processes.find((p) => p.name === 'kube-apiserver')!;
    assert.ok(
      (await listeningSockets(apiserver.pid)).some((s) => s.port === apiPort),
      `kube-apiserver listens on ${apiPort}, the port of apiUrl`,
    );
  });

  it('serves its JWKS without credentials', async () => {
    const jwks = await getJson<JSONWebKeySet>(cp.jwksUrl, cp.caPem);
    assert.ok(jwks.keys.length > 0, 'the JWKS lists the service-account signing key');
  });

  it('stores a pod that stays Pending, with a uid, and mints a token bound to it', async () => {
    await core.createNamespacedPod({ namespace: NS, body: taskPod('bound-token') });
    const pod = await readPod(cp.kubeConfig, NS, 'bound-token');
    assert.ok(pod.metadata?.uid, 'the stored pod has a uid');
    assert.equal(pod.status?.phase, 'Pending');

    const { token } = await mintPodToken(cp.kubeConfig, pod, { audiences: [AUDIENCE], expirationSeconds: 600 });
    const jwks = createLocalJWKSet(await getJson<JSONWebKeySet>(cp.jwksUrl, cp.caPem));
    const { payload } = await jwtVerify(token, jwks, { issuer: cp.issuer, audience: AUDIENCE });
    assert.equal(payload.sub, `system:serviceaccount:${NS}:default`);
    const k8s = payload['kubernetes.io'] as { pod?: { name: string; uid: string } };
    assert.deepEqual(k8s.pod, { name: 'bound-token', uid: pod.metadata!.uid });
  });

  it('garbage-collects a Secret owned by a pod once the pod is deleted', async () => {
    await core.createNamespacedPod({ namespace: NS, body: taskPod('owner') });
    const pod = await readPod(cp.kubeConfig, NS, 'owner');
    await core.createNamespacedSecret({
      namespace: NS,
      body: {
        metadata: {
          name: 'owned',
          ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'owner', uid: pod.metadata!.uid! }],
        },
        stringData: { k: 'v' },
      },
    });
    await core.deleteNamespacedPod({ namespace: NS, name: 'owner' });
    await waitForGone(
      () => core.readNamespacedSecret({ namespace: NS, name: 'owned' }),
      `Secret ${NS}/owned (owner pod deleted)`,
    );
  });

  it('leaves nothing behind for a dryRun=All pod creation', async () => {
    const returned = await core.createNamespacedPod({ namespace: NS, body: taskPod('dry'), dryRun: 'All' });
    assert.equal(returned.metadata?.name, 'dry');
    assert.equal(await readOrUndefined(() => readPod(cp.kubeConfig, NS, 'dry')), undefined);
  });

  it('enforces Pod Security "restricted" where a namespace asks for it', async () => {
    const ns = 'harness-restricted';
    await createNamespace(cp.kubeConfig, ns, { labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } });
    const loose: V1Pod = {
      metadata: { name: 'loose' },
      spec: { containers: [{ name: 'task', image: 'example.invalid/task:v1' }] },
    };
    await assert.rejects(
      core.createNamespacedPod({ namespace: ns, body: loose }),
      (err: unknown) => err instanceof ApiException && err.code === 403 && /restricted/.test(String(err.body)),
    );
    await core.createNamespacedPod({ namespace: ns, body: taskPod('compliant') });
  });

  it('lets a pod-bound token create Secrets under the fetcher RBAC, and nothing more', async () => {
    await grantFetcherRbac(cp.kubeConfig, NS);
    await core.createNamespacedPod({ namespace: NS, body: taskPod('rbac') });
    const pod = await readPod(cp.kubeConfig, NS, 'rbac');
    const { token } = await mintPodToken(cp.kubeConfig, pod, { audiences: cp.apiAudiences });
    const asPod = tokenClient(cp, token).makeApiClient(CoreV1Api);
    await asPod.createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: 'by-pod' }, stringData: { k: 'v' } },
    });
    await assert.rejects(
      asPod.readNamespacedSecret({ namespace: NS, name: 'by-pod' }),
      (err: unknown) => err instanceof ApiException && err.code === 403,
    );
  });

  it('runs a container of a stored pod with env, projected token, emptyDir and termination log resolved', async () => {
    await core.createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: 'run-env' }, stringData: { greeting: 'hello' } },
    });
    await core.createNamespacedPod({ namespace: NS, body: runnablePod('runner') });
    const pod = await readPod(cp.kubeConfig, NS, 'runner');
    const sandbox = await createPodSandbox(cp.kubeConfig, pod, join(cp.dir, 'sandboxes'));
    try {
      const run = await runContainer(sandbox, 'writer', { executable: '/bin/sh' });
      assert.equal(run.exitCode, 0, run.stderr);
      assert.equal(run.terminationMessage, 'written');
      const shared = sandbox.volumes.get('shared')!;
      assert.equal(await readFile(join(shared.hostDir, 'uid'), 'utf8'), pod.metadata!.uid);
      assert.equal(await readFile(join(shared.hostDir, 'greeting'), 'utf8'), 'hello from runner');
      const token = await readFile(join(shared.hostDir, 'token'), 'utf8');
      const jwks = createLocalJWKSet(await getJson<JSONWebKeySet>(cp.jwksUrl, cp.caPem));
      const { payload } = await jwtVerify(token, jwks, { issuer: cp.issuer, audience: AUDIENCE });
      assert.equal((payload['kubernetes.io'] as { pod: { uid: string } }).pod.uid, pod.metadata!.uid);
      assert.equal(
        await readFile(join(shared.hostDir, 'ca.crt'), 'utf8'),
        cp.caPem,
        'kube-root-ca.crt holds the cluster CA',
      );
    } finally {
      await sandbox.dispose();
    }
  });

  it('reads secrets back through the real flytekit from env (secretKeyRef) and files (shared emptyDir)', async function () {
    this.timeout(60_000);
    await core.createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: 'task-env' }, stringData: { token: ' env-value \n' } },
    });
    await core.createNamespacedPod({ namespace: NS, body: runnablePod('reader') });
    const pod = await readPod(cp.kubeConfig, NS, 'reader');
    const sandbox = await createPodSandbox(cp.kubeConfig, pod, join(cp.dir, 'sandboxes'));
    try {
      const writer = await runContainer(sandbox, 'writer', { executable: '/bin/sh' });
      assert.equal(writer.exitCode, 0, writer.stderr);
      const result = await runTaskStep(
        sandbox,
        'task',
        [
          { group: 'vault', key: 'token' },
          { group: 'files', key: 'greeting' },
          { group: 'files', groupVersion: 'v2', key: 'greeting' },
        ],
        { env: ['PLAIN', 'FLYTE_SECRETS_DEFAULT_DIR'] },
      );
      assert.equal(result.flytekitVersion, '1.16.31');
      assert.deepEqual(
        result.secrets.map((s) => s.value ?? `error: ${s.envVar} ${s.file}`),
        ['env-value', 'hello from reader', 'versioned'],
      );
      assert.equal(result.env.PLAIN, 'plain value');
      assert.equal(
        result.env.FLYTE_SECRETS_DEFAULT_DIR,
        sandbox.volumes.get('shared')!.hostDir,
        'the mount path is mapped to the volume on the host',
      );
      assert.equal(result.containerEnv.FLYTE_SECRETS_DEFAULT_DIR, '/etc/flyte/secrets');
    } finally {
      await sandbox.dispose();
    }
  });
});

/** A pod Pod Security "restricted" admits; it never runs (no kubelet). */
function taskPod(name: string): V1Pod {
  return {
    metadata: { name },
    spec: {
      securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'task',
          image: 'example.invalid/task:v1',
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        },
      ],
    },
  };
}

/**
 * A pod whose init container `writer` (run with /bin/sh) writes into the shared emptyDir what a
 * fetcher would, and whose `task` container reads through flytekit.
 */
function runnablePod(name: string): V1Pod {
  const script = [
    'printf %s "$POD_UID" > "$OUT/uid"',
    'printf "%s from %s" "$GREETING" "$POD_NAME" > "$OUT/greeting"',
    'cp "$TOKEN_FILE" "$OUT/token"',
    'cp "$CA_FILE" "$OUT/ca.crt"',
    'mkdir -p "$OUT/files/v2" && printf "hello from %s\\n" "$POD_NAME" > "$OUT/files/greeting" && printf versioned > "$OUT/files/v2/greeting"',
    'printf written > "$TERM_LOG"',
  ].join(' && ');
  return {
    metadata: { name },
    spec: {
      initContainers: [
        {
          name: 'writer',
          image: 'example.invalid/writer:v1',
          command: ['/bin/sh', '-c', script],
          env: [
            { name: 'OUT', value: '/work' },
            { name: 'TOKEN_FILE', value: '/var/run/identity/mlp/token' },
            { name: 'CA_FILE', value: '/var/run/identity/kube/ca.crt' },
            { name: 'TERM_LOG', value: '/dev/termination-log' },
            { name: 'POD_UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'GREETING', valueFrom: { secretKeyRef: { name: 'run-env', key: 'greeting', optional: true } } },
          ],
          volumeMounts: [
            { name: 'shared', mountPath: '/work' },
            { name: 'identity', mountPath: '/var/run/identity', readOnly: true },
          ],
        },
      ],
      containers: [
        {
          name: 'task',
          image: 'example.invalid/task:v1',
          env: [
            { name: 'PLAIN', value: 'plain value' },
            { name: 'FLYTE_SECRETS_DEFAULT_DIR', value: '/etc/flyte/secrets' },
            {
              name: '_FSEC_VAULT_TOKEN',
              valueFrom: { secretKeyRef: { name: 'task-env', key: 'token', optional: true } },
            },
          ],
          volumeMounts: [{ name: 'shared', mountPath: '/etc/flyte/secrets', readOnly: true }],
        },
      ],
      volumes: [
        { name: 'shared', emptyDir: { medium: 'Memory' } },
        {
          name: 'identity',
          projected: {
            sources: [
              { serviceAccountToken: { audience: AUDIENCE, expirationSeconds: 600, path: 'mlp/token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'kube/ca.crt' }] } },
            ],
          },
        },
      ],
    },
  };
}

function tokenClient(cp: ControlPlane, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'e2e', server: cp.apiUrl, caData: Buffer.from(cp.caPem).toString('base64') }],
    users: [{ name: 'pod', token }],
    contexts: [{ name: 'e2e', cluster: 'e2e', user: 'pod' }],
    currentContext: 'e2e',
  });
  return kc;
}

/** GET without credentials, trusting only the cluster CA. */
async function getJson<T>(url: string, caPem: string): Promise<T> {
  const res = await caFetch(caPem)(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  return (await res.json()) as T;
}
