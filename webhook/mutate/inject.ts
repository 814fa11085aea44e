/**
 * The mutation: pod + config → mutated pod + plan, or a denial. Pure (no I/O, no clock, no
 * randomness: the caller passes a nonce, the admission request's uid, for the Secret name).
 */
import { createHash } from 'node:crypto';
import type { V1Container, V1EnvVar, V1Pod } from '@kubernetes/client-node';
import { PLAN_VERSION, isSecretDataKey, type Plan, type PlanFile, type PlanSecretKey } from '../../contract/plan.js';
import { FETCHER_VOLUME_PATH } from '../../contract/fetcher-env.js';
import { readSecretAnnotations } from '../flyte/annotations.js';
import { ENV_PREFIX, FILE_PREFIX } from '../flyte/flytekit-names.js';
import type { FileMountType, InjectionConfig } from '../config.js';
import { findConflicts, isDenial, resolveDelivery, type Delivery, type Denial } from './deliveries.js';
import { FETCHER_CONTAINER_NAME, SECRETS_VOLUME_NAME, fetcherContainer, fetcherVolumes } from './fetcher-parts.js';
import { ensureWiring, type Wiring } from './wiring.js';

export const INJECT_LABEL = 'inject-flyte-secrets';
export const INJECTED_ANNOTATION = 'dap-secret-webhook.caraml.dev/injected';
export const SECRET_NAME_ANNOTATION = 'dap-secret-webhook.caraml.dev/secret-name';
export const PROJECT_LABEL = 'project';

export interface InjectionInput {
  pod: V1Pod;
  /** The request's namespace (a new pod's metadata.namespace may be empty at admission). */
  namespace: string;
  /** Unique per admission request (its uid): makes the per-pod Secret name unique, also for generateName pods. */
  nonce: string;
  config: InjectionConfig;
}

export type InjectionOutcome =
  | { kind: 'skip'; why: 'not-labelled' | 'no-secret-annotations' }
  | { kind: 'deny'; denials: Denial[] }
  | { kind: 'inject'; pod: V1Pod; plan: Plan; warnings: string[]; secretsByMount: Record<FileMountType, number>; reinvocation: boolean };

const hash = (text: string, length: number) => createHash('sha256').update(text).digest('hex').slice(0, length);

/** A DNS subdomain ≤ 253 characters: the pod's name (or generateName) plus a per-request suffix. */
export function perPodSecretName(pod: V1Pod, nonce: string): string {
  const suffix = `-flyte-secrets-${hash(nonce, 10)}`;
  const base = (pod.metadata?.name || pod.metadata?.generateName || 'pod')
    .slice(0, 253 - suffix.length)
    .replace(/[-.]+$/, '');
  return (base || 'pod') + suffix;
}

/** Secret data keys: the MLP name when it is a valid key, else a sanitised name plus a hash; always unique. */
function dataKeys(mlpSecrets: string[]): Map<string, string> {
  const keys = new Map<string, string>();
  const used = new Set<string>();
  for (const name of mlpSecrets) {
    let key = isSecretDataKey(name) && !used.has(name) ? name : '';
    for (let len = 8; key === '' || used.has(key); len += 4) {
      // A generated key never starts with "." (Kubernetes refuses a leading "..", and "." + suffix would make one).
      key = `${name.replace(/[^-._a-zA-Z0-9]/g, '_').replace(/^\./, '_').slice(0, 200)}.${hash(name, len)}`;
    }
    keys.set(name, key);
    used.add(key);
  }
  return keys;
}

function mlpProject(input: InjectionInput): string | Denial {
  if (input.config.mlp.projectSource === 'namespace') return input.namespace;
  const project = input.pod.metadata?.labels?.[PROJECT_LABEL] ?? '';
  if (project !== '') return project;
  return { reason: 'no-project', message: `the pod has no "${PROJECT_LABEL}" label, and MLP_PROJECT_SOURCE=project-label takes the MLP project from it; add the label or use MLP_PROJECT_SOURCE=namespace` };
}

function buildPlan(deliveries: Delivery[], project: string, secretName: string, pod: V1Pod): { plan: Plan; keys: Map<string, string> } {
  const files: PlanFile[] = [];
  const seenPaths = new Set<string>();
  for (const d of deliveries.filter((x) => x.mount === 'FILE')) {
    const path = d.pathSegments.join('/');
    if (!seenPaths.has(path)) files.push({ mlpSecret: d.mlpSecret, path });
    seenPaths.add(path);
  }
  const envSecrets = [...new Set(deliveries.filter((d) => d.mount === 'ENV_VAR').map((d) => d.mlpSecret))];
  const keys = dataKeys(envSecrets);
  const secretKeys: PlanSecretKey[] = envSecrets.map((mlpSecret) => ({ mlpSecret, key: keys.get(mlpSecret)! }));
  // With an fsGroup the volume is group-owned, so group-read is enough; without one the task
  // may run as any uid, and the volume is private to this pod anyway (tmpfs, not shared).
  const groupShared = pod.spec?.securityContext?.fsGroup !== undefined;
  const plan: Plan = {
    version: PLAN_VERSION,
    project,
    fileRoot: files.length > 0 ? FETCHER_VOLUME_PATH : '',
    files,
    fileMode: groupShared ? 0o440 : 0o444,
    dirMode: groupShared ? 0o750 : 0o755,
    secret: secretKeys.length > 0 ? { name: secretName, keys: secretKeys } : null,
  };
  return { plan, keys };
}

function taskWiring(deliveries: Delivery[], plan: Plan, keys: Map<string, string>, secretsDir: string): Wiring {
  const env: V1EnvVar[] = [];
  const add = (e: V1EnvVar) => {
    if (!env.some((x) => x.name === e.name)) env.push(e);
  };
  const fromSecret = (name: string, mlpSecret: string): V1EnvVar => ({ name, valueFrom: { secretKeyRef: { name: plan.secret!.name, key: keys.get(mlpSecret)! } } });
  if (plan.secret) add({ name: 'FLYTE_SECRETS_ENV_PREFIX', value: ENV_PREFIX });
  if (plan.files.length > 0) {
    add({ name: 'FLYTE_SECRETS_DEFAULT_DIR', value: secretsDir });
    add({ name: 'FLYTE_SECRETS_FILE_PREFIX', value: FILE_PREFIX });
  }
  for (const d of deliveries) {
    if (d.mount === 'ENV_VAR') add(fromSecret(d.envName, d.mlpSecret));
    if (d.secret.envVar) add(d.mount === 'ENV_VAR' ? fromSecret(d.secret.envVar, d.mlpSecret) : { name: d.secret.envVar, value: [secretsDir, ...d.pathSegments].join('/') });
  }
  const mounts = plan.files.length > 0 ? [{ name: SECRETS_VOLUME_NAME, mountPath: secretsDir, readOnly: true }] : [];
  return { env, mounts };
}

/**
 * Native sidecars (init containers with restartPolicy Always, e.g. a mesh proxy) at the front
 * start first and keep running; the fetcher goes right after them, so its calls can use them,
 * and before every other init container, so those can use the secrets.
 */
function fetcherPosition(initContainers: V1Container[]): number {
  let i = 0;
  while (i < initContainers.length && initContainers[i]!.restartPolicy === 'Always') i++;
  return i;
}

/**
 * A pod marked as injected must really carry the injection; a copy of an injected pod's spec
 * (`kubectl get -o yaml | kubectl create -f -`) keeps the annotation but is a different pod.
 */
function staleInjection(pod: V1Pod, plan: Plan, config: InjectionConfig): Denial[] {
  const present = new Set((pod.spec?.volumes ?? []).map((v) => v.name));
  const missing = [
    ...((pod.spec?.initContainers ?? []).some((c) => c.name === FETCHER_CONTAINER_NAME) ? [] : [`the ${FETCHER_CONTAINER_NAME} init container`]),
    ...fetcherVolumes(plan, config).filter((v) => !present.has(v.name)).map((v) => `the volume ${v.name}`),
    ...(plan.secret && !pod.metadata?.annotations?.[SECRET_NAME_ANNOTATION] ? [`the ${SECRET_NAME_ANNOTATION} annotation`] : []),
  ];
  if (missing.length === 0) return [];
  return [{
    reason: 'stale-injection',
    message: `the pod is annotated ${INJECTED_ANNOTATION}: "true" but lacks ${missing.join(', ')} (was it copied from another pod?); remove the ${INJECTED_ANNOTATION} and ${SECRET_NAME_ANNOTATION} annotations and create it again`,
  }];
}

/** Our volume/container names must be free unless this pod is already ours. */
function nameCollisions(pod: V1Pod, volumeNames: string[]): Denial[] {
  const denials: Denial[] = [];
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  if (containers.some((c) => c.name === FETCHER_CONTAINER_NAME)) {
    denials.push({ reason: 'name-collision', message: `the pod already has a container named "${FETCHER_CONTAINER_NAME}", which the secret fetcher needs; rename that container` });
  }
  for (const name of volumeNames) {
    if (pod.spec?.volumes?.some((v) => v.name === name)) {
      denials.push({ reason: 'name-collision', message: `the pod already has a volume named "${name}", which the secret injection needs; rename that volume` });
    }
  }
  return denials;
}

/** A container whose env and volumeMounts arrays may be appended to without touching the original. */
function copyContainer(c: V1Container): V1Container {
  const copy = { ...c };
  if (c.env) copy.env = [...c.env];
  if (c.volumeMounts) copy.volumeMounts = [...c.volumeMounts];
  return copy;
}

/**
 * Copies exactly what the mutation edits (annotations, the container lists and their env and
 * mounts, the volume list) and shares the rest with the input: a deep clone of every pod was
 * the largest cost per admission, and the input is never modified either way.
 */
function copyForMutation(pod: V1Pod): V1Pod {
  const out: V1Pod = { ...pod };
  if (pod.metadata) out.metadata = { ...pod.metadata };
  if (pod.spec) {
    out.spec = { ...pod.spec, containers: (pod.spec.containers ?? []).map(copyContainer) };
    if (pod.spec.initContainers) out.spec.initContainers = pod.spec.initContainers.map(copyContainer);
    if (pod.spec.volumes) out.spec.volumes = [...pod.spec.volumes];
  }
  return out;
}

export function injectSecrets(input: InjectionInput): InjectionOutcome {
  const { pod, config } = input;
  if (pod.metadata?.labels?.[INJECT_LABEL] !== 'true') return { kind: 'skip', why: 'not-labelled' };

  const { secrets, errors } = readSecretAnnotations(pod.metadata?.annotations);
  const denials: Denial[] = errors.map((e) => ({ reason: 'malformed-annotation', message: e.message }));
  const deliveries: Delivery[] = [];
  for (const { annotation, secret } of secrets) {
    const d = resolveDelivery(annotation, secret, config.defaultMountType);
    if (isDenial(d)) denials.push(d);
    else deliveries.push(d);
  }
  denials.push(...findConflicts(deliveries));
  const project = mlpProject(input);
  if (typeof project !== 'string') denials.push(project);
  if (denials.length > 0) return { kind: 'deny', denials };
  if (deliveries.length === 0) return { kind: 'skip', why: 'no-secret-annotations' };

  const annotations = pod.metadata?.annotations ?? {};
  const reinvocation = annotations[INJECTED_ANNOTATION] === 'true';
  const secretName = (reinvocation && annotations[SECRET_NAME_ANNOTATION]) || perPodSecretName(pod, input.nonce);
  const { plan, keys } = buildPlan(deliveries, project as string, secretName, pod);

  if (reinvocation) {
    const stale = staleInjection(pod, plan, config);
    if (stale.length > 0) return { kind: 'deny', denials: stale };
  }

  const out = copyForMutation(pod);
  const spec = (out.spec ??= { containers: [] });
  spec.containers ??= []; // JSON from Go may carry `null`; the API server's validation comes after us
  const metadata = (out.metadata ??= {});
  if (!reinvocation) {
    const volumes = fetcherVolumes(plan, config);
    const collisions = nameCollisions(out, volumes.map((v) => v.name));
    if (collisions.length > 0) return { kind: 'deny', denials: collisions };
    const init = spec.initContainers ?? [];
    const at = fetcherPosition(init);
    spec.initContainers = [...init.slice(0, at), fetcherContainer(plan, config), ...init.slice(at)];
    spec.volumes = [...(spec.volumes ?? []), ...volumes];
    metadata.annotations = { ...metadata.annotations, [INJECTED_ANNOTATION]: 'true', ...(plan.secret ? { [SECRET_NAME_ANNOTATION]: plan.secret.name } : {}) };
  }

  // Only containers that start after the fetcher: an earlier one (a native sidecar, or an init
  // container a later webhook put in front on reinvocation) would wait forever for a Secret
  // that the fetcher has not created yet.
  const init = spec.initContainers ?? [];
  const afterFetcher = init.slice(init.findIndex((c) => c.name === FETCHER_CONTAINER_NAME) + 1);
  const wiring = taskWiring(deliveries, plan, keys, config.secretsDir);
  const warnings: string[] = [];
  for (const container of [...afterFetcher, ...spec.containers]) warnings.push(...ensureWiring(container, wiring));

  const secretsByMount: Record<FileMountType, number> = { FILE: 0, ENV_VAR: 0 };
  for (const d of deliveries) secretsByMount[d.mount] += 1;
  return { kind: 'inject', pod: out, plan, warnings, secretsByMount, reinvocation };
}
