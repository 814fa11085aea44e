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
import { CoreV1Api, KubeConfig, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { createNamespace, readPod } from '../../e2e/harness/cluster.js';
import type { ControlPlane } from '../../e2e/harness/controlPlane.js';
import { caFetch } from '../../e2e/harness/https.js';
import { applyManifests } from '../../e2e/harness/manifests.js';
import { grantFetcherRbac } from '../../e2e/harness/rbac.js';
import { START_TIMEOUT_MS, sharedControlPlane } from '../../e2e/harness/shared.js';
import { mintPodToken } from '../../e2e/harness/tokens.js';
import { waitFor } from '../../e2e/harness/wait.js';
import { type MlpPeer, startMlp } from '../../support/mlp/index.js';
import { describeRun, ensureExecutable, planJson, ROOT, runFetcher } from './world.js';

const GRANTED = 'fetcher-it-granted';
const NOT_GRANTED = 'fetcher-it-no-grant';
/** Granted, and guarded by deploy/'s fetcher Secret policy. */
const GUARDED = 'fetcher-it-policy';
const MLP_AUDIENCE = 'api.caraml';
const POLICY_FILE = join(ROOT, 'deploy/kustomize/base/fetcher-secret-policy.yaml');
/** Cluster-scoped: a name of its own, so other suites' copies of the policy are left alone. */
const POLICY_NAME = 'fetcher-it-secret-policy';

/** deploy/'s ValidatingAdmissionPolicy and its binding, as they are, renamed and bound to `namespace`. */
async function secretPolicyFor(namespace: string): Promise<string> {
  const objects = parseAllDocuments(await readFile(POLICY_FILE, 'utf8')).map(
    (d) => d.toJS() as KubernetesObject & { spec: Record<string, any> },
  );
  for (const obj of objects) {
    obj.metadata!.name = POLICY_NAME;
    if (obj.kind === 'ValidatingAdmissionPolicyBinding') {
      obj.spec.policyName = POLICY_NAME;
      obj.spec.matchResources = {
        namespaceSelector: {
          matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [namespace] }],
        },
      };
    }
  }
  return objects.map((o) => stringify(o)).join('---\n');
}

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
    for (const ns of [GRANTED, NOT_GRANTED, GUARDED]) await createNamespace(cp.kubeConfig, ns);
    await grantFetcherRbac(cp.kubeConfig, GRANTED);
    await grantFetcherRbac(cp.kubeConfig, GUARDED);
    await applyManifests(cp.kubeConfig, await secretPolicyFor(GUARDED), { source: POLICY_FILE });
    mlp = await startMlp({
      jwks: new URL(cp.jwksUrl),
      jwksFetch: caFetch(cp.caPem),
      issuer: cp.issuer,
      audience: MLP_AUDIENCE,
    });
    for (const ns of [GRANTED, NOT_GRANTED, GUARDED]) {
      mlp.data.addProject({
        name: ns,
        readers: [`system:serviceaccount:${ns}:default`],
        secrets: { api_token: `real-api-token-of-${ns}`, password: 'real-api-password' },
      });
    }
    dir = await mkdtemp(join(tmpdir(), 'dap-fetcher-real-api-'));
  });

  after(async function () {
    await mlp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** A stored pod (never scheduled: no kubelet needed) and the env its fetcher would get, with pod-bound tokens. */
  async function podAndEnv(
    namespace: string,
    name: string,
    secretName: string,
  ): Promise<{ pod: V1Pod; env: Record<string, string> }> {
    await core.createNamespacedPod({
      namespace,
      body: { metadata: { name }, spec: { containers: [{ name: 'task', image: 'registry.invalid/task:1' }] } },
    });
    const pod = await readPod(cp.kubeConfig, namespace, name);
    const podDir = join(dir, `${namespace}-${name}`);
    await mkdir(join(podDir, 'volume'), { recursive: true });
    await writeFile(
      join(podDir, 'mlp-token'),
      (await mintPodToken(cp.kubeConfig, pod, { audiences: [MLP_AUDIENCE] })).token,
    );
    await writeFile(join(podDir, 'kube-token'), (await mintPodToken(cp.kubeConfig, pod)).token);
    const env = {
      DAP_PLAN: planJson(
        {
          project: namespace,
          secret: {
            name: secretName,
            keys: [
              ['api_token', 'api_token'],
              ['password', 'password'],
            ],
          },
        },
        join(podDir, 'volume'),
      ),
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
    const secret = await core.readNamespacedSecret({
      namespace: GRANTED,
      name: 'wf-real-n0-0-flyte-secrets-0a1b2c3d4e',
    });
    assert.equal(secret.immutable, true);
    assert.equal(secret.type, 'Opaque');
    assert.deepEqual(JSON.parse(JSON.stringify(secret.metadata?.ownerReferences)), [
      {
        apiVersion: 'v1',
        kind: 'Pod',
        name: pod.metadata?.name,
        uid: pod.metadata?.uid,
        controller: false,
        blockOwnerDeletion: false,
      },
    ]);
    assert.equal(secret.metadata?.labels?.['app.kubernetes.io/managed-by'], 'dap-secret-webhook');
    assert.equal(Buffer.from(secret.data?.api_token ?? '', 'base64').toString(), `real-api-token-of-${GRANTED}`);

    const second = await runFetcher(env);
    assert.equal(second.code, 0, describeRun(second));
    const call = second.logs.find((l) => l.msg === 'kubernetes call');
    assert.equal(call?.status, 409);
    assert.ok(
      second.logs.some(
        (l) =>
          l.level === 'warn' &&
          String(l.msg).includes('found the pod secret already there') &&
          String(l.msg).includes('expected when the kubelet runs this init container again'),
      ),
    );
  });

  it('a namespace without the fetcher grant: exit 1, naming the Secret and the missing permission', async function () {
    const { env } = await podAndEnv(NOT_GRANTED, 'wf-nogrant-n0-0', 'wf-nogrant-n0-0-flyte-secrets-5f6a7b8c9d');
    const run = await runFetcher(env);
    assert.equal(run.code, 1, describeRun(run));
    assert.match(
      run.stderr,
      /Kubernetes denied creating Secret `fetcher-it-no-grant\/wf-nogrant-n0-0-flyte-secrets-5f6a7b8c9d`/,
    );
    assert.match(run.stderr, /HTTP 403/);
    assert.match(run.stderr, /"create" on "secrets" in namespace `fetcher-it-no-grant`/);
    assert.equal(await readFile(env.DAP_TERMINATION_LOG as string, 'utf8'), run.stderr.trim());
  });

  it("under deploy/'s Secret policy: a Secret not named after the pod is refused, naming the policy and its rule; the pod's own is created", async function () {
    const { pod, env } = await podAndEnv(GUARDED, 'wf-guarded-n0-0', 'wf-other-n0-0-flyte-secrets-0a1b2c3d4e');
    // The admission plugin picks a new policy up asynchronously: wait until it refuses this pod's dry run.
    const asPod = new KubeConfig();
    asPod.loadFromOptions({
      clusters: [{ name: 'it', server: cp.apiUrl, caData: Buffer.from(cp.caPem).toString('base64') }],
      users: [{ name: 'pod', token: await readFile(env.DAP_KUBE_TOKEN_FILE as string, 'utf8') }],
      contexts: [{ name: 'it', cluster: 'it', user: 'pod' }],
      currentContext: 'it',
    });
    const probe = {
      metadata: {
        name: 'not-a-fetcher-name',
        ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: pod.metadata!.name!, uid: pod.metadata!.uid! }],
      },
      type: 'Opaque',
    };
    await waitFor(
      async () => {
        try {
          await asPod
            .makeApiClient(CoreV1Api)
            .createNamespacedSecret({ namespace: GUARDED, body: probe, dryRun: 'All' });
          return undefined;
        } catch (err) {
          return (err as { code?: number }).code === 403 ? true : undefined;
        }
      },
      { what: 'the fetcher Secret policy to take effect', timeoutMs: 30_000, intervalMs: 200 },
    );

    const refused = await runFetcher(env);
    assert.equal(refused.code, 1, describeRun(refused));
    assert.match(
      refused.stderr,
      /the admission policy `fetcher-it-secret-policy` refused creating Secret `fetcher-it-policy\/wf-other-n0-0-flyte-secrets-0a1b2c3d4e`: pod wf-guarded-n0-0 may create only its own per-pod Secret/,
    );
    assert.match(refused.stderr, /\(HTTP 403\)/);
    assert.match(refused.stderr, /named like its own name: `wf-guarded-n0-0-flyte-secrets-<10 hex>`/);
    assert.doesNotMatch(refused.stderr, /"create" on "secrets"/, 'not an RBAC problem');

    const own = JSON.parse(env.DAP_PLAN as string);
    own.secret.name = 'wf-guarded-n0-0-flyte-secrets-0a1b2c3d4e';
    const created = await runFetcher({ ...env, DAP_PLAN: JSON.stringify(own) });
    assert.equal(created.code, 0, describeRun(created));
  });
});
