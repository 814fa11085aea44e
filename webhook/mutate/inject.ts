/**
 * The mutation: pod + config → mutated pod + plan, or a denial. Pure (no I/O, no clock, no
 * randomness: the caller passes a nonce, the admission request's uid, for the Secret name).
 */
import { hash as sha256 } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { V1Container, V1EnvVar, V1Pod } from '@kubernetes/client-node';
import { FETCHER_VOLUME_PATH } from '../../contract/fetcher-env.js';
import {
  isSecretDataKey,
  PLAN_ENV,
  PLAN_VERSION,
  type Plan,
  type PlanFile,
  type PlanSecretKey,
} from '../../contract/plan.js';
import type { AdmissionLimits, FileMountType, InjectionConfig } from '../config.js';
import { readSecretAnnotations, rememberDecoded, secretAnnotationKeys } from '../flyte/annotations.js';
import { ENV_PREFIX, FILE_PREFIX } from '../flyte/flytekit-names.js';
import { quote } from '../quote.js';
import {
  type Delivery,
  type Denial,
  findConflicts,
  groupVersionAliases,
  isDenial,
  resolveDelivery,
} from './deliveries.js';
import { withPullSecrets } from './fetcher-admin-parts.js';
import {
  FETCHER_CONTAINER_NAME,
  fetcherContainer,
  fetcherVolumes,
  isFetcherImage,
  SECRETS_VOLUME_NAME,
} from './fetcher-parts.js';
import { containerLookup, DEFAULT_DIR_VAR, ENV_PREFIX_VAR, FILE_PREFIX_VAR } from './flytekit-settings.js';
import { ensureWiring, type Wiring } from './wiring.js';

export const INJECT_LABEL = 'inject-flyte-secrets';
const INJECTED_ANNOTATION = 'dap-secret-webhook.caraml.dev/injected';
const SECRET_NAME_ANNOTATION = 'dap-secret-webhook.caraml.dev/secret-name';
const PROJECT_LABEL = 'project';

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
  | {
      kind: 'inject';
      pod: V1Pod;
      plan: Plan;
      warnings: string[];
      secretsByMount: Record<FileMountType, number>;
      reinvocation: boolean;
      /** Keeps this pod's decoded annotations for the next pods: call once the pod is admitted. */
      remember: () => void;
    };

const hash = (text: string, length: number) => sha256('sha256', text).slice(0, length);

const NAMED_INFIX = '-flyte-secrets-';
const GENERATED_INFIX = '-flyte-secrets-gen-';
const HASH_LENGTH = 10;
/** Where the API server cuts generateName before adding 5 random characters (k8s.io/apiserver). */
const MAX_GENERATE_NAME_BASE = 58;
const MAX_ANNOTATION_KEY_LENGTH = 253 + 1 + 63;

/**
 * The per-pod Secret name's two forms, from what the pod is named at admission:
 * `<name cut to 228>-flyte-secrets-<10 hex>`, or for a pod the API server will name from
 * `generateName`, `<generateName cut to 58>-flyte-secrets-gen-<10 hex>` — 58 is where the API
 * server cuts generateName, so the fetcher Secret policy (deploy/) can derive that base exactly
 * from the pod's final name. The `-gen-` form ends differently, so no named pod's Secret name can
 * be read as a generated pod's or the other way round.
 */
function secretNameParts(pod: V1Pod): { base: string; infix: string } {
  const cut = (text: string, max: number): string => text.slice(0, max).replace(/[-.]+$/, '');
  const name = pod.metadata?.name;
  if (name) return { base: cut(name, 253 - NAMED_INFIX.length - HASH_LENGTH) || 'pod', infix: NAMED_INFIX };
  const generateName = pod.metadata?.generateName;
  if (generateName) return { base: cut(generateName, MAX_GENERATE_NAME_BASE) || 'pod', infix: GENERATED_INFIX };
  return { base: 'pod', infix: NAMED_INFIX };
}

/** A DNS subdomain ≤ 253 characters: see secretNameParts, plus a per-request hash. */
export function perPodSecretName(pod: V1Pod, nonce: string): string {
  const { base, infix } = secretNameParts(pod);
  return base + infix + hash(nonce, HASH_LENGTH);
}

/** Whether `name` is what perPodSecretName gives for this pod (with some request's nonce). */
function isPerPodSecretName(pod: V1Pod, name: string): boolean {
  const { base, infix } = secretNameParts(pod);
  return (
    name.length === base.length + infix.length + HASH_LENGTH &&
    name.startsWith(base + infix) &&
    /^[0-9a-f]{10}$/.test(name.slice(-HASH_LENGTH))
  );
}

/** Secret data keys: the MLP name when it is a valid key, else a sanitised name plus a hash; always unique. */
function dataKeys(mlpSecrets: string[]): Map<string, string> {
  const keys = new Map<string, string>();
  const used = new Set<string>();
  for (const name of mlpSecrets) {
    let key = isSecretDataKey(name) && !used.has(name) ? name : '';
    for (let len = 8; key === '' || used.has(key); len += 4) {
      // A generated key never starts with "." (Kubernetes refuses a leading "..", and "." + suffix would make one).
      key = `${name
        .replace(/[^-._a-zA-Z0-9]/g, '_')
        .replace(/^\./, '_')
        .slice(0, 200)}.${hash(name, len)}`;
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
  return {
    reason: 'no-project',
    message:
      `the pod has no "${PROJECT_LABEL}" label, and MLP_PROJECT_SOURCE=project-label takes the MLP project from it; ` +
      `add the label or use MLP_PROJECT_SOURCE=namespace`,
  };
}

function buildPlan(
  deliveries: Delivery[],
  project: string,
  secretName: string,
  pod: V1Pod,
): { plan: Plan; keys: Map<string, string> } {
  const files: PlanFile[] = [];
  const seenPaths = new Set<string>();
  const addFile = (mlpSecret: string, segments: string[]) => {
    const path = segments.join('/');
    if (!seenPaths.has(path)) files.push({ mlpSecret, path });
    seenPaths.add(path);
  };
  for (const d of deliveries) if (d.mount === 'FILE') addFile(d.mlpSecret, d.pathSegments);
  for (const d of deliveries) if (d.mount === 'FILE' && d.aliasPathSegments) addFile(d.mlpSecret, d.aliasPathSegments);
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

/** The env and mount one container needs, for the directory its flytekit looks in. */
function taskWiring(deliveries: Delivery[], plan: Plan, keys: Map<string, string>, secretsDir: string): Wiring {
  const env: V1EnvVar[] = [];
  const names = new Set<string>();
  const add = (e: V1EnvVar) => {
    if (!names.has(e.name)) env.push(e);
    names.add(e.name);
  };
  const fromSecret = (name: string, mlpSecret: string): V1EnvVar => ({
    name,
    valueFrom: { secretKeyRef: { name: plan.secret!.name, key: keys.get(mlpSecret)! } },
  });
  if (plan.secret) add({ name: ENV_PREFIX_VAR, value: ENV_PREFIX });
  if (plan.files.length > 0) {
    add({ name: DEFAULT_DIR_VAR, value: secretsDir });
    add({ name: FILE_PREFIX_VAR, value: FILE_PREFIX });
  }
  for (const d of deliveries) {
    if (d.mount === 'ENV_VAR') add(fromSecret(d.envName, d.mlpSecret));
    if (d.secret.envVar)
      add(
        d.mount === 'ENV_VAR'
          ? fromSecret(d.secret.envVar, d.mlpSecret)
          : { name: d.secret.envVar, value: [secretsDir, ...d.pathSegments].join('/') },
      );
  }
  for (const d of deliveries) if (d.aliasEnvName) add(fromSecret(d.aliasEnvName, d.mlpSecret));
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
 * The "injected" annotation vouches only for what is really ours: a copy of an injected pod's
 * spec (`kubectl get -o yaml | kubectl create -f -`) or a pod written to look injected keeps
 * the annotation but not this webhook's fetcher image, this pod's plan, or a Secret name made
 * for this pod. Any of those missing or different: denied, never trusted.
 */
function staleInjection(pod: V1Pod, plan: Plan, config: InjectionConfig): Denial[] {
  const present = new Set((pod.spec?.volumes ?? []).map((v) => v.name));
  const fetcher = (pod.spec?.initContainers ?? []).find((c) => c.name === FETCHER_CONTAINER_NAME);
  const secretName = pod.metadata?.annotations?.[SECRET_NAME_ANNOTATION];
  const planValue = fetcher?.env?.find((e) => e.name === PLAN_ENV)?.value;
  const problems = [
    ...(fetcher ? [] : [`lacks the ${FETCHER_CONTAINER_NAME} init container`]),
    ...(fetcher && !isFetcherImage(fetcher.image ?? '', config.fetcher.image)
      ? [
          `its ${FETCHER_CONTAINER_NAME} init container runs ` +
            `${quote(fetcher.image ?? '')}, not this webhook's fetcher image`,
        ]
      : []),
    ...(fetcher && !samePlan(planValue, plan)
      ? [
          `its ${FETCHER_CONTAINER_NAME} init container's ${PLAN_ENV} ` +
            `is not the plan for this pod's secret annotations`,
        ]
      : []),
    ...fetcherVolumes(plan, config)
      .filter((v) => !present.has(v.name))
      .map((v) => `lacks the volume ${v.name}`),
    ...(plan.secret && !secretName ? [`lacks the ${SECRET_NAME_ANNOTATION} annotation`] : []),
    ...(plan.secret && secretName && !isPerPodSecretName(pod, secretName)
      ? [`its ${SECRET_NAME_ANNOTATION} ${quote(secretName)} was not made for this pod`]
      : []),
  ];
  if (problems.length === 0) return [];
  return [
    {
      reason: 'stale-injection',
      message:
        `the pod is annotated ${INJECTED_ANNOTATION}: "true" but ${problems.join(', ')} (was it copied from another pod?); ` +
        `remove the ${INJECTED_ANNOTATION} and ${SECRET_NAME_ANNOTATION} annotations ` +
        `and the ${FETCHER_CONTAINER_NAME} init container and create it again`,
    },
  ];
}

/**
 * The plan in an injected pod against the one for its annotations now. File modes aside: they
 * follow the pod's fsGroup, which a later webhook may add between two calls, and the modes
 * chosen first still work.
 */
function samePlan(json: string | undefined, plan: Plan): boolean {
  let stored: unknown;
  try {
    stored = JSON.parse(json ?? '');
  } catch {
    return false;
  }
  const withoutModes = (p: Record<string, unknown>) => ({ ...p, fileMode: 0, dirMode: 0 });
  return (
    typeof stored === 'object' &&
    stored !== null &&
    isDeepStrictEqual(
      withoutModes(stored as Record<string, unknown>),
      withoutModes(plan as unknown as Record<string, unknown>),
    )
  );
}

/** Denials for a pod that asks for more work than the caps allow, before any decoding. */
function overAnnotationLimits(annotations: Record<string, string>, limits: AdmissionLimits): Denial[] {
  const keys = secretAnnotationKeys(annotations);
  const denials: Denial[] = [];
  if (keys.length > limits.maxSecretsPerPod) {
    denials.push({
      reason: 'over-limit',
      message:
        `the pod requests ${keys.length} secrets (flyte.secrets/s<i> annotations), ` +
        `more than WEBHOOK_MAX_SECRETS_PER_POD=${limits.maxSecretsPerPod}; ` +
        `request fewer secrets in this task, or ask the webhook's admin to raise WEBHOOK_MAX_SECRETS_PER_POD`,
    });
  }
  // Kubernetes validates annotation keys only after admission; a longer one would be quoted in every message.
  const longKey = keys.find((key) => key.length > MAX_ANNOTATION_KEY_LENGTH);
  if (longKey !== undefined) {
    denials.push({
      reason: 'malformed-annotation',
      message:
        `the annotation key ${quote(longKey)} is longer than Kubernetes allows (${MAX_ANNOTATION_KEY_LENGTH} characters: ` +
        `a 253-character prefix, "/", a 63-character name); remove it`,
    });
  }
  let bytes = 0;
  for (const key of keys) {
    const value = annotations[key];
    bytes += typeof value === 'string' ? Buffer.byteLength(value) : 0;
  }
  if (bytes > limits.maxAnnotationBytes) {
    denials.push({
      reason: 'over-limit',
      message:
        `the pod's flyte.secrets/s<i> annotations hold ${bytes} bytes, ` +
        `more than WEBHOOK_MAX_ANNOTATION_BYTES=${limits.maxAnnotationBytes}; ` +
        `request fewer or shorter secrets, or ask the webhook's admin to raise WEBHOOK_MAX_ANNOTATION_BYTES`,
    });
  }
  return denials;
}

/** Our volume/container names must be free unless this pod is already ours. */
function nameCollisions(pod: V1Pod, volumeNames: string[]): Denial[] {
  const denials: Denial[] = [];
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  if (containers.some((c) => c.name === FETCHER_CONTAINER_NAME)) {
    denials.push({
      reason: 'name-collision',
      message:
        `the pod already has a container named "${FETCHER_CONTAINER_NAME}", ` +
        `which the secret fetcher needs; rename that container`,
    });
  }
  for (const name of volumeNames) {
    if (pod.spec?.volumes?.some((v) => v.name === name)) {
      denials.push({
        reason: 'name-collision',
        message: `the pod already has a volume named "${name}", which the secret injection needs; rename that volume`,
      });
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

/**
 * Where a pod asks for Windows nodes, or null. The fetcher is a Linux program: the API server
 * would refuse its Linux-only securityContext on a `spec.os` Windows pod (with a message about
 * our fields), and on a Windows node it would never run.
 */
function windowsSetting(pod: V1Pod): string | null {
  if (pod.spec?.os?.name === 'windows') return 'spec.os.name';
  if (pod.spec?.nodeSelector?.['kubernetes.io/os'] === 'windows') return 'the nodeSelector kubernetes.io/os';
  return null;
}

export function injectSecrets(input: InjectionInput): InjectionOutcome {
  const { pod, config } = input;
  if (pod.metadata?.labels?.[INJECT_LABEL] !== 'true') return { kind: 'skip', why: 'not-labelled' };

  const annotations = pod.metadata?.annotations ?? {};
  const overLimits = overAnnotationLimits(annotations, config.limits);
  if (overLimits.length > 0) return { kind: 'deny', denials: overLimits };
  const { secrets, errors } = readSecretAnnotations(annotations);
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
  const windows = windowsSetting(pod);
  if (windows)
    return {
      kind: 'deny',
      denials: [
        {
          reason: 'unsupported-pod',
          message:
            `${windows} is "windows", but the secret fetcher init container runs only on Linux; ` +
            `run this task on Linux nodes, or remove its secret requests`,
        },
      ],
    };
  const warnings = groupVersionAliases(deliveries);

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
    const collisions = nameCollisions(
      out,
      volumes.map((v) => v.name),
    );
    if (collisions.length > 0) return { kind: 'deny', denials: collisions };
    const init = spec.initContainers ?? [];
    const at = fetcherPosition(init);
    spec.initContainers = [...init.slice(0, at), fetcherContainer(plan, config), ...init.slice(at)];
    spec.volumes = [...(spec.volumes ?? []), ...volumes];
    const pullSecrets = withPullSecrets(spec.imagePullSecrets, config.fetcher.admin);
    if (pullSecrets !== undefined) spec.imagePullSecrets = pullSecrets;
    metadata.annotations = {
      ...metadata.annotations,
      [INJECTED_ANNOTATION]: 'true',
      ...(plan.secret ? { [SECRET_NAME_ANNOTATION]: plan.secret.name } : {}),
    };
  }

  // Only containers that start after the fetcher: an earlier one (a native sidecar, or an init
  // container a later webhook put in front on reinvocation) would wait forever for a Secret
  // that the fetcher has not created yet.
  const init = spec.initContainers ?? [];
  const wired = [...init.slice(init.findIndex((c) => c.name === FETCHER_CONTAINER_NAME) + 1), ...spec.containers];
  if (wired.length > config.limits.maxWiredContainers) {
    return {
      kind: 'deny',
      denials: [
        {
          reason: 'over-limit',
          message:
            `the pod has ${wired.length} containers to wire (init containers after the fetcher and containers), ` +
            `more than WEBHOOK_MAX_WIRED_CONTAINERS=${config.limits.maxWiredContainers}; ` +
            `split the task, or ask the webhook's admin to raise WEBHOOK_MAX_WIRED_CONTAINERS`,
        },
      ],
    };
  }
  const needs = { files: plan.files.length > 0, env: plan.secret !== null };
  const lookups = wired.map((c) => containerLookup(c, config.secretsDir, needs));
  const settingDenials = lookups.flatMap((l) => (Array.isArray(l) ? l : []));
  if (settingDenials.length > 0) return { kind: 'deny', denials: settingDenials };
  // One wiring per directory flytekit looks in (almost always one): built once, shared.
  const wirings = new Map<string, Wiring>();
  wired.forEach((container, i) => {
    const { dir, settled } = lookups[i] as { dir: string; settled: Set<string> };
    let wiring = wirings.get(dir);
    if (!wiring) wirings.set(dir, (wiring = taskWiring(deliveries, plan, keys, dir)));
    warnings.push(...ensureWiring(container, wiring, settled));
  });

  const secretsByMount: Record<FileMountType, number> = { FILE: 0, ENV_VAR: 0 };
  for (const d of deliveries) secretsByMount[d.mount] += 1;
  return {
    kind: 'inject',
    pod: out,
    plan,
    warnings,
    secretsByMount,
    reinvocation,
    remember: () => rememberDecoded(secrets.map((s) => [annotations[s.annotation]!, s.secret] as const)),
  };
}
