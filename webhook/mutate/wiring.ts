/**
 * Wires task containers to the secrets: env vars and the read-only secrets mount. "Ensure"
 * semantics: what is already there identically is left alone (so a second pass over the same
 * pod changes nothing), and anything the pod already sets differently is kept and reported as
 * a warning — we never overwrite the pod's own env or mounts.
 */
import type { V1Container, V1EnvVar, V1VolumeMount } from '@kubernetes/client-node';
import { posix } from 'node:path';
import { isDeepStrictEqual } from 'node:util';

export interface Wiring {
  env: V1EnvVar[];
  mounts: V1VolumeMount[];
}

/** Adds what is missing to `container` in place; returns one warning per collision. */
export function ensureWiring(container: V1Container, wiring: Wiring): string[] {
  const warnings: string[] = [];
  const env = (container.env ??= []);
  for (const wanted of wiring.env) {
    const existing = env.find((e) => e.name === wanted.name);
    if (!existing) env.push(copyEnv(wanted));
    else if (!sameEnv(existing, wanted)) {
      warnings.push(`container ${container.name} already sets ${wanted.name}; kept its value, so flytekit may not see the injected secret there`);
    }
  }
  if (env.length === 0) delete container.env;

  if (wiring.mounts.length > 0) {
    const mounts = (container.volumeMounts ??= []);
    for (const wanted of wiring.mounts) {
      const existing = mounts.find((m) => samePath(m.mountPath, wanted.mountPath));
      if (!existing) mounts.push({ ...wanted });
      else if (existing.name !== wanted.name) {
        warnings.push(`container ${container.name} already mounts ${existing.name} at ${wanted.mountPath}; kept it, so FILE secrets are not visible there`);
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
function samePath(a: string, b: string): boolean {
  const norm = (p: string) => posix.normalize(p).replace(/(.)\/+$/, '$1');
  return norm(a) === norm(b);
}

/** Our wiring uses literal values and secretKeyRefs, which the API server stores as given. */
function sameEnv(a: V1EnvVar, b: V1EnvVar): boolean {
  return a.value === b.value && isDeepStrictEqual(a.valueFrom ?? null, b.valueFrom ?? null);
}
