/**
 * What every install (any value set, chart or kustomize) must satisfy, checked on the rendered
 * objects. The API server's own verdict (dry-run, Pod Security) is checked separately.
 */
import assert from 'node:assert/strict';
import type {
  KubernetesObject,
  V1ClusterRole,
  V1LabelSelector,
  V1MutatingWebhookConfiguration,
  V1PodDisruptionBudget,
  V1Service,
} from '@kubernetes/client-node';
import { CONFIG_VARS, type Config, loadConfig } from '../../../webhook/config.js';
import { DEFAULT_SHUTDOWN_GRACE_MS } from '../../../webhook/server/serve.js';
import { maybe, normalRules, ofKind, one, rulesOf, webhookDeployment, webhookEnv } from './objects.js';

/** What the webhook takes after SIGTERM at most: the drain delay, then in-flight requests. */
const DEFAULT_DRAIN_DELAY_SECONDS = Number(CONFIG_VARS.find((v) => v.name === 'WEBHOOK_DRAIN_DELAY_SECONDS')!.default);
/** The default drain delay plus the in-flight bound: the shortest shutdown the pod must allow for. */
export const SHUTDOWN_SECONDS = DEFAULT_DRAIN_DELAY_SECONDS + DEFAULT_SHUTDOWN_GRACE_MS / 1000;

export const FETCHER_RULES = [{ apiGroups: [''], resources: ['secrets'], verbs: ['create'] }];
export const FETCHER_RULES_WITH_EVENTS = [
  ...FETCHER_RULES,
  { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create'] },
];

/** Resources any of our Roles may name; everything else would be a privilege we do not need. */
const ALLOWED_RESOURCES = new Set([
  'admissionregistration.k8s.io/mutatingwebhookconfigurations',
  '/secrets',
  '/events',
  'events.k8s.io/events',
]);

function selectorMatches(
  selector: Record<string, string> | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
}

/** The config the webhook will load from the Deployment's env: must be valid, as the webhook exits otherwise. */
export function configOf(objects: KubernetesObject[]): Config {
  const loaded = loadConfig(webhookEnv(webhookDeployment(objects)));
  assert.ok(loaded.ok, `the webhook would refuse this env:\n${loaded.ok ? '' : loaded.problems.join('\n')}`);
  return loaded.config;
}

export interface InstallExpectations {
  namespace: string;
  /** The fetcher ClusterRole's name (its RoleBindings must point at it). */
  fetcherClusterRole: string;
}

export function assertInstallInvariants(objects: KubernetesObject[], want: InstallExpectations): void {
  const deployment = webhookDeployment(objects);
  const spec = deployment.spec!;
  const pod = spec.template.spec!;
  const config = configOf(objects);

  // Availability: two replicas, never both down on purpose, spread over nodes.
  assert.equal(spec.replicas, 2, 'two replicas');
  assert.equal(spec.strategy?.rollingUpdate?.maxUnavailable, 0, 'rolling updates keep every ready replica');
  const selector = spec.selector.matchLabels!;
  assert.ok(
    selectorMatches(selector, spec.template.metadata?.labels),
    'the Deployment selector matches its pod template',
  );
  const pdb = one<V1PodDisruptionBudget>(objects, 'PodDisruptionBudget');
  assert.equal(pdb.spec!.minAvailable, 1);
  assert.deepEqual(pdb.spec!.selector!.matchLabels, selector, 'the PDB selects the webhook pods');
  assert.ok(
    pod.topologySpreadConstraints?.some(
      (c) =>
        c.topologyKey === 'kubernetes.io/hostname' &&
        selectorMatches(c.labelSelector?.matchLabels, spec.template.metadata?.labels),
    ),
    'replicas spread across nodes',
  );
  const drain = Number(
    pod.containers.find((c) => c.name === 'webhook')?.env?.find((e) => e.name === 'WEBHOOK_DRAIN_DELAY_SECONDS')
      ?.value ?? DEFAULT_DRAIN_DELAY_SECONDS,
  );
  const shutdown = drain + DEFAULT_SHUTDOWN_GRACE_MS / 1000;
  assert.ok(
    (pod.terminationGracePeriodSeconds ?? 0) > shutdown,
    `terminationGracePeriodSeconds above the webhook's ${shutdown} s shutdown (drain delay + in-flight requests)`,
  );

  // Service: 443 → the HTTPS container port; metrics port by name; selects the pods.
  const service = one<V1Service>(objects, 'Service');
  assert.deepEqual(service.spec!.selector, selector, 'the Service selects the webhook pods');
  const container = pod.containers.find((c) => c.name === 'webhook')!;
  const https = service.spec!.ports!.find((p) => p.name === 'https')!;
  assert.equal(https.port, config.registration.servicePort, 'WEBHOOK_SERVICE_PORT is the Service port');
  assert.equal(https.targetPort, 'https');
  assert.equal(
    container.ports!.find((p) => p.name === 'https')!.containerPort,
    config.server.port,
    'WEBHOOK_PORT is the https container port',
  );
  assert.equal(
    container.ports!.find((p) => p.name === 'http-metrics')!.containerPort,
    config.server.healthPort,
    'HEALTH_PORT is the metrics container port',
  );
  assert.ok(
    service.spec!.ports!.some((p) => p.name === 'http-metrics'),
    'the Service exposes the metrics port',
  );
  assert.equal(config.registration.serviceName, service.metadata!.name, 'WEBHOOK_SERVICE_NAME is the Service');
  assert.equal(
    config.registration.serviceNamespace,
    want.namespace,
    'WEBHOOK_SERVICE_NAMESPACE is the install namespace',
  );

  // Probes on the health port; requests and limits; restricted security context.
  assert.equal(container.readinessProbe?.httpGet?.path, '/readyz');
  assert.equal(
    container.livenessProbe?.httpGet?.path,
    '/healthz',
    'liveness stays 200 while the webhook drains (/readyz is 503 then)',
  );
  assert.equal(container.readinessProbe?.httpGet?.port, 'http-metrics');
  assert.equal(
    container.lifecycle?.preStop,
    undefined,
    'no preStop hook: the image has no shell, the webhook drains itself',
  );
  for (const r of ['cpu', 'memory']) {
    assert.ok(container.resources?.requests?.[r], `request for ${r}`);
    assert.ok(container.resources?.limits?.[r], `limit for ${r}`);
  }
  assert.equal(pod.securityContext?.runAsNonRoot, true);
  assert.ok((pod.securityContext?.runAsUser ?? 0) > 0, 'a numeric non-root uid');
  assert.equal(pod.securityContext?.seccompProfile?.type, 'RuntimeDefault');
  assert.equal(container.securityContext?.allowPrivilegeEscalation, false);
  assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
  assert.deepEqual(container.securityContext?.capabilities?.drop, ['ALL']);

  // TLS files come from one Secret volume mounted without subPath (so rotation reaches the pod).
  const tlsVolume = pod.volumes?.find((v) => v.secret !== undefined);
  assert.ok(tlsVolume, 'a Secret volume with the TLS files');
  // Group-readable for the pod's fsGroup only. (Written in decimal in the manifests: "0440" is
  // octal to kubectl and Helm but decimal 440 to a YAML 1.2 reader.)
  assert.equal(tlsVolume.secret!.defaultMode, 0o440, 'TLS files are mode 0440');
  const mount = container.volumeMounts!.find((m) => m.name === tlsVolume.name)!;
  assert.equal(mount.subPath, undefined, 'no subPath: the kubelet must be able to swap rotated files');
  for (const file of [config.server.certFile, config.server.keyFile, config.server.caFile]) {
    assert.ok(file.startsWith(`${mount.mountPath}/`), `${file} is inside the TLS mount`);
  }

  // The namespaceSelector can never select the webhook's own namespace or the system ones.
  const nsSelector = config.registration.namespaceSelector as V1LabelSelector | null;
  assert.ok(nsSelector, 'WEBHOOK_NAMESPACE_SELECTOR is set');
  const excluded = (nsSelector.matchExpressions ?? [])
    .filter((e) => e.key === 'kubernetes.io/metadata.name' && e.operator === 'NotIn')
    .flatMap((e) => e.values ?? []);
  assert.ok(excluded.includes(want.namespace), `the webhook's own namespace ${want.namespace} is excluded`);

  // Exactly one writer of the MutatingWebhookConfiguration.
  const mwcs = ofKind<V1MutatingWebhookConfiguration>(objects, 'MutatingWebhookConfiguration');
  const registrationRole = ofKind<V1ClusterRole>(objects, 'ClusterRole').find((r) =>
    r.rules?.some((x) => x.resources?.includes('mutatingwebhookconfigurations') && x.verbs.includes('create')),
  );
  if (config.registration.enabled) {
    assert.equal(mwcs.length, 0, 'the webhook registers itself, so the manifests must not contain the configuration');
    assert.ok(registrationRole, 'the webhook may write its configuration');
    assert.equal(pod.automountServiceAccountToken, true, 'registration needs the token');
    assert.deepEqual(
      normalRules(registrationRole.rules),
      normalRules([
        {
          apiGroups: ['admissionregistration.k8s.io'],
          resources: ['mutatingwebhookconfigurations'],
          resourceNames: [config.registration.configurationName],
          verbs: ['get', 'update'],
        },
        {
          apiGroups: ['admissionregistration.k8s.io'],
          resources: ['mutatingwebhookconfigurations'],
          verbs: ['create'],
        },
      ]),
      'registration RBAC: get/update on the one name, create (which resourceNames cannot limit)',
    );
  } else {
    assert.equal(mwcs.length, 1, 'the chart renders the configuration when the webhook does not register');
    assert.equal(registrationRole, undefined, 'no registration RBAC when the webhook does not register');
    assert.equal(pod.automountServiceAccountToken, false, 'no API token in the webhook pod when it writes nothing');
    assert.equal(mwcs[0]!.metadata!.name, config.registration.configurationName);
  }

  // Least privilege across every Role and ClusterRole: known resources only, no wildcards, and
  // every verb except create limited to named objects.
  for (const { owner, rule } of rulesOf(objects)) {
    for (const field of [rule.apiGroups, rule.resources, rule.verbs, rule.resourceNames]) {
      assert.ok(!(field ?? []).includes('*'), `${owner}: no wildcards`);
    }
    assert.equal(rule.nonResourceURLs, undefined, `${owner}: no non-resource URLs`);
    for (const group of rule.apiGroups ?? []) {
      for (const resource of rule.resources ?? []) {
        assert.ok(
          ALLOWED_RESOURCES.has(`${group}/${resource}`),
          `${owner}: ${group}/${resource} is not a resource this install needs`,
        );
      }
    }
    for (const verb of rule.verbs) {
      if (verb !== 'create')
        assert.ok(rule.resourceNames?.length, `${owner}: ${verb} must be limited by resourceNames`);
      assert.ok(['get', 'update', 'create', 'delete'].includes(verb), `${owner}: verb ${verb} is not needed`);
    }
  }

  // The fetcher: create secrets, nothing else; every RoleBinding to it points at that ClusterRole.
  const fetcherRole = maybe<V1ClusterRole>(objects, 'ClusterRole', want.fetcherClusterRole);
  assert.ok(fetcherRole, `ClusterRole ${want.fetcherClusterRole}`);
  const fetcherRules = normalRules(fetcherRole.rules);
  assert.ok(
    JSON.stringify(fetcherRules) === JSON.stringify(normalRules(FETCHER_RULES)) ||
      JSON.stringify(fetcherRules) === JSON.stringify(normalRules(FETCHER_RULES_WITH_EVENTS)),
    `the fetcher ClusterRole grants create on secrets (and events) only, got ${JSON.stringify(fetcherRules)}`,
  );
}
