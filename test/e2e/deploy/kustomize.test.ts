/**
 * The plain manifests: the kustomize base and the example overlay pass server-side dry-run and
 * the install invariants, and the base is the same install as the chart's defaults (no drift).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type {
  KubernetesObject,
  V1CronJob,
  V1Job,
  V1Namespace,
  V1NetworkPolicy,
  V1RoleBinding,
} from '@kubernetes/client-node';
import type { ControlPlane } from '../harness/controlPlane.js';
import { parseManifests } from '../harness/manifests.js';
import { START_TIMEOUT_MS, sharedControlPlane } from '../harness/shared.js';
import { createIfAbsent, dryRunCreate, ensureNamespace } from './cluster.js';
import { assertInstallInvariants, configOf, FETCHER_RULES } from './invariants.js';
import { hookOf, normalRules, ofKind, one, webhookDeployment, webhookEnv } from './objects.js';
import {
  helmTemplate,
  KUSTOMIZE_BASE,
  KUSTOMIZE_OVERLAY,
  kustomizeBuild,
  PROVISION_TIMEOUT_MS,
  type Rendered,
} from './tools.js';

const NS = 'dap-secret-webhook';
const KUSTOMIZE_SELF_REGISTRATION = join(KUSTOMIZE_OVERLAY, '../self-registration');
const OVERLAY_FLYTE_NAMESPACES = ['my-project-development', 'my-project-staging', 'my-project-production'];

/**
 * An object without what legitimately differs between the installs: top-level labels and
 * annotations (Helm's vs kustomize's), and pod-template labels beyond the selector ones.
 */
function comparable(obj: KubernetesObject): unknown {
  const { metadata, ...rest } = structuredClone(obj) as KubernetesObject & Record<string, unknown>;
  const strip = (o: unknown): unknown => {
    if (Array.isArray(o)) return o.map(strip);
    if (o && typeof o === 'object')
      return Object.fromEntries(
        Object.entries(o).map(([k, v]) => [k, k === 'labels' ? selectorLabelsOnly(v) : strip(v)]),
      );
    return o;
  };
  return { kind: obj.kind, name: metadata?.name, namespace: metadata?.namespace, ...(strip(rest) as object) };
}

function selectorLabelsOnly(labels: unknown): Record<string, string> {
  return Object.fromEntries(
    Object.entries(labels as Record<string, string>).filter(
      ([k]) => k === 'app.kubernetes.io/name' || k === 'app.kubernetes.io/instance',
    ),
  );
}

describe('deploy: kustomize base and overlay on a real API server', function () {
  let cp: ControlPlane;
  let base: Rendered;
  let overlay: Rendered;

  before(async function () {
    this.timeout(START_TIMEOUT_MS + PROVISION_TIMEOUT_MS);
    cp = await sharedControlPlane();
    base = await kustomizeBuild(KUSTOMIZE_BASE);
    overlay = await kustomizeBuild(KUSTOMIZE_OVERLAY);
    // The base's own Namespace for real (a dry-run namespace cannot hold dry-run objects).
    await createIfAbsent(cp.kubeConfig, one<V1Namespace>(base.objects, 'Namespace'));
    for (const ns of OVERLAY_FLYTE_NAMESPACES) await ensureNamespace(cp.kubeConfig, ns);
  });

  it('the base: every object passes server-side dry-run', async function () {
    this.timeout(60_000);
    for (const obj of base.objects.filter((o) => o.kind !== 'Namespace')) await dryRunCreate(cp.kubeConfig, obj);
  });

  it('the overlay: every object passes server-side dry-run', async function () {
    this.timeout(60_000);
    for (const obj of overlay.objects.filter((o) => o.kind !== 'Namespace')) await dryRunCreate(cp.kubeConfig, obj);
  });

  it('the base namespace enforces Pod Security restricted, so the API server checks the pods too', () => {
    const ns = one<V1Namespace>(base.objects, 'Namespace');
    assert.equal(ns.metadata!.labels!['pod-security.kubernetes.io/enforce'], 'restricted');
  });

  it('base and overlay keep the install invariants', () => {
    for (const rendered of [base, overlay])
      assertInstallInvariants(rendered.objects, { namespace: NS, fetcherClusterRole: 'dap-secret-webhook-fetcher' });
  });

  it('deploy/kustomize/base/fetcher-rbac.yaml alone is the fetcher ClusterRole: create secrets, nothing else', async () => {
    const standalone = parseManifests(await readFile(join(KUSTOMIZE_BASE, 'fetcher-rbac.yaml'), 'utf8'));
    assert.equal(standalone.length, 1);
    const role = one<KubernetesObject & { rules: [] }>(standalone, 'ClusterRole', 'dap-secret-webhook-fetcher');
    assert.deepEqual(normalRules(role.rules), normalRules(FETCHER_RULES));
  });

  it("the overlay's Secret policies (fetcher, certs Jobs) and their bindings are the chart's for the same namespaces", async function () {
    this.timeout(PROVISION_TIMEOUT_MS);
    const chart = await helmTemplate('dap-secret-webhook', NS, {
      fetcher: { image: 'f:1', rbac: { namespaces: OVERLAY_FLYTE_NAMESPACES } },
      mlp: { apiHost: 'http://mlp:8080' },
    });
    for (const name of ['dap-secret-webhook-fetcher-secrets', 'dap-secret-webhook-certs-secrets']) {
      assert.deepEqual(
        comparable(one(overlay.objects, 'ValidatingAdmissionPolicy', name)),
        comparable(one(chart.objects, 'ValidatingAdmissionPolicy', name)),
        name,
      );
    }
    for (const name of [
      'dap-secret-webhook-fetcher-secrets',
      'dap-secret-webhook-fetcher-secrets-labelled',
      'dap-secret-webhook-certs-secrets',
    ]) {
      assert.deepEqual(
        comparable(one(overlay.objects, 'ValidatingAdmissionPolicyBinding', name)),
        comparable(one(chart.objects, 'ValidatingAdmissionPolicyBinding', name)),
        name,
      );
    }
  });

  it('the overlay sets the images, MLP and the fetcher RoleBindings', () => {
    const config = configOf(overlay.objects);
    assert.equal(config.injection.fetcher.image, 'registry.example.com/caraml/dap-secret-fetcher:0.1.0');
    assert.equal(config.injection.mlp.projectSource, 'project-label');
    const deployment = webhookDeployment(overlay.objects);
    assert.equal(
      deployment.spec!.template.spec!.containers[0]!.image,
      'registry.example.com/caraml/dap-secret-webhook:0.1.0',
    );
    for (const cron of ofKind<V1CronJob>(overlay.objects, 'CronJob')) {
      assert.equal(
        cron.spec!.jobTemplate.spec!.template.spec!.containers[0]!.image,
        'registry.example.com/caraml/dap-secret-webhook:0.1.0',
        'the certs CronJob runs the same image',
      );
    }
    const bindings = ofKind<V1RoleBinding>(overlay.objects, 'RoleBinding').filter(
      (b) => b.roleRef.name === 'dap-secret-webhook-fetcher',
    );
    assert.deepEqual(bindings.map((b) => b.metadata!.namespace).sort(), [...OVERLAY_FLYTE_NAMESPACES].sort());
    // The one value that lets only the API server reach the admission port, set by a patch of the base's policy.
    const policy = one<V1NetworkPolicy>(overlay.objects, 'NetworkPolicy');
    assert.deepEqual((policy.spec!.ingress![0] as { from?: unknown }).from, [{ ipBlock: { cidr: '10.0.0.0/8' } }]);
    assert.deepEqual(
      one<V1NetworkPolicy>(base.objects, 'NetworkPolicy').spec!.ingress,
      [{ ports: [{ port: 'https', protocol: 'TCP' }] }],
      'the base: admission port open, metrics port closed to pods',
    );
    // Only the overlay's env changes: every other variable keeps the base's value.
    const baseEnv = webhookEnv(webhookDeployment(base.objects));
    const overlayEnv = webhookEnv(deployment);
    const changed = Object.keys(baseEnv)
      .filter((k) => baseEnv[k] !== overlayEnv[k])
      .sort();
    assert.deepEqual(changed, ['FETCHER_IMAGE', 'MLP_PROJECT_SOURCE']);
  });

  /**
   * The kustomize objects are the chart's non-hook objects; the one-shot certs Job runs what the
   * chart's hook `hookJobName` runs. `envInAnyOrder`: a strategic-merge patch of one env var moves
   * it (no variable refers to another, so the order does not matter).
   */
  async function assertSameInstall(
    kustomized: Rendered,
    chartValues: object,
    hookJobName: string,
    envInAnyOrder = false,
  ): Promise<void> {
    const sortEnv = (o: unknown): unknown => {
      if (!envInAnyOrder) return o;
      const copy = structuredClone(o) as KubernetesObject & {
        spec?: { template?: { spec?: { containers?: { env?: { name: string }[] }[] } } };
      };
      for (const c of copy.spec?.template?.spec?.containers ?? []) c.env?.sort((a, b) => a.name.localeCompare(b.name));
      return copy;
    };
    const env = webhookEnv(webhookDeployment(kustomized.objects));
    const chart = await helmTemplate('dap-secret-webhook', NS, {
      fetcher: { image: env.FETCHER_IMAGE },
      mlp: { apiHost: env.MLP_API_HOST },
      // kubectl has no uninstall hook; the README says how to remove the configuration.
      webhook: { unregisterOnUninstall: false },
      ...chartValues,
    });
    const chartObjects = chart.objects.filter((o) => hookOf(o) === undefined);
    const key = (o: KubernetesObject) => `${o.kind}/${o.metadata!.namespace ?? ''}/${o.metadata!.name}`;
    const ours = kustomized.objects.filter(
      (o) => o.kind !== 'Namespace' && !(o.kind === 'Job' && o.metadata!.name === 'dap-secret-webhook-certs-init'),
    );
    assert.deepEqual(ours.map(key).sort(), chartObjects.map(key).sort(), 'the same objects');
    for (const obj of ours) {
      const twin = chartObjects.find((o) => key(o) === key(obj))!;
      assert.deepEqual(
        sortEnv(comparable(obj)),
        sortEnv(comparable(twin)),
        `${key(obj)} differs between kustomize and the chart`,
      );
    }
    const initJob = one<V1Job>(kustomized.objects, 'Job', 'dap-secret-webhook-certs-init');
    const hookJob = one<V1Job>(chart.objects, 'Job', hookJobName);
    const podSpec = (j: V1Job) => ({ ...j.spec!.template.spec!, serviceAccountName: undefined });
    assert.deepEqual(
      podSpec(initJob),
      podSpec(hookJob),
      `the install Job runs what the chart's hook ${hookJobName} runs`,
    );
    assert.equal(
      initJob.spec!.template.spec!.serviceAccountName,
      'dap-secret-webhook-certs',
      "as the renewal CronJob's ServiceAccount",
    );
  }

  it('the base is the same install as the chart defaults (release and namespace dap-secret-webhook)', async function () {
    this.timeout(PROVISION_TIMEOUT_MS);
    // The base's one Job does what the chart's two hook Jobs do; like the post-install one it needs
    // the configuration to exist (it retries until kubectl has created it).
    await assertSameInstall(base, {}, 'dap-secret-webhook-certs-cabundle');
  });

  it('overlays/self-registration (the component) is the chart with webhook.register=true', async function () {
    this.timeout(PROVISION_TIMEOUT_MS);
    const selfRegistration = await kustomizeBuild(KUSTOMIZE_SELF_REGISTRATION);
    for (const obj of selfRegistration.objects.filter((o) => o.kind !== 'Namespace'))
      await dryRunCreate(cp.kubeConfig, obj);
    assertInstallInvariants(selfRegistration.objects, {
      namespace: NS,
      fetcherClusterRole: 'dap-secret-webhook-fetcher',
    });
    assert.equal(webhookEnv(webhookDeployment(selfRegistration.objects)).WEBHOOK_REGISTER, 'true');
    await assertSameInstall(
      selfRegistration,
      { webhook: { register: true, unregisterOnUninstall: false } },
      'dap-secret-webhook-certs-hook',
      true,
    );
  });
});
