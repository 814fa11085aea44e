/**
 * A container may set flytekit's own lookup settings (FLYTE_SECRETS_DEFAULT_DIR, _FILE_PREFIX,
 * _ENV_PREFIX). We never overwrite them, so the secrets must be where that container looks, or
 * the pod is refused: a pod that starts and then fails with "Unable to find secret" is worse.
 *
 * flytekit reads each with `set_if_exists` (flytekit/configuration/__init__.py SecretsConfig):
 * an empty value counts as unset, so its built-in default applies — and the API server drops
 * `value: ""` anyway, so absent and empty are the same here.
 */
import type { V1Container } from '@kubernetes/client-node';
import { SYSTEM_DIRS } from '../config.js';
import { ENV_PREFIX, FILE_PREFIX } from '../flyte/flytekit-names.js';
import { quote } from '../quote.js';
import type { Denial } from './deliveries.js';
import { SECRETS_VOLUME_NAME } from './fetcher-parts.js';
import { normalPath } from './wiring.js';

export const DEFAULT_DIR_VAR = 'FLYTE_SECRETS_DEFAULT_DIR';
export const FILE_PREFIX_VAR = 'FLYTE_SECRETS_FILE_PREFIX';
export const ENV_PREFIX_VAR = 'FLYTE_SECRETS_ENV_PREFIX';
/** flytekit's default FLYTE_SECRETS_DEFAULT_DIR. */
const FLYTEKIT_DEFAULT_DIR = '/etc/secrets';

export interface ContainerLookup {
  /** Where this container's flytekit looks for FILE secrets (our mount goes there). */
  dir: string;
  /** Setting names the container already sets to what we need: left as they are, no warning. */
  settled: Set<string>;
}

/**
 * Where `container` looks for secrets, given what the pod requests; a denial when it looks
 * somewhere we cannot deliver to. `configDir` is FLYTE_SECRETS_DEFAULT_DIR of the webhook.
 */
export function containerLookup(
  container: V1Container,
  configDir: string,
  needs: { files: boolean; env: boolean },
): ContainerLookup | Denial[] {
  const own = new Map<string, { value: string; fromRef: boolean }>();
  for (const e of container.env ?? []) {
    // The kubelet lets the last of duplicate names win.
    if (e.name === DEFAULT_DIR_VAR || e.name === FILE_PREFIX_VAR || e.name === ENV_PREFIX_VAR) {
      own.set(e.name, { value: e.value ?? '', fromRef: e.valueFrom !== undefined && e.valueFrom !== null });
    }
  }
  const who = () => `container ${quote(container.name)}`;
  const denials: Denial[] = [];
  const settled = new Set<string>();
  const deny = (message: string) => denials.push({ reason: 'flytekit-settings', message });
  const check = (name: string, relevant: boolean, accept: (value: string) => string | null) => {
    const setting = own.get(name);
    if (!setting || !relevant) return;
    if (setting.fromRef)
      return deny(
        `${who()} takes ${name} from valueFrom, so the webhook cannot tell where ` +
          `flytekit will look for its secrets; set it as a literal value or remove it`,
      );
    const problem = accept(setting.value);
    if (problem) deny(`${who()} sets ${name}=${quote(setting.value)}: ${problem}`);
    else settled.add(name);
  };

  let dir = configDir;
  check(DEFAULT_DIR_VAR, needs.files, (value) => {
    if (value.includes('$('))
      return (
        `Kubernetes expands $(VAR) references in env values, so the webhook cannot ` +
        `tell where flytekit will look; set a literal absolute path or remove it`
      );
    const wanted = value === '' ? FLYTEKIT_DEFAULT_DIR : value;
    if (!wanted.startsWith('/') || wanted.split('/').includes('..'))
      return (
        'flytekit would look for FILE secrets under a relative path; ' +
        'set an absolute path without ".." or remove it'
      );
    if (SYSTEM_DIRS.has(normalPath(wanted)))
      return (
        `mounting the secrets there would hide the image's ${normalPath(wanted)}; ` +
        `use a directory of its own such as ${configDir}, or remove it`
      );
    dir = normalPath(wanted);
    return null;
  });
  check(FILE_PREFIX_VAR, needs.files, (value) =>
    value === FILE_PREFIX
      ? null
      : `flytekit would look for FILE secrets under names starting with it, ` +
        `and the files are shared by all containers; remove it`,
  );
  check(ENV_PREFIX_VAR, needs.env, (value) =>
    value === '' || value === ENV_PREFIX
      ? null
      : `flytekit would look for ENV_VAR secrets as ${quote(`${value}<GROUP>_<KEY>`)}, ` +
        `but they are delivered as ${ENV_PREFIX}<GROUP>_<KEY>; remove it`,
  );

  if (needs.files) {
    const mounts = container.volumeMounts ?? [];
    const mounted = mounts.find((m) => normalPath(m.mountPath) === dir);
    if (mounted && mounted.name !== SECRETS_VOLUME_NAME) {
      deny(
        `${who()} already mounts the volume ${quote(mounted.name)} at ${quote(dir)}, where flytekit looks for FILE secrets; ` +
          `mount it elsewhere, or set ${DEFAULT_DIR_VAR} to another directory`,
      );
    }
    // The secrets volume is read-only in the container: the runtime cannot make a mount point
    // in it (the container never starts, kubernetes/kubernetes#121294), and one that exists
    // would hide the secrets below it.
    const nested = mounts.find((m) => normalPath(m.mountPath).startsWith(`${dir}/`));
    if (nested) {
      deny(
        `${who()} mounts the volume ${quote(nested.name)} at ${quote(nested.mountPath)}, ` +
          `inside ${quote(dir)} where the secrets volume is mounted read-only, ` +
          `so the container could not start (or would hide secrets); ` +
          `mount it outside ${quote(dir)}, or set ${DEFAULT_DIR_VAR} to another directory`,
      );
    }
  }
  return denials.length > 0 ? denials : { dir, settled };
}
