/**
 * Decides, for each requested Flyte secret, how it reaches the task: which MLP secret, which
 * mount type, which env var name or file path. Pure. Anything that cannot be delivered safely
 * becomes a denial reason naming the annotation, the secret and the fix.
 */
import type { FlyteSecret } from '../flyte/annotations.js';
import { ENV_PREFIX, envNameProblem, flytekitEnvName, flytekitRelativePath, pathSegmentProblem } from '../flyte/flytekit-names.js';
import type { FileMountType } from '../config.js';

export interface Delivery {
  annotation: string;
  secret: FlyteSecret;
  mount: FileMountType;
  /** MLP secret name: the Flyte key (dap-secret-webhook's mapping; the group is not used). */
  mlpSecret: string;
  /** ENV_VAR: the variable flytekit reads. */
  envName: string;
  /** FILE: path segments under FLYTE_SECRETS_DEFAULT_DIR. */
  pathSegments: string[];
}

export type DenialReason = 'malformed-annotation' | 'undeliverable-secret' | 'conflicting-secrets' | 'no-project' | 'name-collision' | 'stale-injection';

export interface Denial {
  reason: DenialReason;
  message: string;
}

/** How the secret is named in messages: group/group_version/key, never a value. */
export function describeSecret(secret: FlyteSecret): string {
  const gv = secret.groupVersion ? ` group_version=${JSON.stringify(secret.groupVersion)}` : '';
  return `group=${JSON.stringify(secret.group)}${gv} key=${JSON.stringify(secret.key)}`;
}

/** Variables the injection itself sets, and flytekit's own lookup namespace, are not free for env_var. */
const RESERVED_ENV = new Set(['FLYTE_SECRETS_ENV_PREFIX', 'FLYTE_SECRETS_DEFAULT_DIR', 'FLYTE_SECRETS_FILE_PREFIX']);
function reservedEnvVarProblem(name: string): string | null {
  if (RESERVED_ENV.has(name)) return 'is set by the secret injection itself';
  // flytekit reads _FSEC_* before files: a path there would shadow a secret's value.
  if (name.startsWith(ENV_PREFIX)) return `is in flytekit's ${ENV_PREFIX} namespace, where it looks secrets up by name`;
  return null;
}

export function resolveDelivery(annotation: string, secret: FlyteSecret, defaultMount: FileMountType): Delivery | Denial {
  const what = `${annotation} (${describeSecret(secret)})`;
  if (secret.key === '') {
    return {
      reason: 'undeliverable-secret',
      message: `${what}: the secret has no key, and the MLP secret name is the Flyte key; request Secret(group=..., key="<MLP secret name>")`,
    };
  }
  const mount: FileMountType = secret.mountRequirement === 'ANY' ? defaultMount : secret.mountRequirement;
  const delivery: Delivery = { annotation, secret, mount, mlpSecret: secret.key, envName: '', pathSegments: [] };
  if (mount === 'ENV_VAR') {
    delivery.envName = flytekitEnvName(secret);
    const problem = envNameProblem(delivery.envName);
    if (problem) {
      return {
        reason: 'undeliverable-secret',
        message: `${what}: env var name ${JSON.stringify(delivery.envName)} ${problem}, which Kubernetes rejects; use ASCII group/key names or mount_requirement FILE`,
      };
    }
  } else {
    for (const [field, value] of [['group', secret.group], ['group_version', secret.groupVersion], ['key', secret.key]] as const) {
      const problem = value === '' ? null : pathSegmentProblem(value.toLowerCase());
      if (problem) {
        return {
          reason: 'undeliverable-secret',
          message: `${what}: ${field} ${problem}, so its file would leave the secrets directory; rename the ${field}`,
        };
      }
    }
    delivery.pathSegments = flytekitRelativePath(secret);
  }
  if (secret.envVar !== '') {
    const problem = envNameProblem(secret.envVar) ?? reservedEnvVarProblem(secret.envVar);
    if (problem) {
      return { reason: 'undeliverable-secret', message: `${what}: env_var ${JSON.stringify(secret.envVar)} ${problem}; choose another env var name` };
    }
  }
  return delivery;
}

export function isDenial(x: Delivery | Denial): x is Denial {
  return 'reason' in x;
}

/** The env vars and file a delivery writes, each with what it holds (same target, same content = fine). */
function targets(d: Delivery): [target: string, content: string][] {
  const value = `MLP secret ${JSON.stringify(d.mlpSecret)}`;
  const out: [string, string][] = [d.mount === 'ENV_VAR' ? [`env var ${d.envName}`, value] : [`file ${d.pathSegments.join('/')}`, value]];
  if (d.secret.envVar) out.push([`env var ${d.secret.envVar}`, d.mount === 'ENV_VAR' ? value : `path ${d.pathSegments.join('/')}`]);
  return out;
}

/** A file whose path is another file's directory (key `a` next to group `a`, key `b`) cannot exist. */
function fileDirectoryClashes(deliveries: Delivery[]): Denial[] {
  const files = new Map<string, Delivery>();
  for (const d of deliveries) if (d.mount === 'FILE') files.set(d.pathSegments.join('/'), d);
  const denials: Denial[] = [];
  for (const [path, d] of files) {
    for (let i = 1; i < d.pathSegments.length; i++) {
      const dir = d.pathSegments.slice(0, i).join('/');
      const clash = files.get(dir);
      if (clash) {
        denials.push({
          reason: 'conflicting-secrets',
          message: `${d.annotation} (${describeSecret(d.secret)}) needs the directory ${dir}/ for file ${path}, but ${clash.annotation} (${describeSecret(clash.secret)}) is the file ${dir}; rename one of them or use mount_requirement ENV_VAR for one`,
        });
      }
    }
  }
  return denials;
}

/**
 * Two requests that land on the same env var or file must carry the same content
 * (e.g. keys `Token` and `token` share a FILE path but are different MLP secrets).
 */
export function findConflicts(deliveries: Delivery[]): Denial[] {
  const denials: Denial[] = [];
  const seen = new Map<string, { content: string; by: Delivery }>();
  for (const d of deliveries) {
    for (const [target, content] of targets(d)) {
      const earlier = seen.get(target);
      if (!earlier) seen.set(target, { content, by: d });
      else if (earlier.content !== content) {
        denials.push({
          reason: 'conflicting-secrets',
          message: `${d.annotation} (${describeSecret(d.secret)}) and ${earlier.by.annotation} (${describeSecret(earlier.by.secret)}) both need ${target} with different content; rename one of them`,
        });
      }
    }
  }
  return [...denials, ...fileDirectoryClashes(deliveries)];
}
