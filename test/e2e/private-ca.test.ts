/**
 * MLP behind a private CA (issue 13): the real MLP behind its gateway, served over HTTPS with a
 * certificate from a CA of its own (as an ingress with the company CA would). The admin's
 * settings — FETCHER_CA_CONFIGMAP naming a ConfigMap in each task namespace, a pull secret for a
 * private fetcher image — go through the real API server; the fetcher, run as the kubelet would
 * with the ConfigMap projected into its identity volume, trusts that CA and only that CA; flytekit
 * reads the secrets. A namespace whose ConfigMap holds another CA fails at once, naming the setting.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { EXIT_CODES as FETCHER_EXIT } from '../../fetcher/errors.js';
import { createCertificateAuthority } from '../support/k8s/pki.js';
import { type RealMlpPeer, startRealMlpPeer } from '../support/real-mlp/peer.js';
import { createNamespace, readPod } from './harness/cluster.js';
import { createPodSandbox, type PodSandbox } from './harness/container.js';
import type { ControlPlane } from './harness/controlPlane.js';
import { runTaskStep } from './harness/flytekit.js';
import { flytePropellerPod, vector } from './harness/flytePod.js';
import { caFetch } from './harness/https.js';
import { FETCHER_CONTAINER, runFetcherStep } from './harness/kubelet.js';
import { grantFetcherRbac } from './harness/rbac.js';
import { START_TIMEOUT_MS, sharedControlPlane } from './harness/shared.js';
import { startTlsProxy, type TlsProxy } from './harness/tlsProxy.js';
import { type RunningWebhook, startWebhook } from './harness/webhook.js';

const PROJECT = 'tlssnacks';
const NS = `${PROJECT}-development`;
/** Same project name pattern, but its CA ConfigMap holds a CA that did not sign MLP's certificate. */
const WRONG_CA_NS = `${PROJECT}-staging`;
const AUDIENCE = 'api.caraml';
const CA_CONFIGMAP = 'mlp-ca';
const PULL_SECRET = 'fetcher-registry';
const FILE_SECRET = vector('group+key FILE');
const ENV_SECRET = vector('group+key ENV_VAR');
const VALUES: Record<string, string> = {
  [FILE_SECRET.secret.key!]: 'file value over private-CA TLS',
  [ENV_SECRET.secret.key!]: 'env value over private-CA TLS',
};

describe('e2e: MLP behind a private CA (HTTPS with a company CA; CA ConfigMap mounted into the fetcher only; pull secret)', function () {
  let cp: ControlPlane;
  let core: CoreV1Api;
  let mlp: RealMlpPeer;
  let proxy: TlsProxy;
  let webhook: RunningWebhook;
  const sandboxes: PodSandbox[] = [];

  const createPod = async (namespace: string, name: string): Promise<V1Pod> => {
    const body = flytePropellerPod({
      name,
      project: PROJECT,
      domain: namespace.slice(PROJECT.length + 1),
      secrets: [FILE_SECRET.annotation_value, ENV_SECRET.annotation_value],
    });
    await core.createNamespacedPod({ namespace, body });
    return readPod(cp.kubeConfig, namespace, name);
  };
  const sandboxFor = async (pod: V1Pod) => {
    const sandbox = await createPodSandbox(cp.kubeConfig, pod, join(cp.dir, 'sandboxes-private-ca'));
    sandboxes.push(sandbox);
    return sandbox;
  };

  before(async function () {
    this.timeout(START_TIMEOUT_MS);
    cp = await sharedControlPlane();
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
    mlp = await startRealMlpPeer({
      jwks: new URL(cp.jwksUrl),
      jwksFetch: caFetch(cp.caPem),
      issuer: cp.issuer,
      audience: AUDIENCE,
    });
    const companyCa = await createCertificateAuthority('company CA (MLP ingress)');
    proxy = await startTlsProxy(mlp.url, await companyCa.issueServer('mlp.internal', ['127.0.0.1']));
    const otherCa = await createCertificateAuthority('some other CA');
    for (const [namespace, caPem] of [
      [NS, companyCa.certPem],
      [WRONG_CA_NS, otherCa.certPem],
    ] as const) {
      await createNamespace(cp.kubeConfig, namespace);
      await grantFetcherRbac(cp.kubeConfig, namespace);
      // What the chart's fetcher.caBundle.pem (or a trust-manager Bundle) puts in each task namespace.
      await core.createNamespacedConfigMap({
        namespace,
        body: { metadata: { name: CA_CONFIGMAP }, data: { 'ca.crt': caPem } },
      });
      await mlp.seedProject({
        name: namespace,
        readers: [`system:serviceaccount:${namespace}:default`],
        secrets: VALUES,
      });
    }
    webhook = await startWebhook(cp, {
      mlpApiHost: proxy.url,
      env: {
        MLP_TOKEN_AUDIENCE: AUDIENCE,
        FETCHER_CA_CONFIGMAP: CA_CONFIGMAP,
        FETCHER_IMAGE_PULL_SECRETS: PULL_SECRET,
        WEBHOOK_NAMESPACE_SELECTOR: JSON.stringify({
          matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [NS, WRONG_CA_NS] }],
        }),
      },
    });
  });

  after(async function () {
    this.timeout(30_000);
    for (const s of sandboxes) await s.dispose();
    await webhook?.stop();
    await webhook?.deleteRegistration().catch(() => {});
    await proxy?.close();
    await mlp?.close();
  });

  it('the stored pod: the CA ConfigMap is projected into the fetcher only, NODE_EXTRA_CA_CERTS names it, the pull secret is on the pod; the fetcher reads MLP over HTTPS; flytekit finds both secrets', async function () {
    this.timeout(180_000);
    const pod = await createPod(NS, 'private-ca-a1-n0-0');
    assert.deepEqual(
      pod.spec!.imagePullSecrets?.map((s) => s.name),
      [PULL_SECRET],
    );
    const fetcher = pod.spec!.initContainers!.find((c) => c.name === FETCHER_CONTAINER)!;
    const caPath = fetcher.env!.find((e) => e.name === 'NODE_EXTRA_CA_CERTS')?.value;
    assert.ok(caPath, 'the fetcher has NODE_EXTRA_CA_CERTS');
    const identity = pod.spec!.volumes!.find((v) =>
      v.projected?.sources?.some((s) => s.configMap?.name === CA_CONFIGMAP),
    );
    assert.ok(identity, 'the CA ConfigMap is a source of a projected volume');
    assert.ok(
      fetcher.volumeMounts!.some((m) => m.name === identity.name && caPath.startsWith(`${m.mountPath}/`)),
      'mounted into the fetcher where NODE_EXTRA_CA_CERTS points',
    );
    for (const c of [
      ...pod.spec!.containers,
      ...pod.spec!.initContainers!.filter((x) => x.name !== FETCHER_CONTAINER),
    ]) {
      assert.ok(
        !(c.volumeMounts ?? []).some((m) => m.name === identity.name),
        `${c.name} does not mount the fetcher's identity volume`,
      );
      assert.ok(!(c.env ?? []).some((e) => e.name === 'NODE_EXTRA_CA_CERTS'), `${c.name} does not get the CA env`);
    }

    const sandbox = await sandboxFor(pod);
    const seenBefore = proxy.seen.length;
    const run = await runFetcherStep(sandbox, { apiUrl: cp.apiUrl, caFile: cp.caFile });
    assert.equal(run.exitCode, 0, `the fetcher failed: ${run.terminationMessage || run.stderr.slice(-2000)}`);
    assert.ok(
      proxy.seen.slice(seenBefore).some((r) => r.path.startsWith('/v1/projects')),
      'the fetcher reached MLP through the HTTPS front',
    );

    const result = await runTaskStep(
      sandbox,
      pod.spec!.containers[0]!.name,
      [FILE_SECRET, ENV_SECRET].map((v) => ({
        group: v.secret.group,
        key: v.secret.key,
        groupVersion: v.secret.group_version,
      })),
    );
    assert.deepEqual(
      result.secrets.map((s) => s.value),
      [VALUES[FILE_SECRET.secret.key!], VALUES[ENV_SECRET.secret.key!]],
    );
  });

  it('a namespace whose CA ConfigMap holds another CA: the fetcher fails at once (no retries), names the setting, and no request reaches MLP', async function () {
    this.timeout(120_000);
    const pod = await createPod(WRONG_CA_NS, 'private-ca-b2-n0-0');
    const sandbox = await sandboxFor(pod);
    const seenBefore = proxy.seen.length;
    const run = await runFetcherStep(sandbox, { apiUrl: cp.apiUrl, caFile: cp.caFile });
    assert.equal(run.exitCode, FETCHER_EXIT.failed, run.stderr);
    assert.match(
      run.terminationMessage,
      /presented a TLS certificate the fetcher does not accept \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/,
    );
    assert.match(run.terminationMessage, /FETCHER_CA_CONFIGMAP/);
    assert.ok(!/retrying/.test(run.stdout), 'a certificate verdict is not retried');
    assert.equal(proxy.seen.length, seenBefore, 'no request got past the TLS handshake');
    const secretName = JSON.parse(
      pod.spec!.initContainers!.find((c) => c.name === FETCHER_CONTAINER)!.env!.find((e) => e.name === 'DAP_PLAN')!
        .value!,
    ).secret.name as string;
    await assert.rejects(core.readNamespacedSecret({ namespace: WRONG_CA_NS, name: secretName }), 'no per-pod Secret');
  });
});
