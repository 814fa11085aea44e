/**
 * The Helm chart, rendered with several value sets, validated object by object by the harness's
 * real kube-apiserver (server-side dry-run, Pod Security `restricted` on every pod template), and
 * checked for the fields that make the install correct and least-privileged.
 *
 * cert-manager's Certificate/Issuer and the ServiceMonitor are validated against stand-in CRDs
 * (right group/version/kind/scope, any spec): the API server checks their envelope, the
 * assertions here check their fields.
 */
import assert from 'node:assert/strict';
import type {
  KubernetesObject,
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1CronJob,
  V1Job,
  V1LabelSelector,
  V1MutatingWebhookConfiguration,
  V1NetworkPolicy,
  V1RoleBinding,
  V1Service,
} from '@kubernetes/client-node';
import { generateCertBundle, serviceDnsNames } from '../../../webhook/certs.js';
import { desiredWebhook } from '../../../webhook/server/registration.js';
import { createCertificateAuthority } from '../../support/k8s/pki.js';
import type { ControlPlane } from '../harness/controlPlane.js';
import { START_TIMEOUT_MS, sharedControlPlane } from '../harness/shared.js';
import { describeObject, dryRunCreate, ensureNamespace, installStandInCrds } from './cluster.js';
import { assertInstallInvariants, configOf, FETCHER_RULES_WITH_EVENTS, SHUTDOWN_SECONDS } from './invariants.js';
import { hookOf, maybe, normalRules, ofKind, one, podTemplates, webhookDeployment, webhookEnv } from './objects.js';
import { helmLint, helmTemplate, helmTemplateError, PROVISION_TIMEOUT_MS, type Rendered } from './tools.js';

const FETCHER_IMAGE = 'registry.example.com/caraml/dap-secret-fetcher:0.1.0';
const MLP = 'http://mlp.caraml.svc.cluster.local:8080';
const REQUIRED = { fetcher: { image: FETCHER_IMAGE }, mlp: { apiHost: MLP } };
/** Pods here must pass Pod Security `restricted`; the API server rejects them otherwise. */
const PSA_NAMESPACE = 'dsw-psa-restricted';
// Names no other e2e suite uses: every suite shares one control plane.
const FLYTE_NAMESPACES = ['dsw-flyte-development', 'dsw-flyte-staging', 'dsw-flyte-production', 'dsw-ml-team'];

interface ValueSet {
  title: string;
  release: string;
  namespace: string;
  values: () => Promise<object>;
  check: (objects: KubernetesObject[], set: ValueSet) => void | Promise<void>;
}

const fullname = (set: ValueSet) => `${set.release}-dap-secret-webhook`;

/** deep merge for value objects (arrays replace). */
function merge<T extends object>(...parts: object[]): T {
  const out: Record<string, unknown> = {};
  for (const part of parts) {
    for (const [k, v] of Object.entries(part)) {
      const cur = out[k];
      out[k] =
        v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)
          ? merge(cur, v)
          : v;
    }
  }
  return out as T;
}

const VALUE_SETS: ValueSet[] = [
  {
    title:
      'defaults (chart-rendered configuration, certs Jobs keeping its caBundle, Secret policy, NetworkPolicy, Flyte <project>-<domain> RoleBindings)',
    release: 'dsw',
    namespace: 'dsw-system',
    values: async () =>
      merge(REQUIRED, { fetcher: { rbac: { flyteProjects: ['dsw-flyte'], namespaces: ['dsw-ml-team'] } } }),
    check(objects, set) {
      const config = configOf(objects);
      const deployment = webhookDeployment(objects);
      const env = webhookEnv(deployment);
      assert.equal(env.WEBHOOK_REGISTER, 'false');
      assert.equal(
        deployment.spec!.template.spec!.automountServiceAccountToken,
        false,
        'the webhook pod has no API token',
      );
      assert.equal(env.FETCHER_IMAGE, FETCHER_IMAGE, 'the fetcher image is one value');
      assert.deepEqual(JSON.parse(env.WEBHOOK_NAMESPACE_SELECTOR!), {
        matchExpressions: [
          {
            key: 'kubernetes.io/metadata.name',
            operator: 'NotIn',
            values: ['kube-system', 'kube-node-lease', set.namespace],
          },
        ],
      });
      // The chart renders exactly what the webhook would register, without a caBundle: the certs Jobs set it.
      const mwc = one<V1MutatingWebhookConfiguration>(objects, 'MutatingWebhookConfiguration', fullname(set));
      assert.deepEqual(mwc.webhooks, [desiredWebhook(config.registration, undefined)]);
      // One RoleBinding per Flyte namespace, to every ServiceAccount there.
      const bindings = ofKind<V1RoleBinding>(objects, 'RoleBinding').filter(
        (b) => b.roleRef.name === `${fullname(set)}-fetcher`,
      );
      assert.deepEqual(bindings.map((b) => b.metadata!.namespace).sort(), [...FLYTE_NAMESPACES].sort());
      for (const b of bindings) {
        assert.equal(b.roleRef.kind, 'ClusterRole');
        assert.deepEqual(b.subjects, [
          {
            kind: 'Group',
            apiGroup: 'rbac.authorization.k8s.io',
            name: `system:serviceaccounts:${b.metadata!.namespace}`,
          },
        ]);
      }
      // TLS by our certs command: a hook Job before install/upgrade (the configuration may not exist yet),
      // one after (it must), both under hook RBAC; and the renewal CronJob.
      const hookJob = one<V1Job>(objects, 'Job', `${fullname(set)}-certs-hook`);
      assert.equal(hookOf(hookJob), 'pre-install,pre-upgrade');
      const postJob = one<V1Job>(objects, 'Job', `${fullname(set)}-certs-cabundle`);
      assert.equal(hookOf(postJob), 'post-install,post-upgrade');
      for (const kind of ['ServiceAccount', 'Role', 'RoleBinding', 'ClusterRole', 'ClusterRoleBinding']) {
        assert.equal(
          hookOf(one(objects, kind, `${fullname(set)}-certs-hook`)),
          'pre-install,pre-upgrade,post-install,post-upgrade',
          `${kind} of the hooks`,
        );
      }
      const args = hookJob.spec!.template.spec!.containers[0]!.args!;
      assert.deepEqual(args.slice(0, 2), ['certs', 'ensure']);
      assert.ok(
        args.includes(`--secret=${fullname(set)}-tls`) &&
          args.includes(`--namespace=${set.namespace}`) &&
          args.includes(`--service=${fullname(set)}`),
      );
      assert.ok(
        args.includes(`--webhook-configuration=${fullname(set)}`) && args.includes('--configuration-may-be-missing'),
      );
      const postArgs = postJob.spec!.template.spec!.containers[0]!.args!;
      assert.deepEqual(
        postArgs,
        args.filter((a) => a !== '--configuration-may-be-missing'),
        'after install the configuration must exist',
      );
      const cron = one<V1CronJob>(objects, 'CronJob', `${fullname(set)}-certs`);
      assert.deepEqual(
        cron.spec!.jobTemplate.spec!.template.spec!.containers[0]!.args,
        postArgs,
        'the renewal keeps the caBundle too',
      );
      const caBundleRules = [
        {
          apiGroups: ['admissionregistration.k8s.io'],
          resources: ['mutatingwebhookconfigurations'],
          resourceNames: [fullname(set)],
          verbs: ['get', 'update'],
        },
      ];
      for (const name of [`${fullname(set)}-certs-hook`, `${fullname(set)}-certs`]) {
        assert.deepEqual(
          normalRules(one<V1ClusterRole>(objects, 'ClusterRole', name).rules),
          normalRules(caBundleRules),
          `${name}: the one configuration, by name, no create`,
        );
        assert.deepEqual(one<V1ClusterRoleBinding>(objects, 'ClusterRoleBinding', name).subjects, [
          { kind: 'ServiceAccount', name, namespace: set.namespace },
        ]);
      }
      const tlsVolume = deployment.spec!.template.spec!.volumes!.find((v) => v.secret)!;
      assert.equal(
        tlsVolume.secret!.secretName,
        `${fullname(set)}-tls`,
        'the Deployment mounts the Secret the Job writes',
      );
      assert.equal(
        maybe(objects, 'Job', `${fullname(set)}-unregister`),
        undefined,
        'Helm deletes a configuration it owns',
      );
      // The Secret policy, bound by name in the fetcher namespaces and by label everywhere else.
      const policyBindings = ofKind<
        KubernetesObject & { spec: { policyName: string; matchResources: { namespaceSelector: V1LabelSelector } } }
      >(objects, 'ValidatingAdmissionPolicyBinding');
      assert.deepEqual(policyBindings.map((b) => b.metadata!.name).sort(), [
        `${fullname(set)}-certs-secrets`,
        `${fullname(set)}-fetcher-secrets`,
        `${fullname(set)}-fetcher-secrets-labelled`,
      ]);
      // The certs Jobs' `create` on Secrets, narrowed to their TLS Secret, in the release namespace.
      assert.deepEqual(
        policyBindings.find((b) => b.metadata!.name!.endsWith('-certs-secrets'))!.spec.matchResources.namespaceSelector
          .matchExpressions,
        [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: [set.namespace] }],
      );
      assert.deepEqual(
        policyBindings.find((b) => b.metadata!.name!.endsWith('-labelled'))!.spec.matchResources.namespaceSelector,
        { matchLabels: { 'dap-secret-webhook.caraml.dev/fetcher-secret-policy': 'true' } },
      );
      // NetworkPolicy: the admission port open (no API server CIDR given), the metrics port closed to pods.
      const policy = one<V1NetworkPolicy>(objects, 'NetworkPolicy');
      assert.deepEqual(policy.spec!.ingress, [{ ports: [{ port: 'https', protocol: 'TCP' }] }]);
    },
  },
  {
    title:
      'only the two required values: the Secret policy, the rendered configuration and the NetworkPolicy are there',
    release: 'dsw-min',
    namespace: 'dsw-min',
    values: async () => REQUIRED,
    check(objects, set) {
      const vap = one<KubernetesObject & { spec: { validations: { expression: string }[] } }>(
        objects,
        'ValidatingAdmissionPolicy',
        `${fullname(set)}-fetcher-secrets`,
      );
      assert.ok(vap.spec.validations.some((v) => v.expression === "object.type == 'Opaque'"));
      const bindings = ofKind<KubernetesObject & { spec: { policyName: string } }>(
        objects,
        'ValidatingAdmissionPolicyBinding',
      ).filter((b) => b.spec.policyName === vap.metadata!.name);
      assert.deepEqual(
        bindings.map((b) => b.metadata!.name),
        [`${fullname(set)}-fetcher-secrets-labelled`],
        'no namespaces named: the labelled binding only',
      );
      one(objects, 'ValidatingAdmissionPolicy', `${fullname(set)}-certs-secrets`);
      one(objects, 'MutatingWebhookConfiguration', fullname(set));
      one(objects, 'NetworkPolicy', fullname(set));
    },
  },
  {
    title: 'self-registration (webhook.register=true): the documented switch',
    release: 'dsw-selfreg',
    namespace: 'dsw-selfreg',
    values: async () => merge(REQUIRED, { webhook: { register: true } }),
    check(objects, set) {
      const deployment = webhookDeployment(objects);
      const env = webhookEnv(deployment);
      assert.equal(env.WEBHOOK_REGISTER, 'true');
      assert.equal(deployment.spec!.template.spec!.automountServiceAccountToken, true);
      assert.equal(ofKind(objects, 'MutatingWebhookConfiguration').length, 0);
      const hookJob = one<V1Job>(objects, 'Job', `${fullname(set)}-certs-hook`);
      assert.ok(
        !hookJob.spec!.template.spec!.containers[0]!.args!.some((a) => a.startsWith('--webhook-configuration')),
        'the webhook applies its own caBundle',
      );
      assert.equal(maybe(objects, 'Job', `${fullname(set)}-certs-cabundle`), undefined);
      for (const kind of ['ServiceAccount', 'Role', 'RoleBinding'])
        assert.equal(
          hookOf(one(objects, kind, `${fullname(set)}-certs-hook`)),
          'pre-install,pre-upgrade',
          `${kind} of the hook`,
        );
      assert.equal(maybe(objects, 'ClusterRole', `${fullname(set)}-certs-hook`), undefined);
      // Uninstall removes the configuration the webhook wrote.
      const unregister = one<V1Job>(objects, 'Job', `${fullname(set)}-unregister`);
      assert.equal(hookOf(unregister), 'pre-delete');
      assert.equal(
        unregister.spec!.template.spec!.containers[0]!.env!.find((e) => e.name === 'WEBHOOK_NAME')!.value,
        env.WEBHOOK_NAME,
      );
    },
  },
  {
    title: 'chart-rendered webhook configuration with an admin-provided TLS Secret',
    release: 'dsw-gitops',
    namespace: 'dsw-gitops',
    values: async () => {
      const ca = await generateCertBundle({ dnsNames: serviceDnsNames('dsw-gitops-dap-secret-webhook', 'dsw-gitops') });
      return merge(REQUIRED, {
        webhook: { failurePolicy: 'Ignore', timeoutSeconds: 10 },
        tls: { mode: 'secret', secretName: 'my-webhook-tls', caBundle: Buffer.from(ca.caCertPem).toString('base64') },
      });
    },
    check(objects) {
      const config = configOf(objects);
      const mwc = one<V1MutatingWebhookConfiguration>(objects, 'MutatingWebhookConfiguration');
      const caBundle = mwc.webhooks![0]!.clientConfig.caBundle;
      assert.ok(caBundle, 'the caBundle value is rendered');
      // The chart renders exactly what the webhook would have registered with the same env.
      assert.deepEqual(mwc.webhooks, [desiredWebhook(config.registration, caBundle)]);
      assert.equal(config.registration.failurePolicy, 'Ignore');
      assert.equal(ofKind(objects, 'Job').length, 0, 'no certs Job and no unregister hook');
      assert.equal(
        webhookDeployment(objects).spec!.template.spec!.volumes!.find((v) => v.secret)!.secret!.secretName,
        'my-webhook-tls',
      );
    },
  },
  {
    title: 'cert-manager (own CA chain) with a chart-rendered configuration and CA injection',
    release: 'dsw-cm',
    namespace: 'dsw-cm',
    values: async () => merge(REQUIRED, { tls: { mode: 'cert-manager' } }),
    check(objects, set) {
      const config = configOf(objects);
      const cert = one<KubernetesObject & { spec: Record<string, unknown> }>(
        objects,
        'Certificate',
        `${fullname(set)}-serving`,
      );
      assert.deepEqual(cert.spec.dnsNames, serviceDnsNames(fullname(set), set.namespace));
      assert.deepEqual(cert.spec.usages, ['server auth', 'digital signature']);
      assert.equal(
        cert.spec.secretName,
        webhookDeployment(objects).spec!.template.spec!.volumes!.find((v) => v.secret)!.secret!.secretName,
      );
      assert.deepEqual(cert.spec.issuerRef, { group: 'cert-manager.io', kind: 'Issuer', name: `${fullname(set)}-ca` });
      const caCert = one<KubernetesObject & { spec: Record<string, unknown> }>(
        objects,
        'Certificate',
        `${fullname(set)}-ca`,
      );
      assert.equal(caCert.spec.isCA, true);
      assert.equal(ofKind(objects, 'Issuer').length, 2, 'a self-signed Issuer and the CA Issuer');
      const mwc = one<V1MutatingWebhookConfiguration>(objects, 'MutatingWebhookConfiguration');
      assert.equal(
        mwc.metadata!.annotations!['cert-manager.io/inject-ca-from'],
        `${set.namespace}/${fullname(set)}-serving`,
      );
      assert.deepEqual(
        mwc.webhooks,
        [desiredWebhook(config.registration, undefined)],
        'caBundle left to the CA injector',
      );
      assert.equal(
        ofKind(objects, 'Job').length + ofKind(objects, 'CronJob').length,
        0,
        'no certs Job with cert-manager',
      );
    },
  },
  {
    title: 'token exchange, named ServiceAccounts, Events, Secret policy bound by name, external cert-manager issuer',
    release: 'dsw-tx',
    namespace: 'dsw-tx',
    values: async () =>
      merge(REQUIRED, {
        mlp: {
          projectSource: 'project-label',
          auth: {
            mode: 'token-exchange',
            tokenAudience: 'sts.example.com',
            tokenExchange: {
              issuer: 'https://issuer.example.com',
              audience: 'api.caraml',
              scope: 'openid email',
              clientSecretName: 'mlp-exchange-client',
            },
          },
        },
        fetcher: {
          rbac: {
            namespaces: ['dsw-ml-team'],
            serviceAccounts: ['default', 'flyte-task'],
            events: true,
            keepOnUninstall: true,
          },
        },
        tls: {
          mode: 'cert-manager',
          certManager: { issuerRef: { group: 'cert-manager.io', kind: 'ClusterIssuer', name: 'corp-ca' } },
        },
      }),
    check(objects, set) {
      const config = configOf(objects);
      assert.equal(config.injection.mlp.authMode, 'token-exchange');
      assert.equal(config.injection.mlp.exchangeIssuer, 'https://issuer.example.com');
      assert.equal(config.injection.mlp.exchangeAudience, 'api.caraml');
      assert.equal(config.injection.mlp.exchangeScope, 'openid email');
      assert.equal(config.injection.mlp.exchangeClientSecretName, 'mlp-exchange-client');
      assert.equal(config.injection.mlp.tokenAudience, 'sts.example.com');
      assert.equal(config.injection.mlp.projectSource, 'project-label');
      const fetcherRole = one(objects, 'ClusterRole', `${fullname(set)}-fetcher`) as { rules?: [] } & KubernetesObject;
      assert.deepEqual(normalRules(fetcherRole.rules), normalRules(FETCHER_RULES_WITH_EVENTS));
      assert.equal(fetcherRole.metadata!.annotations!['helm.sh/resource-policy'], 'keep');
      const binding = one<V1RoleBinding>(objects, 'RoleBinding', `${fullname(set)}-fetcher`);
      assert.deepEqual(binding.subjects, [
        { kind: 'ServiceAccount', name: 'default', namespace: 'dsw-ml-team' },
        { kind: 'ServiceAccount', name: 'flyte-task', namespace: 'dsw-ml-team' },
      ]);
      const cert = one<KubernetesObject & { spec: Record<string, unknown> }>(objects, 'Certificate');
      assert.deepEqual(cert.spec.issuerRef, { group: 'cert-manager.io', kind: 'ClusterIssuer', name: 'corp-ca' });
      const policyBinding = one<
        KubernetesObject & {
          spec: {
            policyName: string;
            validationActions: string[];
            matchResources: { namespaceSelector: V1LabelSelector };
          };
        }
      >(objects, 'ValidatingAdmissionPolicyBinding', `${fullname(set)}-fetcher-secrets`);
      assert.equal(
        policyBinding.spec.policyName,
        one(objects, 'ValidatingAdmissionPolicy', `${fullname(set)}-fetcher-secrets`).metadata!.name,
      );
      assert.deepEqual(policyBinding.spec.validationActions, ['Deny']);
      assert.deepEqual(policyBinding.spec.matchResources.namespaceSelector.matchExpressions, [
        { key: 'kubernetes.io/metadata.name', operator: 'In', values: ['dsw-ml-team'] },
      ]);
      assert.equal(ofKind(objects, 'Issuer').length, 0, 'no own issuers with an external issuerRef');
    },
  },
  {
    title: 'NetworkPolicy, ServiceMonitor, priority class and a custom namespaceSelector',
    release: 'dsw-obs',
    namespace: 'dsw-obs',
    values: async () =>
      merge(REQUIRED, {
        priorityClassName: 'system-cluster-critical',
        webhook: { namespaceSelector: { matchLabels: { 'flyte.org/tasks': 'true' } } },
        metrics: { serviceMonitor: { enabled: true, labels: { release: 'prometheus' } } },
        networkPolicy: {
          apiServerCIDRs: ['10.0.0.0/8'],
          apiServerFrom: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
              podSelector: { matchLabels: { 'k8s-app': 'konnectivity-agent' } },
            },
          ],
          metricsFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
        },
      }),
    check(objects, set) {
      const deployment = webhookDeployment(objects);
      assert.equal(deployment.spec!.template.spec!.priorityClassName, 'system-cluster-critical');
      const selector = configOf(objects).registration.namespaceSelector;
      assert.deepEqual(selector, {
        matchLabels: { 'flyte.org/tasks': 'true' },
        matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [set.namespace] }],
      });
      const service = one<V1Service>(objects, 'Service');
      const monitor = one<
        KubernetesObject & {
          spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] };
        }
      >(objects, 'ServiceMonitor');
      assert.equal(monitor.metadata!.labels!.release, 'prometheus');
      assert.deepEqual(monitor.spec.selector.matchLabels, service.spec!.selector);
      assert.ok(
        service.spec!.ports!.some((p) => p.name === monitor.spec.endpoints[0]!.port),
        'the ServiceMonitor scrapes a Service port by name',
      );
      assert.equal(monitor.spec.endpoints[0]!.path, '/metrics');
      const policy = one<V1NetworkPolicy>(objects, 'NetworkPolicy');
      assert.deepEqual(policy.spec!.podSelector?.matchLabels, deployment.spec!.selector.matchLabels);
      assert.deepEqual(policy.spec!.ingress![0], {
        ports: [{ port: 'https', protocol: 'TCP' }],
        from: [
          { ipBlock: { cidr: '10.0.0.0/8' } },
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
            podSelector: { matchLabels: { 'k8s-app': 'konnectivity-agent' } },
          },
        ],
      });
      assert.deepEqual(policy.spec!.ingress![1]?.ports, [{ port: 'http-metrics', protocol: 'TCP' }]);
    },
  },
  {
    title: "MLP behind a private CA (chart-made CA ConfigMaps), a proxy in the fetcher's env, a private fetcher image",
    release: 'dsw-ca',
    namespace: 'dsw-ca',
    values: async () => {
      const ca = await createCertificateAuthority('company CA (chart test)');
      return merge(REQUIRED, {
        mlp: { apiHost: 'https://mlp.internal.example.com' },
        fetcher: {
          rbac: { namespaces: ['dsw-ml-team'], flyteProjects: ['dsw-flyte'] },
          caBundle: { configMap: 'dsw-mlp-ca', key: 'bundle.pem', pem: ca.certPem },
          extraEnv: { HTTPS_PROXY: 'http://proxy.example.com:3128', NODE_USE_ENV_PROXY: '1' },
          imagePullSecrets: ['regcred', 'mirror-cred'],
        },
      });
    },
    async check(objects) {
      const { admin } = configOf(objects).injection.fetcher;
      assert.deepEqual(admin, {
        caConfigMap: 'dsw-mlp-ca',
        caConfigMapKey: 'bundle.pem',
        extraEnv: [
          { name: 'HTTPS_PROXY', value: 'http://proxy.example.com:3128' },
          { name: 'NODE_USE_ENV_PROXY', value: '1' },
        ],
        imagePullSecrets: ['regcred', 'mirror-cred'],
      });
      // One CA ConfigMap per fetcher namespace (a pod mounts only its own namespace's ConfigMaps).
      const maps = ofKind<KubernetesObject & { data: Record<string, string> }>(objects, 'ConfigMap').filter(
        (m) => m.metadata!.name === 'dsw-mlp-ca',
      );
      assert.deepEqual(maps.map((m) => m.metadata!.namespace).sort(), [...FLYTE_NAMESPACES].sort());
      for (const m of maps)
        assert.match(m.data['bundle.pem']!, /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
    },
  },
];

/** Every rendered object through the API server, namespaces first; pod templates under `restricted`. */
async function validateOnServer(cp: ControlPlane, rendered: Rendered): Promise<void> {
  for (const obj of rendered.objects) await dryRunCreate(cp.kubeConfig, obj);
  for (const { owner, template } of podTemplates(rendered.objects)) {
    // The template as a bare Pod in a namespace enforcing `restricted`: rejected unless compliant.
    // (The ServiceAccount is swapped for `default`: admission only checks that it exists.)
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `psa-${owner.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`.slice(0, 63).replace(/-$/, ''),
        namespace: PSA_NAMESPACE,
        labels: template.metadata?.labels,
      },
      spec: { ...template.spec!, serviceAccountName: 'default', restartPolicy: template.spec!.restartPolicy },
    };
    try {
      await dryRunCreate(cp.kubeConfig, pod);
    } catch (err) {
      throw new Error(`${owner}: its pod template fails Pod Security "restricted": ${(err as Error).message}`);
    }
  }
}

describe('deploy: Helm chart on a real API server', function () {
  let cp: ControlPlane;

  before(async function () {
    this.timeout(START_TIMEOUT_MS + PROVISION_TIMEOUT_MS);
    cp = await sharedControlPlane();
    await installStandInCrds(cp.kubeConfig);
    for (const ns of [...FLYTE_NAMESPACES, ...VALUE_SETS.map((s) => s.namespace)])
      await ensureNamespace(cp.kubeConfig, ns);
    await ensureNamespace(cp.kubeConfig, PSA_NAMESPACE, {
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/enforce-version': 'latest',
    });
  });

  it('the restricted namespace really refuses a pod that is not compliant (the check has teeth)', async () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'psa-negative-control', namespace: PSA_NAMESPACE },
      spec: { containers: [{ name: 'c', image: 'busybox:1' }] },
    };
    await assert.rejects(dryRunCreate(cp.kubeConfig, pod), /violates PodSecurity "restricted/);
  });

  it('the stand-in CRDs keep the fields of a ServiceMonitor through a dry-run', async () => {
    const monitor = {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: 'probe', namespace: PSA_NAMESPACE },
      spec: { endpoints: [{ port: 'http-metrics' }] },
    };
    const stored = (await dryRunCreate(cp.kubeConfig, monitor)) as typeof monitor;
    assert.deepEqual(stored.spec, monitor.spec);
  });

  for (const set of VALUE_SETS) {
    describe(set.title, () => {
      let rendered: Rendered;
      before(async function () {
        this.timeout(PROVISION_TIMEOUT_MS);
        rendered = await helmTemplate(set.release, set.namespace, await set.values());
      });

      it('every object passes server-side dry-run, every pod template passes Pod Security restricted', async function () {
        this.timeout(60_000);
        assert.ok(rendered.objects.length > 5, `rendered ${rendered.objects.map(describeObject).join(', ')}`);
        await validateOnServer(cp, rendered);
      });

      it('keeps the install invariants (availability, securityContext, selectors, one writer, least-privilege RBAC)', () => {
        assertInstallInvariants(rendered.objects, {
          namespace: set.namespace,
          fetcherClusterRole: `${fullname(set)}-fetcher`,
        });
      });

      it('renders what this value set asks for', async () => {
        await set.check(rendered.objects, set);
      });
    });
  }

  it('passes helm lint --strict', async function () {
    this.timeout(PROVISION_TIMEOUT_MS);
    const out = await helmLint(REQUIRED);
    assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  describe('values that cannot work fail the render with the value to set', () => {
    const cases: [string, object, RegExp][] = [
      ['no fetcher image', { mlp: { apiHost: MLP } }, /fetcher\.image is required/],
      ['no MLP host', { fetcher: { image: FETCHER_IMAGE } }, /mlp\.apiHost is required/],
      [
        'chart-rendered configuration with an own Secret but no caBundle',
        merge(REQUIRED, { tls: { mode: 'secret', secretName: 'mine' } }),
        /webhook\.register=false with tls\.mode=secret needs tls\.caBundle/,
      ],
      [
        'own Secret without its name',
        merge(REQUIRED, { tls: { mode: 'secret' } }),
        /tls\.mode=secret needs tls\.secretName/,
      ],
      [
        'token exchange without issuer',
        merge(REQUIRED, { mlp: { auth: { mode: 'token-exchange' } } }),
        /needs mlp\.auth\.tokenExchange\.issuer/,
      ],
      [
        'unknown TLS mode (values.schema.json)',
        merge(REQUIRED, { tls: { mode: 'acme' } }),
        /\/tls\/mode.*must be one of 'job', 'cert-manager', 'secret'/,
      ],
      [
        "a termination grace period the webhook's shutdown does not fit in",
        merge(REQUIRED, { terminationGracePeriodSeconds: SHUTDOWN_SECONDS }),
        new RegExp(
          `terminationGracePeriodSeconds=${SHUTDOWN_SECONDS} is too short: .* at least ${SHUTDOWN_SECONDS + 1} `,
        ),
      ],
      [
        'a CA bundle without the ConfigMap name to give it',
        merge(REQUIRED, {
          fetcher: {
            rbac: { namespaces: ['x'] },
            caBundle: { pem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' },
          },
        }),
        /fetcher\.caBundle\.pem needs fetcher\.caBundle\.configMap/,
      ],
      [
        'a CA bundle that is not PEM',
        merge(REQUIRED, {
          fetcher: { rbac: { namespaces: ['x'] }, caBundle: { configMap: 'mlp-ca', pem: 'not a certificate' } },
        }),
        /fetcher\.caBundle\.pem must be PEM CA certificate/,
      ],
      [
        'a CA bundle with no fetcher namespace to put it in',
        merge(REQUIRED, {
          fetcher: {
            caBundle: { configMap: 'mlp-ca', pem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' },
          },
        }),
        /no fetcher namespace is: set fetcher\.rbac\.namespaces/,
      ],
      [
        'an extra fetcher env name that is not one (values.schema.json)',
        merge(REQUIRED, { fetcher: { extraEnv: { 'NOT-AN-ENV': 'x' } } }),
        /invalid propertyName 'NOT-AN-ENV'[\s\S]*does not match pattern/,
      ],
      [
        'a ServiceMonitor whose scrapes the default NetworkPolicy refuses',
        merge(REQUIRED, { metrics: { serviceMonitor: { enabled: true } } }),
        /metrics\.serviceMonitor\.enabled=true with networkPolicy\.enabled=true \(the default\) needs networkPolicy\.metricsFrom/,
      ],
      [
        'a misspelt value (values.schema.json)',
        merge(REQUIRED, { fetcher: { imagePullPolicy: 'Always' } }),
        /\/fetcher.*additional properties 'imagePullPolicy' not allowed/,
      ],
    ];
    for (const [title, values, message] of cases) {
      it(title, async function () {
        this.timeout(PROVISION_TIMEOUT_MS);
        assert.match(await helmTemplateError(values), message);
      });
    }
    // Against a cluster Helm lists group/version/Kind from discovery ("v1/Pod"); offline only group/versions.
    it('a cluster that does not serve ValidatingAdmissionPolicy (the Secret policy is on by default)', async function () {
      this.timeout(PROVISION_TIMEOUT_MS);
      assert.match(
        await helmTemplateError(REQUIRED, ['--api-versions', 'v1/Pod']),
        /fetcher\.secretPolicy\.enabled=true \(the default\) needs the ValidatingAdmissionPolicy API .* set fetcher\.secretPolicy\.enabled=false knowing that/,
      );
      const served = await helmTemplate('dsw-vap', 'dsw-vap', REQUIRED, [
        '--api-versions',
        'v1/Pod',
        '--api-versions',
        'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy',
      ]);
      assert.deepEqual(
        ofKind(served.objects, 'ValidatingAdmissionPolicy')
          .map((p) => p.metadata!.name)
          .sort(),
        ['dsw-vap-dap-secret-webhook-certs-secrets', 'dsw-vap-dap-secret-webhook-fetcher-secrets'],
      );
      const off = await helmTemplate(
        'dsw-vap',
        'dsw-vap',
        merge(REQUIRED, { fetcher: { secretPolicy: { enabled: false } } }),
        ['--api-versions', 'v1/Pod'],
      );
      assert.equal(ofKind(off.objects, 'ValidatingAdmissionPolicy').length, 0, 'the documented switch');
    });
    it('a Kubernetes version below the one minimum (Chart.yaml kubeVersion)', async function () {
      this.timeout(PROVISION_TIMEOUT_MS);
      assert.match(
        await helmTemplateError(REQUIRED, ['--kube-version', '1.29.9']),
        /chart requires kubeVersion: >=1\.30\.0-0 which is incompatible with Kubernetes v1\.29\.9/,
      );
    });
  });
});
