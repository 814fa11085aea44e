/**
 * The built fetcher (dist/dap-secret-fetcher) against the real MLP server behind the CaraML-like
 * gateway: the pod's projected service-account token is the credential, MLP's own project lists
 * decide, and the values come out of MLP's database. The Kubernetes Secrets API is the stand-in
 * in test/support/kube-api (the end-to-end suite runs the same against a real API server).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FETCHER_ENV } from '../../../contract/fetcher-env.js';
import { createCertificateAuthority } from '../../support/k8s/pki.js';
import { type KubeSecretsApi, startKubeSecretsApi } from '../../support/kube-api/secrets.js';
import { createJwtIssuer, type JwtIssuer, serviceAccountClaims } from '../../support/oidc/jwt-issuer.js';
import { type RealMlpPeer, startRealMlpPeer } from '../../support/real-mlp/peer.js';
import { describeRun, ensureExecutable, type PlanSpec, planJson, runFetcher } from '../fetcher/world.js';

const START_TIMEOUT_MS = 20 * 60 * 1000;
const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const AUDIENCE = 'api.caraml';
const KUBE_TOKEN = 'kube-api-token-real-mlp-not-for-logs';
const SERVICE_ACCOUNT = 'flyte-task';
const EXIT = { ok: 0, failed: 1 };

const identityIn = (namespace: string) => `system:serviceaccount:${namespace}:${SERVICE_ACCOUNT}`;

/** Values that must reach the pod and nothing else. */
const ADS_VALUES = { 'db-password': 'ads-db-7d41c9', 'api-token': 'ads-token-0b3e55' };
const RANKING_VALUES = { 'db-password': 'ranking-db-WRONG-PROJECT', 'api-token': 'ranking-token-WRONG-PROJECT' };

describe('dap-secret-fetcher against the real MLP (through the gateway)', function () {
  this.timeout(60_000);
  let peer: RealMlpPeer;
  let kube: KubeSecretsApi;
  let cluster: JwtIssuer;
  let dir: string;
  let caFile: string;

  before(async function () {
    this.timeout(START_TIMEOUT_MS);
    ensureExecutable();
    dir = await mkdtemp(join(tmpdir(), 'dap-real-mlp-fetcher-'));
    const ca = await createCertificateAuthority();
    caFile = join(dir, 'ca.crt');
    await writeFile(caFile, ca.certPem);
    kube = await startKubeSecretsApi({
      tls: await ca.issueServer('127.0.0.1', ['127.0.0.1', 'localhost']),
      token: KUBE_TOKEN,
    });
    cluster = await createJwtIssuer(ISSUER);
    peer = await startRealMlpPeer({ jwks: cluster.jwks, issuer: ISSUER, audience: AUDIENCE });
    // The longer name first, so MLP's prefix answer to ?name=ads lists it before `ads`; the pods in
    // `ads` may read both, so only an exact-name pick gives them the right values.
    await peer.seedProject({
      name: 'ads-ranking',
      readers: [identityIn('ads'), identityIn('ads-ranking')],
      secrets: RANKING_VALUES,
    });
    await peer.seedProject({ name: 'ads', readers: [identityIn('ads')], secrets: ADS_VALUES });
  });

  after(async function () {
    this.timeout(30_000);
    await peer?.close();
    await kube?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /**
   * One pod's init container: its projected token, volume and env, as the webhook would wire them.
   * `project` defaults to the namespace (the webhook's mapping); a different one plays a pod asking
   * for a project it may not read.
   */
  async function runPod(namespace: string, plan: Omit<PlanSpec, 'project'>, project = namespace) {
    const name = `wf-${randomUUID().slice(0, 8)}-n0-0`;
    const uid = randomUUID();
    const podDir = await mkdtemp(join(dir, `${namespace}-`));
    const volume = join(podDir, 'volume');
    await mkdir(volume);
    const tokenFile = join(podDir, 'mlp-token');
    const kubeTokenFile = join(podDir, 'kube-token');
    const token = await cluster.sign(serviceAccountClaims(namespace, SERVICE_ACCOUNT, AUDIENCE, name, uid));
    await writeFile(tokenFile, token);
    await writeFile(kubeTokenFile, KUBE_TOKEN);
    const run = await runFetcher({
      [FETCHER_ENV.plan]: planJson({ project, ...plan }, volume),
      [FETCHER_ENV.podName]: name,
      [FETCHER_ENV.podNamespace]: namespace,
      [FETCHER_ENV.podUid]: uid,
      [FETCHER_ENV.podServiceAccount]: SERVICE_ACCOUNT,
      [FETCHER_ENV.mlpApiHost]: peer.url,
      [FETCHER_ENV.authMode]: 'serviceaccount',
      [FETCHER_ENV.mlpTokenFile]: tokenFile,
      [FETCHER_ENV.tokenAudience]: AUDIENCE,
      [FETCHER_ENV.kubeApiUrl]: kube.url,
      [FETCHER_ENV.kubeTokenFile]: kubeTokenFile,
      [FETCHER_ENV.kubeCaFile]: caFile,
      [FETCHER_ENV.deadlineSeconds]: '20',
      [FETCHER_ENV.terminationLog]: join(podDir, 'termination-log'),
    });
    return { run, volume, token };
  }

  function assertNoLeak(output: string, token: string): void {
    for (const value of [...Object.values(ADS_VALUES), ...Object.values(RANKING_VALUES), token, KUBE_TOKEN]) {
      assert.ok(!output.includes(value), "no secret value or token in the fetcher's output");
    }
  }

  it('delivers FILE and ENV_VAR secrets from the exact project, not the one its name prefixes', async function () {
    const decisionsBefore = peer.decisions.length;
    const { run, volume, token } = await runPod('ads', {
      files: [['db-password', 'db/password']],
      secret: {
        name: 'ads-pod-secrets',
        keys: [
          ['api-token', 'api-token'],
          ['db-password', 'db-password'],
        ],
      },
    });
    assert.equal(run.code, EXIT.ok, describeRun(run));
    assert.equal(await readFile(join(volume, 'db/password'), 'utf8'), ADS_VALUES['db-password']);
    const data = kube.secrets.get('ads/ads-pod-secrets')?.body.data as Record<string, string>;
    assert.deepEqual(
      Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])),
      { 'api-token': ADS_VALUES['api-token'], 'db-password': ADS_VALUES['db-password'] },
    );
    // One project lookup and one secrets list, both forwarded under the pod's identity.
    const adsId = (await peer.mlp.client.listProjects('ads')).find((p) => p.name === 'ads')?.id;
    const forwarded = peer.decisions
      .slice(decisionsBefore)
      .filter((d) => d.outcome === 'forwarded' && d.identity === identityIn('ads'));
    assert.deepEqual(
      forwarded.map((d) => d.path),
      ['/v1/projects', `/v1/projects/${adsId}/secrets`],
    );
    assertNoLeak(run.stdout + run.stderr + run.termination, token);
  });

  it("reports an identity that is not among the project's readers, naming project and identity", async function () {
    // `ads-ranking`'s pods may read their own project but not `ads`: ask for `ads` from there.
    const { run, token } = await runPod('ads-ranking', { files: [['db-password', 'p']] }, 'ads');
    assert.equal(run.code, EXIT.failed, describeRun(run));
    assert.match(run.stderr, /MLP denied project `ads` to identity `system:serviceaccount:ads-ranking:flyte-task`/);
    assert.match(run.stderr, /HTTP 403/);
    assertNoLeak(run.stdout + run.stderr + run.termination, token);
  });

  it('names every missing secret at once', async function () {
    const { run } = await runPod('ads', {
      files: [
        ['db-password', 'a'],
        ['no-such-one', 'b'],
        ['nor-this', 'c'],
      ],
    });
    assert.equal(run.code, EXIT.failed, describeRun(run));
    assert.match(run.stderr, /no-such-one/);
    assert.match(run.stderr, /nor-this/);
    assert.doesNotMatch(run.stderr, /db-password/);
  });

  it("finds no project when the namespace is only a prefix of an existing project's name", async function () {
    const { run } = await runPod('ads-r', { files: [['db-password', 'p']] });
    assert.equal(run.code, EXIT.failed, describeRun(run));
    assert.match(run.stderr, /no MLP project named `ads-r`/);
  });
});
