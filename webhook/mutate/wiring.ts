/**
 * Wires task containers to the secrets: env vars and the read-only secrets mount. "Ensure"
 * semantics: what is already there identically is left alone (so a second pass over the same
 * pod changes nothing), and anything the pod already sets differently is kept and reported as
 * a warning — we never overwrite the pod's own env or mounts. Linear in env + wiring size.
 */

import { posix } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { V1Container, V1EnvVar, V1VolumeMount } from '@kubernetes/client-node';
import { quote } from '../quote.js';

export interface Wiring {
  env: V1EnvVar[];
  mounts: V1VolumeMount[];
}

/**
 * Adds what is missing to `container` in place; returns one warning per collision. `settled`:
 * env names the container already sets to something equivalent (checked by the caller), kept
 * without a warning.
 */
export function ensureWiring(
  container: V1Container,
  wiring: Wiring,
  settled: ReadonlySet<string> = new Set(),
): string[] {
  const warnings: string[] = [];
  const env = (container.env ??= []);
  const existing = new Map<string, V1EnvVar>();
  for (const e of env) existing.set(e.name, e); // the kubelet lets the last of duplicate names win
  for (const wanted of wiring.env) {
    const own = existing.get(wanted.name);
    if (!own) {
      const copy = copyEnv(wanted);
      env.push(copy);
      existing.set(copy.name, copy);
    } else if (!settled.has(wanted.name) && !sameEnv(own, wanted)) {
      warnings.push(
        `container ${quote(container.name)} already sets ${quote(wanted.name)}; ` +
          `kept its value, so flytekit may not see the injected secret there`,
      );
    }
  }
  if (env.length === 0) delete container.env;

  if (wiring.mounts.length > 0) {
    const mounts = (container.volumeMounts ??= []);
    const byPath = new Map(mounts.map((m) => [normalPath(m.mountPath), m]));
    for (const wanted of wiring.mounts) {
      const own = byPath.get(normalPath(wanted.mountPath));
      if (!own) mounts.push({ ...wanted });
      else if (own.name !== wanted.name) {
        warnings.push(
          `container ${quote(container.name)} already mounts ${quote(own.name)} at ${quote(wanted.mountPath)}; ` +
            `kept it, so FILE secrets are not visible there`,
        );
      }
    }
  }
  return warnings;
}

/** Our env vars are a literal value or a secretKeyRef; each container gets its own objects. */
function copyEnv(e: V1EnvVar): V1EnvVar {
  const ref = e.valueFrom?.secretKeyRef;
  return ref ? { name: e.name, valueFrom: { secretKeyRef: { ...ref } } } : { ...e };
}

/** `/etc/flyte/secrets/` and `/etc/flyte/secrets` are one mount point to the container runtime. */
export function normalPath(p: string): string {
  // Almost every mount path is already normal; this runs for each mount of each container.
  if (p.length > 1 && p.charCodeAt(0) === 47 && !p.endsWith('/') && !p.includes('//') && !p.includes('/.')) return p;
  return posix.normalize(p).replace(/(.)\/+$/, '$1');
}

/**
 * Our wiring uses literal values and secretKeyRefs. The API server drops `value: ""` when it
 * stores and re-sends a pod (reinvocation), so an absent value and an empty one are the same.
 */
function sameEnv(a: V1EnvVar, b: V1EnvVar): boolean {
  return (a.value ?? '') === (b.value ?? '') && isDeepStrictEqual(a.valueFrom ?? null, b.valueFrom ?? null);
}
