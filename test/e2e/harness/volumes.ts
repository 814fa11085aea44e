/**
 * A pod's volumes materialised on the host, as the kubelet would before starting containers:
 * emptyDir is a world-writable directory (on /dev/shm, a tmpfs, when the pod asks for
 * `medium: Memory` and the machine has one, inside a private 0700 parent: /dev/shm is world-listable); projected, configMap, secret and downwardAPI volumes are files
 * written from the API server's objects; service-account tokens come from the TokenRequest API,
 * bound to the pod.
 */

import { constants } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { KubeConfig, V1KeyToPath, V1Pod, V1Volume, V1VolumeProjection } from '@kubernetes/client-node';
import { resolveFieldRef } from './downward.js';
import { objectReader } from './env.js';
import { registerTempDir } from './processes.js';
import { mintPodToken } from './tokens.js';

export interface MaterialisedVolume {
  name: string;
  hostDir: string;
  /** A dir outside the sandbox (on tmpfs) holding `hostDir`: removed with the pod sandbox, and on any early exit of the run. */
  tmpfsDir?: string;
}

export async function materialiseVolume(
  kc: KubeConfig,
  pod: V1Pod,
  volume: V1Volume,
  podDir: string,
): Promise<MaterialisedVolume> {
  const where = `volume ${volume.name} of pod ${pod.metadata?.namespace}/${pod.metadata?.name}`;
  if (volume.emptyDir) {
    const inMemory = volume.emptyDir.medium === 'Memory' && (await isWritableDir('/dev/shm'));
    // mkdtemp makes the parent 0700: other users cannot reach the fetched values through /dev/shm.
    const tmpfsDir = inMemory ? await mkdtemp('/dev/shm/dap-e2e-emptydir-') : undefined;
    if (tmpfsDir) registerTempDir(tmpfsDir, { alwaysRemove: true });
    const hostDir = join(tmpfsDir ?? join(podDir, 'volumes'), volume.name);
    await mkdir(hostDir, { recursive: true });
    // The kubelet makes emptyDir world-writable (0777) so any container user can write into it.
    await chmod(hostDir, 0o777);
    return { name: volume.name, hostDir, ...(tmpfsDir ? { tmpfsDir } : {}) };
  }

  const hostDir = join(podDir, 'volumes', volume.name);
  await mkdir(hostDir, { recursive: true });
  const reader = objectReader(kc, pod);
  const defaultMode =
    volume.projected?.defaultMode ??
    volume.configMap?.defaultMode ??
    volume.secret?.defaultMode ??
    volume.downwardAPI?.defaultMode ??
    0o644;
  const sources: V1VolumeProjection[] = volume.projected
    ? (volume.projected.sources ?? [])
    : volume.configMap
      ? [{ configMap: volume.configMap }]
      : volume.secret
        ? [{ secret: { name: volume.secret.secretName, items: volume.secret.items, optional: volume.secret.optional } }]
        : volume.downwardAPI
          ? [{ downwardAPI: { items: volume.downwardAPI.items } }]
          : unsupported(
              where,
              Object.keys(volume).filter((k) => k !== 'name'),
            );

  for (const source of sources) {
    if (source.serviceAccountToken) {
      const sat = source.serviceAccountToken;
      const { token } = await mintPodToken(kc, pod, {
        audiences: sat.audience ? [sat.audience] : [],
        expirationSeconds: sat.expirationSeconds ?? 3600,
      });
      await writeVolumeFile(hostDir, sat.path, token, defaultMode);
    } else if (source.configMap) {
      const data = await reader.configMap(source.configMap.name ?? '', source.configMap.optional ?? false);
      if (data)
        await writeKeys(
          hostDir,
          data,
          source.configMap.items,
          defaultMode,
          `${where}, ConfigMap ${source.configMap.name}`,
        );
    } else if (source.secret) {
      const data = await reader.secret(source.secret.name ?? '', source.secret.optional ?? false);
      if (data)
        await writeKeys(hostDir, data, source.secret.items, defaultMode, `${where}, Secret ${source.secret.name}`);
    } else if (source.downwardAPI) {
      for (const item of source.downwardAPI.items ?? []) {
        if (!item.fieldRef) unsupported(`${where}, downwardAPI item ${item.path}`, ['resourceFieldRef']);
        await writeVolumeFile(
          hostDir,
          item.path,
          resolveFieldRef(pod, item.fieldRef.fieldPath),
          item.mode ?? defaultMode,
        );
      }
    } else {
      unsupported(where, Object.keys(source));
    }
  }
  return { name: volume.name, hostDir };
}

async function writeKeys(
  hostDir: string,
  data: Record<string, string>,
  items: V1KeyToPath[] | undefined,
  mode: number,
  where: string,
): Promise<void> {
  const wanted: V1KeyToPath[] = items ?? Object.keys(data).map((key) => ({ key, path: key }));
  for (const item of wanted) {
    const value = data[item.key];
    if (value === undefined) throw new Error(`${where} has no key ${item.key}: the kubelet would not start the pod`);
    await writeVolumeFile(hostDir, item.path, value, item.mode ?? mode);
  }
}

async function writeVolumeFile(hostDir: string, relPath: string, content: string, mode: number): Promise<void> {
  const target = join(hostDir, relPath);
  if (!target.startsWith(`${hostDir}/`))
    throw new Error(`volume file path ${JSON.stringify(relPath)} escapes its volume`);
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, content, { mode });
  await chmod(target, mode);
}

async function isWritableDir(path: string): Promise<boolean> {
  try {
    await access(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function unsupported(where: string, kinds: string[]): never {
  throw new Error(
    `the kubelet step does not materialise ${where} (${kinds.join(', ')}); extend test/e2e/harness/volumes.ts`,
  );
}
