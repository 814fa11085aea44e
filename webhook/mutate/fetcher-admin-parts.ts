/**
 * What the admin's fetcher settings (fetcher-admin-settings.ts) add to a pod: the CA bundle as a
 * source of the fetcher-only identity volume plus NODE_EXTRA_CA_CERTS naming it, the extra env,
 * and the image pull secrets. Pure builders.
 */
import type { V1EnvVar, V1LocalObjectReference, V1VolumeProjection } from '@kubernetes/client-node';
import { FETCHER_ENV, IDENTITY_FILES, IDENTITY_MOUNT_PATH } from '../../contract/fetcher-env.js';
import type { FetcherAdminSettings } from '../fetcher-admin-settings.js';

/** The CA bundle in the identity volume (mounted into the fetcher only), or none. */
export function caBundleSource(admin: FetcherAdminSettings): V1VolumeProjection[] {
  if (admin.caConfigMap === '') return [];
  return [
    {
      configMap: { name: admin.caConfigMap, items: [{ key: admin.caConfigMapKey, path: IDENTITY_FILES.extraCaCerts }] },
    },
  ];
}

/** NODE_EXTRA_CA_CERTS (Node reads it at start, for node:https and fetch alike), then the admin's env. */
export function adminEnv(admin: FetcherAdminSettings): V1EnvVar[] {
  const env: V1EnvVar[] = [];
  if (admin.caConfigMap !== '')
    env.push({ name: FETCHER_ENV.extraCaCerts, value: `${IDENTITY_MOUNT_PATH}/${IDENTITY_FILES.extraCaCerts}` });
  for (const { name, value } of admin.extraEnv) env.push({ name, value });
  return env;
}

/** The pod's pull secrets plus ours, without duplicates; the pod's own list is not modified. */
export function withPullSecrets(
  existing: V1LocalObjectReference[] | undefined,
  admin: FetcherAdminSettings,
): V1LocalObjectReference[] | undefined {
  if (admin.imagePullSecrets.length === 0) return existing;
  const have = new Set((existing ?? []).map((s) => s.name));
  return [...(existing ?? []), ...admin.imagePullSecrets.filter((name) => !have.has(name)).map((name) => ({ name }))];
}
