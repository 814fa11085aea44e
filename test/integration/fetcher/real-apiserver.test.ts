/**
 * The built fetcher's Kubernetes half against the REAL kube-apiserver of the end-to-end harness
 * (test/e2e/harness): the same code that talks to the stand-in in fetcher.test.ts must create an
 * acceptable Secret with a pod-bound token under create-only RBAC, treat a second run's 409 as
 * done, and explain a namespace without the grant. MLP is the stand-in behind the gateway, which
 * validates the pod's token against the API server's own JWKS.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { createNamespace, readPod } from '../../e2e/harness/cluster.js';
import type { ControlPlane } from '../../e2e/harness/controlPlane.js';
import { caFetch } from '../../e2e/harness/https.js';
import { grantFetcherRbac } from '../../e2e/harness/rbac.js';
import { sharedControlPlane, START_TIMEOUT_MS } from '../../e2e/harness/shared.js';
import { mintPodToken } from '../../e2e/harness/tokens.js';
import { startMlp, type MlpPeer } from '../../support/mlp/index.js';
import { describeRun, ensureExecutable, planJson, runFetcher } from './world.js';

const GRANTED = 'fetcher-it-granted';
const NOT_GRANTED = 'fetcher-it-no-grant';
const MLP_AUDIENCE = 'api.caraml';

describe('dap-secret-fetcher against the real kube-apiserver', function () {
  this.timeout(60_000);
  let cp: ControlPlane;
  let core: CoreV1Api;
  let mlp: MlpPeer;
  let dir: string;

  before(async function () {
    this.timeout(START_TIMEOUT_MS);
    ensureExecutable();
    cp = await sharedControlPlane();
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
    for (const ns of [GRANTED, NOT_GRANTED]) await createNamespace(cp.kubeConfig, ns);
    await grantFetcherRbac(cp.kubeConfig, GRANTED);
    mlp = await startMlp({ jwks: new URL(cp.jwksUrl), jwksFetch: caFetch(cp.caPem), issuer: cp.issuer, audience: MLP_AUDIENCE });
    for (const ns of [GRANTED, NOT_GRANTED]) {
      mlp.data.addProject({ name: ns, readers: [`system:serviceaccount:${ns}:default`], secrets: { api_token: `real-api-token-of-${ns}`, password: 'real-api-password' } });
    }
    dir = await mkdtemp(join(tmpdir(), 'dap-fetcher-real-api-'));
  });

  after(async function () {
    await mlp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A stored pod (never scheduled: no kubelet needed) and the env its fetcher would get, with pod-bound tokens. */
  async function podAndEnv(namespace: string, name: string, secretName: string): Promise<{ pod: V1Pod; env: Record<string, string> }> {
    await core.createNamespacedPod({ namespace, body: { metadata: { name }, spec: { containers: [{ name: 'task', image: 'registry.invalid/task:1' }] } } });
    const pod = await readPod(cp.kubeConfig, namespace, name);
    const podDir = join(dir, `${namespace}-${name}`);
    await mkdir(join(podDir, 'volume'), { recursive: true });
    await writeFile(join(podDir, 'mlp-token'), (await mintPodToken(cp.kubeConfig, pod, { audiences: [MLP_AUDIENCE] })).token);
    await writeFile(join(podDir, 'kube-token'), (await mintPodToken(cp.kubeConfig, pod)).token);
    const env = {
      DAP_PLAN: planJson({ project: namespace, secret: { name: secretName, keys: [['api_token', 'api_token'], ['password', 'password']] } }, join(podDir, 'volume')),
      POD_NAME: name,
      POD_NAMESPACE: namespace,
      POD_UID: pod.metadata?.uid as string,
      POD_SERVICE_ACCOUNT: 'default',
      MLP_API_HOST: mlp.url,
      MLP_TOKEN_FILE: join(podDir, 'mlp-token'),
      DAP_KUBE_API_URL: cp.apiUrl,
      DAP_KUBE_TOKEN_FILE: join(podDir, 'kube-token'),
      DAP_KUBE_CA_FILE: cp.caFile,
      DAP_DEADLINE_SECONDS: '20',
      DAP_TERMINATION_LOG: join(podDir, 'termination-log'),
    };
    return { pod, env };
  }

  it('creates the immutable Secret owned by the pod with create-only RBAC, and a second run accepts the 409', async function () {
    const { pod, env } = await podAndEnv(GRANTED, 'wf-real-n0-0', 'wf-real-n0-0-flyte-secrets-0a1b2c3d4e');
    const first = await runFetcher(env);
    assert.equal(first.code, 0, describeRun(first));
    const secret = await core.readNamespacedSecret({ namespace: GRANTED, name: 'wf-real-n0-0-flyte-secrets-0a1b2c3d4e' });
    assert.equal(secret.immutable, true);
    assert.equal(secret.type, 'Opaque');
    assert.deepEqual(JSON.parse(JSON.stringify(secret.metadata?.ownerReferences)), [
      { apiVersion: 'v1', kind: 'Pod', name: pod.metadata?.name, uid: pod.metadata?.uid, controller: false, blockOwnerDeletion: false },
    ]);
    assert.equal(secret.metadata?.labels?.['app.kubernetes.io/managed-by'], 'dap-secret-webhook');
    assert.equal(Buffer.from(secret.data?.api_token ?? '', 'base64').toString(), `real-api-token-of-${GRANTED}`);

    const second = await runFetcher(env);
    assert.equal(second.code, 0, describeRun(second));
    const call = second.logs.find((l) => l.msg === 'kubernetes call');
    assert.equal(call?.status, 409);
    assert.ok(second.logs.some((l) => String(l.msg).includes('already exists')));
  });

  it('a namespace without the fetcher grant: exit 1, naming the Secret and the missing permission', async function () {
    const { env } = await podAndEnv(NOT_GRANTED, 'wf-nogrant-n0-0', 'wf-nogrant-n0-0-flyte-secrets-5f6a7b8c9d');
    const run = await runFetcher(env);
    assert.equal(run.code, 1, describeRun(run));
    assert.match(run.stderr, /Kubernetes denied creating Secret `fetcher-it-no-grant\/wf-nogrant-n0-0-flyte-secrets-5f6a7b8c9d`/);
    assert.match(run.stderr, /HTTP 403/);
    assert.match(run.stderr, /"create" on "secrets" in namespace `fetcher-it-no-grant`/);
    assert.equal(await readFile(env.DAP_TERMINATION_LOG as string, 'utf8'), run.stderr.trim());
  });
});
