/**
 * Where flytekit's SecretsManager.get looks for a secret (flytekit/core/context_manager.py):
 *   env  = ENV_PREFIX + "_".join(x.upper() for x in (group, group_version, key) if x)
 *   file = DEFAULT_DIR / lower(group) / [lower(group_version) /] FILE_PREFIX + lower(key)
 * We set FLYTE_SECRETS_ENV_PREFIX=_FSEC_ and FLYTE_SECRETS_FILE_PREFIX="" so these are exact.
 * Note: Flyte's own injector ignores group_version; flytekit (the reader) does not, so we follow it.
 */
import type { FlyteSecret } from './annotations.js';

export const ENV_PREFIX = '_FSEC_';
export const FILE_PREFIX = '';

function parts(secret: FlyteSecret): string[] {
  return [secret.group, secret.groupVersion, secret.key].filter((x) => x !== '');
}

export function flytekitEnvName(secret: FlyteSecret): string {
  return (
    ENV_PREFIX +
    parts(secret)
      .map((x) => x.toUpperCase())
      .join('_')
  );
}

/** Path relative to FLYTE_SECRETS_DEFAULT_DIR, as flytekit builds it. */
export function flytekitRelativePath(secret: FlyteSecret): string[] {
  const segments = parts(secret).map((x) => x.toLowerCase());
  const last = segments.length - 1;
  if (last >= 0) segments[last] = FILE_PREFIX + segments[last];
  return segments;
}

/**
 * Kubernetes accepts an env var name made of printable ASCII without '=' (relaxed validation,
 * the default since 1.32; names matching [-._a-zA-Z][-._a-zA-Z0-9]* pass the strict rule of
 * older clusters too). Returns why a name is not deliverable, or null.
 */
export function envNameProblem(name: string): string | null {
  if (name.length === 0) return 'is empty';
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c > 0x7e)
      return `contains the non-printable or non-ASCII character ${JSON.stringify(name[i])} at position ${i + 1}`;
    if (c === 0x3d) return `contains "=" at position ${i + 1}`;
  }
  return null;
}

/** Why one path segment would not stay inside the secrets volume, or null. */
export function pathSegmentProblem(segment: string): string | null {
  if (segment === '.' || segment === '..') return `is "${segment}"`;
  if (segment.includes('/')) return 'contains "/"';
  if (segment.includes('\0')) return 'contains a NUL byte';
  if (Buffer.byteLength(segment, 'utf8') > 255) return 'is longer than 255 bytes';
  return null;
}
