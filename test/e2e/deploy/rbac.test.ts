/**
 * The chart's RBAC, applied for real and exercised with real ServiceAccount tokens: every
 * identity of the install can do its job and nothing next to it. The tests named "threat model:"
 * are the rows of deploy/README.md's threat-model table.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  AdmissionregistrationV1Api,
  ApiException,
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  type V1ClusterRoleBinding,
  type V1CronJob,
  type V1Job,
  type V1MutatingWebhookConfiguration,
  type V1Pod,
  type V1RoleBinding,
  type V1Secret,
} from '@kubernetes/client-node';
import { buildPodSecret } from '../../../fetcher/k8s-secret.js';
import { serviceDnsNames } from '../../../webhook/certs.js';
import { perPodSecretName } from '../../../webhook/mutate/inject.js';
import { applyConfiguration, desiredConfiguration } from '../../../webhook/server/registration.js';
import type { ControlPlane } from '../harness/controlPlane.js';
import { grantFetcherRbac } from '../harness/rbac.js';
import { START_TIMEOUT_MS, sharedControlPlane } from '../harness/shared.js';
import { mintPodToken } from '../harness/tokens.js';
import { waitFor } from '../harness/wait.js';
import { clientAs, createIfAbsent, ensureNamespace, statusOf } from './cluster.js';
import { configOf } from './invariants.js';
import { ofKind, one, webhookDeployment, webhookEnv } from './objects.js';
import { helmTemplate, PROVISION_TIMEOUT_MS, REPO_ROOT } from './tools.js';

const RELEASE = 'dsw-rbac';
const NS = 'dsw-rbac';
const FULLNAME = `${RELEASE}-dap-secret-webhook`;
/** A second install in register mode (webhook.register=true), apart so its grants never mix with the default's. */
const REG_RELEASE = 'dsw-reg';
const REG_NS = 'dsw-reg';
const REG_FULLNAME = `${REG_RELEASE}-dap-secret-webhook`;
// Configurations created for real here match no namespace, so no other test's pods are ever sent to their (absent) Service.
const NEVER = { matchLabels: { 'dap-deploy-test/never': 'true' } };
const FLYTE_NS = 'dsw-rbac-flyte';
const OTHER_NS = 'dsw-rbac-unbound';
const BUNDLE = join(REPO_ROOT, 'dist/webhook/dap-secret-webhook.mjs');
const RBAC_KINDS = new Set(['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding']);

describe('deploy: the chart RBAC with real ServiceAccount tokens', function () {
  let cp: ControlPlane;
  /** The chart's defaults (chart-rendered configuration), with one Flyte namespace. */
  let objects: KubernetesObject[];
  /** The same in register mode. */
  let registerObjects: KubernetesObject[];
  let admin: KubeConfig;

  before(async function () {
    this.timeout(START_TIMEOUT_MS + PROVISION_TIMEOUT_MS);
    cp = await sharedControlPlane();
    admin = cp.kubeConfig;
    for (const ns of [NS, REG_NS, FLYTE_NS, OTHER_NS]) await ensureNamespace(admin, ns);
    objects = (
      await helmTemplate(RELEASE, NS, {
        fetcher: { image: 'f:1', rbac: { namespaces: [FLYTE_NS] } },
        mlp: { apiHost: 'http://mlp:8080' },
      })
    ).objects;
    registerObjects = (
      await helmTemplate(REG_RELEASE, REG_NS, {
        fetcher: { image: 'f:1', rbac: { create: false } },
        mlp: { apiHost: 'http://mlp:8080' },
        webhook: { register: true },
      })
    ).objects;
    // Hooks included: they are the identities of the certs Jobs and the unregister Job.
    for (const obj of [...objects, ...registerObjects].filter((o) => RBAC_KINDS.has(o.kind!)))
      await createIfAbsent(admin, obj);
    // A second ServiceAccount a Flyte execution might choose.
    await createIfAbsent(admin, {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'flyte-task', namespace: FLYTE_NS },
    });
    // The chart's configuration, for real but matching no namespace.
    const mwc = structuredClone(one<V1MutatingWebhookConfiguration>(objects, 'MutatingWebhookConfiguration', FULLNAME));
    for (const w of mwc.webhooks ?? []) w.namespaceSelector = NEVER;
    await createIfAbsent(admin, mwc as KubernetesObject);
  });

  after(async () => {
    await statusOf(() =>
      admin.makeApiClient(AdmissionregistrationV1Api).deleteMutatingWebhookConfiguration({ name: FULLNAME }),
    );
  });

  describe('a task pod (the fetcher runs as its ServiceAccount)', () => {
    const secret = (name: string) => ({
      metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'dap-secret-fetcher' } },
      stringData: { k: 'v' },
    });

    it("can create its Secret in its namespace, with any of the namespace's ServiceAccounts", async () => {
      for (const sa of ['default', 'flyte-task']) {
        const core = (await clientAs(cp, FLYTE_NS, sa)).makeApiClient(CoreV1Api);
        assert.equal(
          await statusOf(() => core.createNamespacedSecret({ namespace: FLYTE_NS, body: secret(`created-by-${sa}`) })),
          200,
          sa,
        );
      }
    });

    it('cannot read, list, change or delete any Secret, not even the one it created', async () => {
      const core = (await clientAs(cp, FLYTE_NS, 'default')).makeApiClient(CoreV1Api);
      const name = 'created-by-default';
      assert.equal(await statusOf(() => core.readNamespacedSecret({ name, namespace: FLYTE_NS })), 403, 'get');
      assert.equal(await statusOf(() => core.listNamespacedSecret({ namespace: FLYTE_NS })), 403, 'list');
      assert.equal(
        await statusOf(() => core.listNamespacedSecret({ namespace: FLYTE_NS, watch: true, timeoutSeconds: 1 })),
        403,
        'watch',
      );
      assert.equal(await statusOf(() => core.listSecretForAllNamespaces()), 403, 'list across namespaces');
      assert.equal(
        await statusOf(() => core.replaceNamespacedSecret({ name, namespace: FLYTE_NS, body: secret(name) })),
        403,
        'update',
      );
      assert.equal(await statusOf(() => core.deleteNamespacedSecret({ name, namespace: FLYTE_NS })), 403, 'delete');
    });

    it('threat model, without the Secret policy (fetcher.secretPolicy.enabled=false): creates a service-account-token Secret and the control plane fills in a token', async function () {
      this.timeout(60_000);
      const core = (await clientAs(cp, FLYTE_NS, 'default')).makeApiClient(CoreV1Api);
      const body = {
        metadata: { name: 'planted-token', annotations: { 'kubernetes.io/service-account.name': 'flyte-task' } },
        type: 'kubernetes.io/service-account-token',
      };
      assert.equal(await statusOf(() => core.createNamespacedSecret({ namespace: FLYTE_NS, body })), 200);
      const adminCore = admin.makeApiClient(CoreV1Api);
      const filled = await waitFor(
        async () => (await adminCore.readNamespacedSecret({ name: 'planted-token', namespace: FLYTE_NS })).data?.token,
        { what: 'the token controller to fill in the planted Secret', timeoutMs: 30_000 },
      );
      assert.ok(filled.length > 100, 'a token for flyte-task, readable by anyone who can read or mount Secrets here');
    });

    it('cannot create Secrets in a namespace without the RoleBinding, nor anything else', async () => {
      const core = (await clientAs(cp, FLYTE_NS, 'default')).makeApiClient(CoreV1Api);
      assert.equal(
        await statusOf(() => core.createNamespacedSecret({ namespace: OTHER_NS, body: secret('elsewhere') })),
        403,
        'another namespace',
      );
      assert.equal(
        await statusOf(() =>
          core.createNamespacedConfigMap({ namespace: FLYTE_NS, body: { metadata: { name: 'cm' } } }),
        ),
        403,
        'configmaps',
      );
      assert.equal(
        await statusOf(() => core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: FLYTE_NS })),
        403,
        'read configmaps',
      );
      const unbound = (await clientAs(cp, OTHER_NS, 'default')).makeApiClient(CoreV1Api);
      assert.equal(
        await statusOf(() => unbound.createNamespacedSecret({ namespace: OTHER_NS, body: secret('unbound') })),
        403,
        'unbound namespace',
      );
    });
  });

  describe("the webhook's ServiceAccount, default mode (chart-rendered configuration)", () => {
    it('the webhook pod mounts no token and the chart gives its ServiceAccount no RBAC', () => {
      const deployment = webhookDeployment(objects);
      assert.equal(deployment.spec!.template.spec!.automountServiceAccountToken, false);
      assert.equal(webhookEnv(deployment).WEBHOOK_REGISTER, 'false');
      const subjects = [
        ...ofKind<V1RoleBinding>(objects, 'RoleBinding'),
        ...ofKind<V1ClusterRoleBinding>(objects, 'ClusterRoleBinding'),
      ].flatMap((b) => b.subjects ?? []);
      assert.ok(
        !subjects.some((x) => x.kind === 'ServiceAccount' && x.name === FULLNAME),
        'no binding names the webhook ServiceAccount',
      );
    });

    it("threat model: the webhook's ServiceAccount cannot write admissionregistration objects (even with a token minted for it)", async () => {
      const api = (await clientAs(cp, NS, FULLNAME)).makeApiClient(AdmissionregistrationV1Api);
      const other = {
        ...desiredConfiguration(
          { ...configOf(objects).registration, configurationName: 'dsw-rbac-attacker', namespaceSelector: NEVER },
          undefined,
        ),
      };
      assert.equal(
        await statusOf(() => api.createMutatingWebhookConfiguration({ body: other, dryRun: 'All' })),
        403,
        'create a MutatingWebhookConfiguration',
      );
      const own = await admin
        .makeApiClient(AdmissionregistrationV1Api)
        .readMutatingWebhookConfiguration({ name: FULLNAME });
      assert.equal(
        await statusOf(() => api.replaceMutatingWebhookConfiguration({ name: FULLNAME, body: own, dryRun: 'All' })),
        403,
        'update its own',
      );
      assert.equal(await statusOf(() => api.readMutatingWebhookConfiguration({ name: FULLNAME })), 403, 'read its own');
      assert.equal(
        await statusOf(() => api.deleteMutatingWebhookConfiguration({ name: FULLNAME, dryRun: 'All' })),
        403,
        'delete its own',
      );
      const validating = {
        metadata: { name: 'dsw-rbac-attacker' },
        webhooks: other.webhooks!.map(({ reinvocationPolicy: _r, ...w }) => w),
      };
      assert.equal(
        await statusOf(() => api.createValidatingWebhookConfiguration({ body: validating, dryRun: 'All' })),
        403,
        'create a ValidatingWebhookConfiguration',
      );
      const policy = {
        metadata: { name: 'dsw-rbac-attacker' },
        spec: {
          matchConstraints: {
            resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
          },
          validations: [{ expression: 'true' }],
        },
      };
      assert.equal(
        await statusOf(() => api.createValidatingAdmissionPolicy({ body: policy, dryRun: 'All' })),
        403,
        'create a ValidatingAdmissionPolicy',
      );
      const binding = {
        metadata: { name: 'dsw-rbac-attacker' },
        spec: { policyName: 'dsw-rbac-attacker', validationActions: ['Deny'] },
      };
      assert.equal(
        await statusOf(() => api.createValidatingAdmissionPolicyBinding({ body: binding, dryRun: 'All' })),
        403,
        'bind a policy',
      );
      const core = (await clientAs(cp, NS, FULLNAME)).makeApiClient(CoreV1Api);
      assert.equal(await statusOf(() => core.listNamespacedSecret({ namespace: NS })), 403, 'secrets');
    });
  });

  describe("the webhook's ServiceAccount, register mode (webhook.register=true)", () => {
    after(async () => {
      await statusOf(() =>
        admin.makeApiClient(AdmissionregistrationV1Api).deleteMutatingWebhookConfiguration({ name: REG_FULLNAME }),
      );
    });

    it('creates and then updates its MutatingWebhookConfiguration with the registration code', async () => {
      const settings = { ...configOf(registerObjects).registration, namespaceSelector: NEVER };
      assert.equal(settings.configurationName, REG_FULLNAME);
      assert.equal(webhookDeployment(registerObjects).spec!.template.spec!.automountServiceAccountToken, true);
      const api = (await clientAs(cp, REG_NS, REG_FULLNAME)).makeApiClient(AdmissionregistrationV1Api);
      const ca = Buffer.from('-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n').toString('base64');
      assert.equal(await applyConfiguration(api, settings, ca), 'created');
      assert.equal(await applyConfiguration(api, settings, ca), 'updated');
    });

    it('cannot read, change or delete any other configuration, nor delete or list its own', async () => {
      const api = (await clientAs(cp, REG_NS, REG_FULLNAME)).makeApiClient(AdmissionregistrationV1Api);
      assert.equal(
        await statusOf(() => api.readMutatingWebhookConfiguration({ name: 'someone-elses' })),
        403,
        'get another',
      );
      assert.equal(await statusOf(() => api.listMutatingWebhookConfiguration()), 403, 'list');
      assert.equal(
        await statusOf(() => api.deleteMutatingWebhookConfiguration({ name: REG_FULLNAME })),
        403,
        'delete its own',
      );
      assert.equal(
        await statusOf(() => api.patchMutatingWebhookConfiguration({ name: REG_FULLNAME, body: [] })),
        403,
        'patch',
      );
      const core = (await clientAs(cp, REG_NS, REG_FULLNAME)).makeApiClient(CoreV1Api);
      assert.equal(await statusOf(() => core.listNamespacedSecret({ namespace: REG_NS })), 403, 'secrets');
    });

    it('threat model, register mode: can create a configuration of another name — `create` cannot be limited by resourceNames (documented)', async () => {
      const api = (await clientAs(cp, REG_NS, REG_FULLNAME)).makeApiClient(AdmissionregistrationV1Api);
      const other: V1MutatingWebhookConfiguration = {
        ...desiredConfiguration(
          { ...configOf(registerObjects).registration, configurationName: 'another-name', namespaceSelector: NEVER },
          undefined,
        ),
      };
      assert.equal(await statusOf(() => api.createMutatingWebhookConfiguration({ body: other, dryRun: 'All' })), 200);
    });

    it("the unregister hook's ServiceAccount deletes exactly that configuration", async () => {
      const api = (await clientAs(cp, REG_NS, `${REG_FULLNAME}-unregister`)).makeApiClient(AdmissionregistrationV1Api);
      assert.equal(
        await statusOf(() => api.deleteMutatingWebhookConfiguration({ name: 'someone-elses' })),
        403,
        'another name',
      );
      assert.equal(await statusOf(() => api.readMutatingWebhookConfiguration({ name: REG_FULLNAME })), 403, 'no get');
      assert.equal(
        await statusOf(() => api.deleteMutatingWebhookConfiguration({ name: REG_FULLNAME })),
        200,
        'its own',
      );
    });

    it("the hook's command (`dap-secret-webhook unregister`) run as that ServiceAccount deletes it, then finds it gone; another name is refused with the reason", async function () {
      this.timeout(60_000);
      assert.ok(existsSync(BUNDLE), `${BUNDLE} is missing: run npm run build:webhook`);
      const adminApi = cp.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
      await applyConfiguration(
        adminApi,
        { ...configOf(registerObjects).registration, namespaceSelector: NEVER },
        undefined,
      );
      const dir = await mkdtemp(join(tmpdir(), 'dap-unregister-'));
      try {
        const kubeconfig = join(dir, 'unregister.kubeconfig');
        await writeFile(kubeconfig, (await clientAs(cp, REG_NS, `${REG_FULLNAME}-unregister`)).exportConfig(), {
          mode: 0o600,
        });
        const hook = one<V1Job>(registerObjects, 'Job', `${REG_FULLNAME}-unregister`).spec!.template.spec!
          .containers[0]!;
        const [, , ...args] = hook.command!; // [node, /app/dap-secret-webhook.mjs, unregister]
        const run = (name: string) =>
          promisify(execFile)(process.execPath, [BUNDLE, ...args], {
            env: { PATH: process.env.PATH, KUBECONFIG: kubeconfig, WEBHOOK_NAME: name },
            timeout: 30_000,
          }).then(
            (r) => ({ code: 0, ...r }),
            (e: { code: number; stdout: string; stderr: string }) => ({
              code: e.code,
              stdout: e.stdout,
              stderr: e.stderr,
            }),
          );
        assert.deepEqual(await run(REG_FULLNAME), {
          code: 0,
          stdout: `MutatingWebhookConfiguration ${REG_FULLNAME} deleted\n`,
          stderr: '',
        });
        assert.equal(await statusOf(() => adminApi.readMutatingWebhookConfiguration({ name: REG_FULLNAME })), 404);
        assert.deepEqual(await run(REG_FULLNAME), {
          code: 0,
          stdout: `MutatingWebhookConfiguration ${REG_FULLNAME} was already gone\n`,
          stderr: '',
        });
        const refused = await run('someone-elses');
        assert.equal(refused.code, 1);
        assert.match(
          refused.stderr,
          /^unregister: deleting MutatingWebhookConfiguration someone-elses failed: .*forbidden/i,
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  describe('the certs Job (`dap-secret-webhook certs ensure` as its ServiceAccount)', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'dap-certs-e2e-'));
      // The chart's policy for the certs ServiceAccounts, as Helm applies it: the runs below work under it.
      const policy = objects.filter(
        (o) => o.kind!.startsWith('ValidatingAdmissionPolicy') && o.metadata!.name!.endsWith('-certs-secrets'),
      );
      for (const obj of policy) await createIfAbsent(admin, obj);
      if (policy.length === 0) return; // the threat-model test below says what is missing
      // The admission plugin picks a new policy up asynchronously: wait until it refuses something.
      const core = (await clientAs(cp, NS, `${FULLNAME}-certs`)).makeApiClient(CoreV1Api);
      await waitFor(
        async () =>
          (await statusOf(() =>
            core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'probe' } }, dryRun: 'All' }),
          )) === 403
            ? true
            : undefined,
        {
          what: 'the certs Secret policy to take effect',
          timeoutMs: 30_000,
          intervalMs: 200,
        },
      );
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    /** The command of the renewal CronJob (default), the pre-install hook Job or the post-install Job, as that identity. */
    async function runCerts(
      kubeconfig: string,
      from: 'cron' | 'pre' | 'post' = 'cron',
    ): Promise<{ code: number; stdout: string; stderr: string }> {
      assert.ok(existsSync(BUNDLE), `${BUNDLE} is missing: run npm run build:webhook`);
      const spec =
        from === 'cron'
          ? one<V1CronJob>(objects, 'CronJob', `${FULLNAME}-certs`).spec!.jobTemplate.spec!.template.spec!
          : one<V1Job>(objects, 'Job', from === 'pre' ? `${FULLNAME}-certs-hook` : `${FULLNAME}-certs-cabundle`).spec!
              .template.spec!;
      const args = spec.containers[0]!.args!;
      try {
        const { stdout, stderr } = await promisify(execFile)(process.execPath, [BUNDLE, ...args], {
          env: { ...process.env, KUBECONFIG: kubeconfig },
          timeout: 30_000,
        });
        return { code: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code?: number; stdout?: string; stderr?: string };
        return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
      }
    }

    const caBundleOf = async (name: string) =>
      Buffer.from(
        (await admin.makeApiClient(AdmissionregistrationV1Api).readMutatingWebhookConfiguration({ name })).webhooks![0]!
          .clientConfig.caBundle ?? '',
        'base64',
      ).toString('utf8');

    it("creates the TLS Secret and sets the configuration's caBundle, keeps both on the next run, and touches no other Secret", async function () {
      this.timeout(60_000);
      const kc = await clientAs(cp, NS, `${FULLNAME}-certs`);
      const kubeconfig = join(dir, 'certs.kubeconfig');
      await writeFile(kubeconfig, kc.exportConfig(), { mode: 0o600 });
      assert.equal(await caBundleOf(FULLNAME), '', 'the chart renders no caBundle with tls.mode=job');

      const first = await runCerts(kubeconfig);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, new RegExp(`Secret ${NS}/${FULLNAME}-tls created`));
      assert.match(first.stdout, new RegExp(`MutatingWebhookConfiguration ${FULLNAME}: caBundle of .* set to ca.crt`));
      const second = await runCerts(kubeconfig);
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stdout, /kept/);
      assert.match(second.stdout, /already trusts ca.crt/);

      const stored = await admin
        .makeApiClient(CoreV1Api)
        .readNamespacedSecret({ name: `${FULLNAME}-tls`, namespace: NS });
      assert.equal(stored.type, 'kubernetes.io/tls');
      assert.equal(
        await caBundleOf(FULLNAME),
        Buffer.from(stored.data!['ca.crt']!, 'base64').toString('utf8'),
        'the API server trusts the CA in the Secret',
      );
      const cert = new X509Certificate(Buffer.from(stored.data!['tls.crt']!, 'base64'));
      assert.equal(
        cert.subjectAltName,
        serviceDnsNames(FULLNAME, NS)
          .map((n) => `DNS:${n}`)
          .join(', '),
      );
      for (const line of [first, second].flatMap((r) => [r.stdout, r.stderr]))
        assert.doesNotMatch(line, /BEGIN|PRIVATE/, 'no key material in output');

      const core = kc.makeApiClient(CoreV1Api);
      await createIfAbsent(admin, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'unrelated', namespace: NS },
        stringData: { k: 'v' },
      } as KubernetesObject);
      assert.equal(
        await statusOf(() => core.readNamespacedSecret({ name: 'unrelated', namespace: NS })),
        403,
        'get another Secret',
      );
      assert.equal(await statusOf(() => core.listNamespacedSecret({ namespace: NS })), 403, 'list');
      assert.equal(
        await statusOf(() => core.deleteNamespacedSecret({ name: `${FULLNAME}-tls`, namespace: NS })),
        403,
        'delete',
      );
    });

    it('threat model: the certs Job sets the caBundle of its configuration, and can touch no other (nor create one)', async function () {
      this.timeout(60_000);
      for (const sa of [`${FULLNAME}-certs`, `${FULLNAME}-certs-hook`]) {
        const api = (await clientAs(cp, NS, sa)).makeApiClient(AdmissionregistrationV1Api);
        const own = await api.readMutatingWebhookConfiguration({ name: FULLNAME });
        assert.equal(
          await statusOf(() => api.replaceMutatingWebhookConfiguration({ name: FULLNAME, body: own, dryRun: 'All' })),
          200,
          `${sa}: update its own`,
        );
        assert.equal(
          await statusOf(() => api.readMutatingWebhookConfiguration({ name: 'someone-elses' })),
          403,
          `${sa}: get another`,
        );
        assert.equal(await statusOf(() => api.listMutatingWebhookConfiguration()), 403, `${sa}: list`);
        assert.equal(
          await statusOf(() => api.deleteMutatingWebhookConfiguration({ name: FULLNAME, dryRun: 'All' })),
          403,
          `${sa}: delete its own`,
        );
        const other = {
          ...desiredConfiguration(
            {
              ...configOf(objects).registration,
              configurationName: 'dsw-rbac-certs-attacker',
              namespaceSelector: NEVER,
            },
            undefined,
          ),
        };
        assert.equal(
          await statusOf(() => api.createMutatingWebhookConfiguration({ body: other, dryRun: 'All' })),
          403,
          `${sa}: create one`,
        );
      }
    });

    it('threat model: the certs Jobs create only their TLS Secret — no service-account-token Secret (a token for another ServiceAccount), no other name or type', async function () {
      this.timeout(60_000);
      const tokenFor = (sa: string) => ({
        metadata: { name: `planted-token-${sa}`, annotations: { 'kubernetes.io/service-account.name': sa } },
        type: 'kubernetes.io/service-account-token',
      });
      for (const sa of [`${FULLNAME}-certs`, `${FULLNAME}-certs-hook`]) {
        const core = (await clientAs(cp, NS, sa)).makeApiClient(CoreV1Api);
        const create = (body: V1Secret) =>
          statusOf(() => core.createNamespacedSecret({ namespace: NS, body, dryRun: 'All' }));
        // The admission plugin picks a new policy up asynchronously.
        const refused = await waitFor(async () => ((await create(tokenFor('default'))) === 403 ? true : undefined), {
          what: 'refusal',
          timeoutMs: 15_000,
          intervalMs: 200,
        }).catch(() => false);
        assert.ok(
          refused,
          `${sa}: the API server admitted a service-account-token Secret (the control plane would fill in a token for that ServiceAccount)`,
        );
        assert.equal(await create(tokenFor(FULLNAME)), 403, `${sa}: a token for the webhook's ServiceAccount`);
        assert.equal(
          await create({ metadata: { name: 'planted' }, stringData: { k: 'v' } }),
          403,
          `${sa}: an Opaque Secret of another name`,
        );
        assert.equal(
          await create({
            metadata: { name: 'planted-tls' },
            type: 'kubernetes.io/tls',
            stringData: { 'tls.crt': '', 'tls.key': '' },
          }),
          403,
          `${sa}: a TLS Secret of another name`,
        );
        assert.equal(
          await create({
            metadata: { name: `${FULLNAME}-tls` },
            type: 'kubernetes.io/dockerconfigjson',
            stringData: { '.dockerconfigjson': '{}' },
          }),
          403,
          `${sa}: its Secret's name with another type`,
        );
        assert.notEqual(
          await create({
            metadata: { name: `${FULLNAME}-tls` },
            type: 'kubernetes.io/tls',
            stringData: { 'tls.crt': '', 'tls.key': '' },
          }),
          403,
          `${sa}: its own TLS Secret`,
        );
      }
    });

    it('the hook Jobs: before install the configuration may be missing (noted), after install it must exist', async function () {
      this.timeout(60_000);
      const kubeconfig = join(dir, 'certs-hook.kubeconfig');
      await writeFile(kubeconfig, (await clientAs(cp, NS, `${FULLNAME}-certs-hook`)).exportConfig(), { mode: 0o600 });
      const adminApi = admin.makeApiClient(AdmissionregistrationV1Api);
      const saved = await adminApi.readMutatingWebhookConfiguration({ name: FULLNAME });
      await adminApi.deleteMutatingWebhookConfiguration({ name: FULLNAME });
      try {
        const pre = await runCerts(kubeconfig, 'pre');
        assert.equal(pre.code, 0, pre.stderr);
        assert.match(pre.stdout, new RegExp(`MutatingWebhookConfiguration ${FULLNAME} does not exist yet`));
        const post = await runCerts(kubeconfig, 'post');
        assert.equal(post.code, 1);
        assert.match(
          post.stderr,
          new RegExp(
            `MutatingWebhookConfiguration ${FULLNAME} does not exist \\(yet\\), so its caBundle cannot be set`,
          ),
        );
      } finally {
        const {
          resourceVersion: _rv,
          uid: _uid,
          creationTimestamp: _ct,
          managedFields: _mf,
          generation: _g,
          ...metadata
        } = saved.metadata!;
        await adminApi.createMutatingWebhookConfiguration({ body: { ...saved, metadata } });
      }
      const post = await runCerts(kubeconfig, 'post');
      assert.equal(post.code, 0, post.stderr);
    });

    it('says which permission is missing when run without the Role', async function () {
      this.timeout(60_000);
      const kc = await clientAs(cp, NS, 'default');
      const kubeconfig = join(dir, 'default.kubeconfig');
      await writeFile(kubeconfig, kc.exportConfig(), { mode: 0o600 });
      const run = await runCerts(kubeconfig);
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        new RegExp(`not allowed to read or write Secret ${NS}/${FULLNAME}-tls: .* needs get, create and update`),
      );
    });
  });
});

describe('deploy: the fetcher Secret policy (ValidatingAdmissionPolicy, on by default)', function () {
  const GUARDED_NS = 'dsw-rbac-flyte-guarded';
  /** Not named in the chart's values: guarded by the label only (the labelled binding). */
  const LABELLED_NS = 'dsw-rbac-flyte-labelled';
  // 58 characters: what the API server keeps of a generateName before its 5 random characters.
  const PREFIX_58 = `${'v'.repeat(50)}-victim0`;
  const SHORT_58 = 'w'.repeat(58);
  const GUARD_RELEASE = 'dsw-guard';
  let cp: ControlPlane;
  let admin: KubeConfig;
  /** Stored pods (named by the API server), by key. */
  const pods: Record<string, V1Pod> = {};
  /** Each pod as the webhook saw it at admission: a generateName pod has no name yet. */
  const admitted: Record<string, V1Pod> = {};
  // Name and generateName long enough that the webhook (228) and the API server (58) cut them.
  const LONG_NAME = `${'a'.repeat(227)}-${'b'.repeat(12)}`;
  const LONG_GENERATE_NAME = `${'g'.repeat(57)}-${'h'.repeat(40)}-`;
  const POD_METADATA: Record<string, { name?: string; generateName?: string }> = {
    'task-a': { name: 'task-a' },
    'task-b': { name: 'task-b' },
    generated: { generateName: 'hand-made-' },
    'generated-sibling': { generateName: 'hand-made-' },
    'long-name': { name: LONG_NAME },
    'long-generate-name': { generateName: LONG_GENERATE_NAME },
    // A named pod whose longer name shares its first 58 characters with a generated pod's name.
    'long-victim': { name: `${PREFIX_58}-of-the-attack` },
    'prefix-attacker': { generateName: PREFIX_58 },
    // A named pod of exactly 58 characters, and a generated pod named it + 5 random characters.
    'short-victim': { name: SHORT_58 },
    'short-attacker': { generateName: SHORT_58 },
  };

  /** The Secret name the webhook gives this pod: from what it saw at admission. */
  const webhookSecretName = (key: string) => perPodSecretName(admitted[key]!, randomUUID());

  /** A client using a token bound to the pod, like the fetcher's projected token. */
  async function asPod(name: string): Promise<CoreV1Api> {
    const { token } = await mintPodToken(admin, pods[name]!, { audiences: cp.apiAudiences, expirationSeconds: 600 });
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'e2e', server: cp.apiUrl, caData: Buffer.from(cp.caPem).toString('base64') }],
      users: [{ name: name, token }],
      contexts: [{ name: 'e2e', cluster: 'e2e', user: name }],
      currentContext: 'e2e',
    });
    return kc.makeApiClient(CoreV1Api);
  }

  /** What the fetcher creates for this pod: the webhook's name, the fetcher's Secret builder. */
  function fetcherSecret(pod: V1Pod, overrides: Partial<{ name: string; uid: string }> = {}): V1Secret {
    return buildPodSecret({
      namespace: GUARDED_NS,
      name: overrides.name ?? perPodSecretName(pod, randomUUID()),
      podName: pod.metadata!.name!,
      podUid: overrides.uid ?? pod.metadata!.uid!,
      entries: [{ key: 'api-key', value: 'not-a-real-value', mlpSecret: 'api-key' }],
    });
  }

  async function deniedWith(call: () => Promise<unknown>): Promise<string> {
    try {
      await call();
    } catch (err) {
      if (err instanceof ApiException && err.code === 403) return String(err.body);
      throw err;
    }
    assert.fail('the API server admitted it');
  }

  before(async function () {
    this.timeout(START_TIMEOUT_MS + PROVISION_TIMEOUT_MS);
    cp = await sharedControlPlane();
    admin = cp.kubeConfig;
    await ensureNamespace(admin, GUARDED_NS);
    await waitFor(
      async () =>
        (await statusOf(() =>
          admin.makeApiClient(CoreV1Api).readNamespacedServiceAccount({ name: 'default', namespace: GUARDED_NS }),
        )) === 200 || undefined,
      { what: `ServiceAccount default in ${GUARDED_NS}` },
    );
    // Only the two required values and the namespaces: the policy is on by default.
    const objects = (
      await helmTemplate(GUARD_RELEASE, GUARD_RELEASE, {
        fetcher: { image: 'f:1', rbac: { namespaces: [GUARDED_NS] } },
        mlp: { apiHost: 'http://mlp:8080' },
      })
    ).objects;
    await ensureNamespace(admin, LABELLED_NS, { 'dap-secret-webhook.caraml.dev/fetcher-secret-policy': 'true' });
    await grantFetcherRbac(admin, LABELLED_NS);
    const wanted = new Set([
      'ClusterRole',
      'RoleBinding',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
    ]);
    const fetcherOnly = (o: KubernetesObject) =>
      wanted.has(o.kind!) &&
      (!['ClusterRole', 'RoleBinding'].includes(o.kind!) || o.metadata!.name!.endsWith('-fetcher'));
    for (const obj of objects.filter(fetcherOnly)) await createIfAbsent(admin, obj);
    const core = admin.makeApiClient(CoreV1Api);
    for (const [key, metadata] of Object.entries(POD_METADATA)) {
      admitted[key] = {
        metadata: { ...metadata, namespace: GUARDED_NS },
        spec: { containers: [{ name: 'main', image: 'task:1' }] },
      };
      const created = await core.createNamespacedPod({ namespace: GUARDED_NS, body: admitted[key] });
      pods[key] = await core.readNamespacedPod({ name: created.metadata!.name!, namespace: GUARDED_NS });
    }
    // The admission plugin picks new policies up asynchronously: wait until a forbidden dry-run is refused.
    const a = await asPod('task-a');
    await waitFor(
      async () =>
        (await statusOf(() =>
          a.createNamespacedSecret({ namespace: GUARDED_NS, body: fetcherSecret(pods['task-b']!), dryRun: 'All' }),
        )) === 403
          ? true
          : undefined,
      { what: 'the ValidatingAdmissionPolicy to take effect', timeoutMs: 30_000, intervalMs: 200 },
    );
  });

  it('lets a pod create exactly what the fetcher creates for it', async () => {
    const a = await asPod('task-a');
    assert.equal(
      await statusOf(() => a.createNamespacedSecret({ namespace: GUARDED_NS, body: fetcherSecret(pods['task-a']!) })),
      200,
    );
  });

  it('lets pods made with generateName, and pods whose name or generateName the webhook or the API server cut, create what the fetcher creates for them', async () => {
    for (const key of ['generated', 'long-name', 'long-generate-name']) {
      const pod = await asPod(key);
      const body = fetcherSecret(pods[key]!, { name: webhookSecretName(key) });
      assert.equal(
        await statusOf(() => pod.createNamespacedSecret({ namespace: GUARDED_NS, body, dryRun: 'All' })),
        200,
        `${key}: ${body.metadata!.name}`,
      );
    }
  });

  it("threat model: a task pod cannot create another pod's Secret (name squatting)", async () => {
    const a = await asPod('task-a');
    const body = fetcherSecret(pods['task-a']!, { name: perPodSecretName(pods['task-b']!, randomUUID()) });
    assert.match(
      await deniedWith(() => a.createNamespacedSecret({ namespace: GUARDED_NS, body })),
      /may create only its own per-pod Secret/,
    );
    const generated = await asPod('generated');
    for (const victim of ['task-a', 'long-name', 'long-generate-name']) {
      const squat = fetcherSecret(pods.generated!, { name: webhookSecretName(victim) });
      assert.match(
        await deniedWith(() => generated.createNamespacedSecret({ namespace: GUARDED_NS, body: squat, dryRun: 'All' })),
        /may create only its own per-pod Secret/,
        victim,
      );
    }
  });

  it('requires the exact generated form: a pod named 58 characters + 5 generator characters cannot create the Secret of a named pod sharing those 58', async () => {
    for (const [attacker, victim] of [
      ['prefix-attacker', 'long-victim'],
      ['short-attacker', 'short-victim'],
    ] as const) {
      assert.equal(pods[attacker]!.metadata!.name!.slice(0, 58), pods[victim]!.metadata!.name!.slice(0, 58));
      const api = await asPod(attacker);
      const squat = fetcherSecret(pods[attacker]!, { name: webhookSecretName(victim) });
      assert.match(
        await deniedWith(() => api.createNamespacedSecret({ namespace: GUARDED_NS, body: squat, dryRun: 'All' })),
        /may create only its own per-pod Secret/,
        `${attacker} → ${victim}`,
      );
      const own = fetcherSecret(pods[attacker]!, { name: webhookSecretName(attacker) });
      assert.equal(
        await statusOf(() => api.createNamespacedSecret({ namespace: GUARDED_NS, body: own, dryRun: 'All' })),
        200,
        `${attacker}'s own: ${own.metadata!.name}`,
      );
    }
  });

  it('threat model: nor a service-account-token Secret (for itself or another ServiceAccount), nor any other type', async () => {
    const a = await asPod('task-a');
    const own = fetcherSecret(pods['task-a']!);
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    // Each valid for its type, so only the policy can refuse it.
    for (const [type, metadata, data] of [
      ['kubernetes.io/service-account-token', { annotations: { 'kubernetes.io/service-account.name': 'default' } }, {}],
      [
        'kubernetes.io/service-account-token',
        { annotations: { 'kubernetes.io/service-account.name': 'flyte-task' } },
        {},
      ],
      ['kubernetes.io/dockerconfigjson', {}, { '.dockerconfigjson': b64('{"auths":{}}') }],
      ['kubernetes.io/tls', {}, { 'tls.crt': b64('x'), 'tls.key': b64('x') }],
    ] as const) {
      const body = {
        ...own,
        type,
        immutable: false,
        metadata: { ...own.metadata, ...metadata },
        data: { ...own.data, ...data },
      };
      assert.match(
        await deniedWith(() => a.createNamespacedSecret({ namespace: GUARDED_NS, body, dryRun: 'All' })),
        /only Opaque Secrets/,
        type,
      );
    }
  });

  it('applies in a namespace that is only labelled (the labelled binding), and not elsewhere', async function () {
    this.timeout(60_000);
    const core = admin.makeApiClient(CoreV1Api);
    await waitFor(
      async () =>
        (await statusOf(() => core.readNamespacedServiceAccount({ name: 'default', namespace: LABELLED_NS }))) ===
          200 || undefined,
      { what: `ServiceAccount default in ${LABELLED_NS}` },
    );
    const created = await core.createNamespacedPod({
      namespace: LABELLED_NS,
      body: { metadata: { name: 'labelled-task' }, spec: { containers: [{ name: 'main', image: 'task:1' }] } },
    });
    const { token } = await mintPodToken(admin, created, { audiences: cp.apiAudiences, expirationSeconds: 600 });
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'e2e', server: cp.apiUrl, caData: Buffer.from(cp.caPem).toString('base64') }],
      users: [{ name: 'labelled', token }],
      contexts: [{ name: 'e2e', cluster: 'e2e', user: 'labelled' }],
      currentContext: 'e2e',
    });
    const api = kc.makeApiClient(CoreV1Api);
    const body = {
      metadata: { name: 'planted-token', annotations: { 'kubernetes.io/service-account.name': 'default' } },
      type: 'kubernetes.io/service-account-token',
    };
    assert.match(
      await deniedWith(() => api.createNamespacedSecret({ namespace: LABELLED_NS, body, dryRun: 'All' })),
      /only Opaque Secrets/,
    );
  });

  it("refuses names that only start like the pod's, or do not end like the webhook's", async () => {
    const a = await asPod('task-a');
    for (const name of [
      'task-a-b-flyte-secrets-0123456789',
      'task-flyte-secrets-0123456789',
      'task-a-flyte-secrets-01234',
      'task-a-flyte-secrets-0123456789-x',
      'task-a-secrets',
    ]) {
      const body = fetcherSecret(pods['task-a']!, { name });
      assert.match(
        await deniedWith(() => a.createNamespacedSecret({ namespace: GUARDED_NS, body, dryRun: 'All' })),
        /may create only its own per-pod Secret/,
        name,
      );
    }
  });

  it('cannot tell pods of one generateName apart (same name base; only the hash differs): documented', async () => {
    const sibling = await asPod('generated-sibling');
    const body = fetcherSecret(pods['generated-sibling']!, { name: webhookSecretName('generated') });
    assert.equal(
      await statusOf(() => sibling.createNamespacedSecret({ namespace: GUARDED_NS, body, dryRun: 'All' })),
      200,
    );
  });

  it('refuses a Secret owned by another pod, and non-Opaque types', async () => {
    const a = await asPod('task-a');
    const foreignOwner = fetcherSecret(pods['task-a']!, { uid: pods['task-b']!.metadata!.uid! });
    assert.match(
      await deniedWith(() => a.createNamespacedSecret({ namespace: GUARDED_NS, body: foreignOwner })),
      /may create only Secrets it owns/,
    );
    const saToken = {
      ...fetcherSecret(pods['task-a']!),
      type: 'kubernetes.io/service-account-token',
      immutable: false,
      metadata: {
        ...fetcherSecret(pods['task-a']!).metadata,
        annotations: { 'kubernetes.io/service-account.name': 'default' },
      },
    };
    assert.match(
      await deniedWith(() => a.createNamespacedSecret({ namespace: GUARDED_NS, body: saToken })),
      /only Opaque Secrets/,
    );
  });

  it('refuses a token that is not bound to a pod, and leaves admins alone', async () => {
    const unbound = (await clientAs(cp, GUARDED_NS, 'default')).makeApiClient(CoreV1Api);
    assert.match(
      await deniedWith(() =>
        unbound.createNamespacedSecret({ namespace: GUARDED_NS, body: fetcherSecret(pods['task-a']!), dryRun: 'All' }),
      ),
      /pod-bound token/,
    );
    assert.equal(
      await statusOf(() =>
        admin.makeApiClient(CoreV1Api).createNamespacedSecret({
          namespace: GUARDED_NS,
          body: { metadata: { name: 'admin-made' }, stringData: { k: 'v' } },
          dryRun: 'All',
        }),
      ),
      200,
    );
  });
});
