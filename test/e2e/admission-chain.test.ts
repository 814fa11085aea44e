/**
 * The webhook inside the real API server's admission chain (issue 11 item 1). After the mutating
 * webhooks, kube-apiserver re-runs its in-tree mutating plugins; the ServiceAccount plugin adds
 * its token mount to every container with nothing at /var/run/secrets/kubernetes.io/serviceaccount.
 * Had it changed our fetcher, the API server would call the webhook again (reinvocationPolicy
 * IfNeeded) and, because it also drops `value: ""`, a wiring that told absent from empty would
 * warn on every FILE pod. Here: one call per pod, no warnings, in the common shapes.
 */
import assert from 'node:assert/strict';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { createNamespace, readPod } from './harness/cluster.js';
import type { ControlPlane } from './harness/controlPlane.js';
import { flytePropellerPod, vector } from './harness/flytePod.js';
import { FETCHER_CONTAINER } from './harness/kubelet.js';
import { START_TIMEOUT_MS, sharedControlPlane } from './harness/shared.js';
import { DIGEST_PIN_LABEL, PINNED_DIGEST, startDigestPinningWebhook } from './harness/sidecarWebhook.js';
import { waitFor } from './harness/wait.js';
import { type RunningWebhook, startWebhook } from './harness/webhook.js';

const NS = 'admission-chain';
const SA_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
const FETCHER_IMAGE = 'registry.example/dap-secret-fetcher:e2e';

/** Admission requests the webhook has answered so far, all outcomes (its own Prometheus counter). */
async function webhookCalls(webhook: RunningWebhook): Promise<number> {
  const text = await (await fetch(webhook.healthUrl.replace(/\/readyz$/, '/metrics'))).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('dap_secret_webhook_admission_requests_total{'))
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

describe('e2e: one webhook call and no warnings per pod through the real admission chain (ServiceAccount plugin re-run, value "" dropped)', function () {
  let cp: ControlPlane;
  let core: CoreV1Api;
  let webhook: RunningWebhook;

  before(async function () {
    this.timeout(START_TIMEOUT_MS);
    cp = await sharedControlPlane();
    core = cp.kubeConfig.makeApiClient(CoreV1Api);
    await createNamespace(cp.kubeConfig, NS);
    webhook = await startWebhook(cp, {
      mlpApiHost: 'http://mlp.invalid:8080', // admission never calls MLP
      fetcherImage: FETCHER_IMAGE,
      // Only this namespace: other files' pods are not ours to count.
      env: { WEBHOOK_NAMESPACE_SELECTOR: JSON.stringify({ matchLabels: { 'kubernetes.io/metadata.name': NS } }) },
    });
    // The API server learns of a new configuration through an informer: wait until a dry run is injected.
    const probe = flytePropellerPod({
      name: 'probe',
      project: 'p',
      domain: 'd',
      secrets: [vector('group+key FILE').annotation_value],
    });
    await waitFor(
      async () =>
        (await core.createNamespacedPod({ namespace: NS, body: probe, dryRun: 'All' })).spec?.initContainers?.some(
          (c) => c.name === FETCHER_CONTAINER,
        )
          ? true
          : undefined,
      {
        what: 'the API server to call the newly registered webhook',
        timeoutMs: 30_000,
      },
    );
  });

  after(async function () {
    this.timeout(30_000);
    await webhook?.stop();
    await webhook?.deleteRegistration().catch(() => {});
  });

  /** Creates the pod and returns what the creator sees: the stored pod, the API server's warnings, the webhook calls it took. */
  async function create(body: V1Pod): Promise<{ stored: V1Pod; warnings: string; calls: number }> {
    const before = await webhookCalls(webhook);
    const response = await core.createNamespacedPodWithHttpInfo({ namespace: NS, body });
    const calls = (await webhookCalls(webhook)) - before;
    return {
      stored: await readPod(cp.kubeConfig, NS, body.metadata!.name!),
      warnings: response.headers.warning ?? '',
      calls,
    };
  }

  const cases: [what: string, pod: () => V1Pod][] = [
    [
      'a FILE secret (FLYTE_SECRETS_FILE_PREFIX: "")',
      () =>
        flytePropellerPod({
          name: 'file-only',
          project: 'p',
          domain: 'd',
          secrets: [vector('group+key FILE').annotation_value],
        }),
    ],
    [
      'ENV_VAR, FILE, group_version and env_var secrets together',
      () =>
        flytePropellerPod({
          name: 'mixed',
          project: 'p',
          domain: 'd',
          secrets: [
            'group+key ENV_VAR',
            'group_version set (FILE)',
            "k8s_secrets_test.go 'require file single with env var'",
            'env_var custom name, ENV_VAR (flyteidl>=1.15.0)',
          ].map((n) => vector(n).annotation_value),
        }),
    ],
    [
      'automountServiceAccountToken: false',
      () => {
        const pod = flytePropellerPod({
          name: 'no-automount',
          project: 'p',
          domain: 'd',
          secrets: [vector('group+key FILE').annotation_value, vector('group+key ENV_VAR').annotation_value],
        });
        pod.spec!.automountServiceAccountToken = false;
        return pod;
      },
    ],
  ];

  for (const [what, pod] of cases) {
    it(`${what}: injected in one call, no warnings, the ServiceAccount plugin leaves the fetcher alone`, async () => {
      const { stored, warnings, calls } = await create(pod());
      const fetcher = stored.spec?.initContainers?.find((c) => c.name === FETCHER_CONTAINER);
      assert.ok(fetcher, 'the fetcher was injected');
      assert.equal(warnings, '', 'the API server passed on no admission warnings');
      assert.equal(calls, 1, 'the webhook was called once for this pod (no reinvocation)');
      // What the plugin would otherwise have added: only our identity volume is mounted at its path.
      assert.deepEqual(
        fetcher.volumeMounts?.filter((m) => m.mountPath === SA_PATH).map((m) => m.name),
        ['dap-fetcher-identity'],
      );
      const automount = stored.spec?.automountServiceAccountToken !== false;
      const taskMounts = stored.spec!.containers[0]!.volumeMounts ?? [];
      assert.equal(
        taskMounts.some((m) => m.mountPath === SA_PATH && m.name.startsWith('kube-api-access-')),
        automount,
        'the task container keeps exactly what the plugin gives it',
      );
    });
  }

  it('a later webhook that pins the fetcher image to a digest (Kyverno mutateDigest): called again, trusts it, no warnings', async function () {
    this.timeout(60_000);
    const pinner = await startDigestPinningWebhook(cp);
    try {
      const body = flytePropellerPod({
        name: 'pinned',
        project: 'p',
        domain: 'd',
        secrets: [vector('group+key FILE').annotation_value],
      });
      body.metadata!.labels = { ...body.metadata!.labels, [DIGEST_PIN_LABEL]: 'true' };
      // The API server learns of the new configuration through an informer: wait until it calls the pinner
      // (a denial of the dry run is the real create's to report, below).
      await waitFor(
        async () => {
          await core.createNamespacedPod({ namespace: NS, body, dryRun: 'All' }).catch(() => {});
          return pinner.calls > 0 ? true : undefined;
        },
        { what: 'the API server to call the digest-pinning webhook', timeoutMs: 30_000 },
      );
      const { stored, warnings, calls } = await create(body);
      const fetcher = stored.spec?.initContainers?.find((c) => c.name === FETCHER_CONTAINER);
      assert.equal(fetcher?.image, `${FETCHER_IMAGE}@${PINNED_DIGEST}`, 'the stored fetcher runs the pinned image');
      assert.equal(warnings, '');
      assert.equal(
        calls,
        2,
        'our webhook was called again after the pin (reinvocationPolicy IfNeeded) and let the pod through',
      );
    } finally {
      await pinner.close();
    }
  });
});
