/**
 * The objects the webhook adds for the fetcher: its init container and the two volumes
 * (the in-memory secrets volume and the fetcher-only identity volume). Pure builders.
 */
import type { V1Container, V1EnvVar, V1Volume, V1VolumeProjection } from '@kubernetes/client-node';
import {
  DEFAULT_BYTE_CAPS,
  FETCHER_ENV,
  FETCHER_VOLUME_PATH,
  IDENTITY_FILES,
  IDENTITY_MOUNT_PATH,
} from '../../contract/fetcher-env.js';
import type { Plan } from '../../contract/plan.js';
import type { InjectionConfig } from '../config.js';
import { adminEnv, caBundleSource } from './fetcher-admin-parts.js';

export const FETCHER_CONTAINER_NAME = 'fetcher';
export const SECRETS_VOLUME_NAME = 'dap-flyte-secrets';
const IDENTITY_VOLUME_NAME = 'dap-fetcher-identity';

const identityPath = (file: string) => `${IDENTITY_MOUNT_PATH}/${file}`;

function needsMlpServiceAccountToken(config: InjectionConfig): boolean {
  return config.mlp.authMode === 'serviceaccount' || config.mlp.authMode === 'token-exchange';
}

/** Sources of the fetcher-only projected volume; empty when the fetcher needs no identity files. */
function identitySources(plan: Plan, config: InjectionConfig): V1VolumeProjection[] {
  const { mlp } = config;
  const sources: V1VolumeProjection[] = [];
  if (needsMlpServiceAccountToken(config)) {
    sources.push({
      serviceAccountToken: {
        audience: mlp.tokenAudience,
        expirationSeconds: mlp.tokenExpirationSeconds,
        path: IDENTITY_FILES.mlpToken,
      },
    });
  }
  if (plan.secret) {
    // Its own API token and CA, so creating the Secret works even with automountServiceAccountToken: false.
    sources.push({
      serviceAccountToken: { expirationSeconds: mlp.tokenExpirationSeconds, path: IDENTITY_FILES.kubeToken },
    });
    sources.push({ configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: IDENTITY_FILES.kubeCa }] } });
  }
  if (mlp.authMode === 'token-exchange' && mlp.exchangeClientSecretName) {
    sources.push({
      secret: {
        name: mlp.exchangeClientSecretName,
        items: [{ key: 'client-credentials.json', path: IDENTITY_FILES.exchangeClientCredentials }],
      },
    });
  }
  sources.push(...caBundleSource(config.fetcher.admin));
  // Never empty: the volume must exist to occupy the ServiceAccount plugin's mount path (see
  // IDENTITY_MOUNT_PATH); the namespace file is what the plugin's own volume holds too.
  if (sources.length === 0)
    sources.push({
      downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] },
    });
  return sources;
}

export function fetcherVolumes(plan: Plan, config: InjectionConfig): V1Volume[] {
  const volumes: V1Volume[] = [];
  if (plan.files.length > 0) {
    volumes.push({
      name: SECRETS_VOLUME_NAME,
      emptyDir: { medium: 'Memory', sizeLimit: config.fetcher.volumeSizeLimit },
    });
  }
  volumes.push({ name: IDENTITY_VOLUME_NAME, projected: { sources: identitySources(plan, config) } });
  return volumes;
}

const fieldRef = (name: string, fieldPath: string): V1EnvVar => ({
  name,
  valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } },
});

function fetcherEnv(plan: Plan, config: InjectionConfig): V1EnvVar[] {
  const { mlp, fetcher } = config;
  const env: V1EnvVar[] = [
    { name: FETCHER_ENV.plan, value: JSON.stringify(plan) },
    fieldRef(FETCHER_ENV.podName, 'metadata.name'),
    fieldRef(FETCHER_ENV.podNamespace, 'metadata.namespace'),
    fieldRef(FETCHER_ENV.podUid, 'metadata.uid'),
    fieldRef(FETCHER_ENV.podServiceAccount, 'spec.serviceAccountName'),
    { name: FETCHER_ENV.mlpApiHost, value: mlp.apiHost },
    { name: FETCHER_ENV.authMode, value: mlp.authMode },
    { name: FETCHER_ENV.tokenAudience, value: mlp.tokenAudience },
    { name: FETCHER_ENV.deadlineSeconds, value: String(fetcher.deadlineSeconds) },
  ];
  // Only what an admin changed: the fetcher's defaults are the contract's, and pods stay as they were.
  const caps = [
    [FETCHER_ENV.maxProjectsBytes, fetcher.caps.projectsBytes, DEFAULT_BYTE_CAPS.projectsBytes],
    [FETCHER_ENV.maxSecretsBytes, fetcher.caps.secretsBytes, DEFAULT_BYTE_CAPS.secretsBytes],
    [FETCHER_ENV.maxSecretBytes, fetcher.caps.secretBytes, DEFAULT_BYTE_CAPS.secretBytes],
  ] as const;
  for (const [name, value, fallback] of caps) if (value !== fallback) env.push({ name, value: String(value) });
  if (needsMlpServiceAccountToken(config))
    env.push({ name: FETCHER_ENV.mlpTokenFile, value: identityPath(IDENTITY_FILES.mlpToken) });
  if (mlp.authMode === 'token-exchange') {
    env.push({ name: FETCHER_ENV.exchangeIssuer, value: mlp.exchangeIssuer });
    if (mlp.exchangeAudience) env.push({ name: FETCHER_ENV.exchangeAudience, value: mlp.exchangeAudience });
    if (mlp.exchangeScope) env.push({ name: FETCHER_ENV.exchangeScope, value: mlp.exchangeScope });
    if (mlp.exchangeClientId) env.push({ name: FETCHER_ENV.exchangeClientId, value: mlp.exchangeClientId });
    if (mlp.exchangeClientSecretName)
      env.push({
        name: FETCHER_ENV.exchangeClientCredentialsFile,
        value: identityPath(IDENTITY_FILES.exchangeClientCredentials),
      });
  }
  if (plan.secret) {
    env.push({ name: FETCHER_ENV.kubeTokenFile, value: identityPath(IDENTITY_FILES.kubeToken) });
    env.push({ name: FETCHER_ENV.kubeCaFile, value: identityPath(IDENTITY_FILES.kubeCa) });
  }
  env.push(...adminEnv(fetcher.admin));
  return env;
}

const DIGEST_SUFFIX = /@sha256:[0-9a-f]{64}$/;

/** "host:5000/repo:tag" → "host:5000/repo" (a colon after the last slash starts the tag). */
function withoutTag(image: string): string {
  const colon = image.lastIndexOf(':');
  return colon > image.lastIndexOf('/') ? image.slice(0, colon) : image;
}

/**
 * Whether an injected fetcher's image is FETCHER_IMAGE. Digest-pinning webhooks (Kyverno's
 * verifyImages mutateDigest, k8s-digester) rewrite `repo:tag` to `repo:tag@sha256:…` or
 * `repo@sha256:…` after us; that is still our image, and the webhook is called again for it.
 */
export function isFetcherImage(image: string, configured: string): boolean {
  if (image === configured) return true;
  if (configured.includes('@') || !DIGEST_SUFFIX.test(image)) return false;
  const named = image.replace(DIGEST_SUFFIX, '');
  return named === configured || named === withoutTag(configured);
}

export function fetcherContainer(plan: Plan, config: InjectionConfig): V1Container {
  const { fetcher } = config;
  const volumeMounts = [];
  if (plan.files.length > 0) volumeMounts.push({ name: SECRETS_VOLUME_NAME, mountPath: FETCHER_VOLUME_PATH });
  volumeMounts.push({ name: IDENTITY_VOLUME_NAME, mountPath: IDENTITY_MOUNT_PATH, readOnly: true });
  return {
    name: FETCHER_CONTAINER_NAME,
    image: fetcher.image,
    imagePullPolicy: fetcher.imagePullPolicy,
    env: fetcherEnv(plan, config),
    resources: {
      requests: { cpu: fetcher.cpuRequest, memory: fetcher.memoryRequest },
      limits: { cpu: fetcher.cpuLimit, memory: fetcher.memoryLimit },
    },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: fetcher.runAsUser,
      runAsGroup: fetcher.runAsUser,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    terminationMessagePolicy: 'FallbackToLogsOnError',
    volumeMounts,
  };
}
