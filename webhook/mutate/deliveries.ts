/**
 * Decides, for each requested Flyte secret, how it reaches the task: which MLP secret, which
 * mount type, which env var name or file path. Pure. Anything that cannot be delivered safely
 * becomes a denial reason naming the annotation, the secret and the fix.
 */

import type { FileMountType } from '../config.js';
import type { FlyteSecret } from '../flyte/annotations.js';
import {
  ENV_PREFIX,
  envNameProblem,
  flytekitEnvName,
  flytekitRelativePath,
  pathSegmentProblem,
} from '../flyte/flytekit-names.js';
import { quote } from '../quote.js';

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
  /**
   * With a group_version, the names flytekit uses when asked WITHOUT it (`get(group, key)`, as
   * tasks written for Flyte's native injector do): set by groupVersionAliases when unambiguous.
   */
  aliasEnvName?: string;
  aliasPathSegments?: string[];
}

export type DenialReason =
  | 'malformed-annotation'
  | 'undeliverable-secret'
  | 'conflicting-secrets'
  | 'no-project'
  | 'name-collision'
  | 'stale-injection'
  | 'over-limit'
  | 'flytekit-settings'
  | 'unsupported-pod';

export interface Denial {
  reason: DenialReason;
  message: string;
}

/** How the secret is named in messages: group/group_version/key, never a value. */
function describeSecret(secret: FlyteSecret): string {
  const gv = secret.groupVersion ? ` group_version=${quote(secret.groupVersion)}` : '';
  return `group=${quote(secret.group)}${gv} key=${quote(secret.key)}`;
}

/** Variables the injection itself sets, and flytekit's own lookup namespace, are not free for env_var. */
const RESERVED_ENV = new Set(['FLYTE_SECRETS_ENV_PREFIX', 'FLYTE_SECRETS_DEFAULT_DIR', 'FLYTE_SECRETS_FILE_PREFIX']);

/**
 * env_var names that would let a secret's value (or its path) take over the task's process:
 * the loader, the interpreter, the shell, the Kubernetes client, proxies and trust stores, and
 * the names the webhook and the fetcher use. Compared upper-cased: `_fsec_x`, `Path` and
 * `ld_preload` are refused too (a case variant is at best confusing and, on tools that
 * upper-case their environment, the same variable).
 */
const HIJACK_NAMES = new Map<string, string>([
  ['PATH', 'decides which programs run'],
  ['HOME', 'decides where programs read their configuration'],
  ['SHELL', 'decides which shell programs start'],
  ['ENV', 'is a file the shell runs at start'],
  ['BASH_ENV', 'is a file bash runs at start'],
  ['IFS', 'changes how the shell splits words'],
  ['TMPDIR', 'decides where programs write temporary files'],
  ['HOSTNAME', "is the pod's host name"],
  ['NODE_OPTIONS', 'adds options to every Node.js process'],
  ['JAVA_TOOL_OPTIONS', 'adds options to every JVM'],
  ['_JAVA_OPTIONS', 'adds options to every JVM'],
  ['JDK_JAVA_OPTIONS', 'adds options to every JVM'],
  ['CLASSPATH', 'decides which code a JVM loads'],
  ['NODE_PATH', 'decides which code Node.js loads'],
  ['PERL5OPT', 'adds options to every Perl'],
  ['PERL5LIB', 'decides which code Perl loads'],
  ['PERLLIB', 'decides which code Perl loads'],
  ['RUBYOPT', 'adds options to every Ruby'],
  ['RUBYLIB', 'decides which code Ruby loads'],
  ['OPENSSL_CONF', 'is a file OpenSSL reads at start, which can load modules'],
  ['OPENSSL_MODULES', 'makes OpenSSL load code from a directory'],
  ['OPENSSL_ENGINES', 'makes OpenSSL load code from a directory'],
  ['GLIBC_TUNABLES', "changes how glibc's loader and allocator behave"],
  ['GCONV_PATH', 'makes glibc load code from a directory'],
  ['HTTP_PROXY', "sends the task's HTTP traffic through a proxy"],
  ['HTTPS_PROXY', "sends the task's HTTPS traffic through a proxy"],
  ['ALL_PROXY', "sends the task's traffic through a proxy"],
  ['NO_PROXY', 'changes which hosts bypass the proxy'],
  ['REQUESTS_CA_BUNDLE', 'replaces the CAs Python trusts'],
  ['CURL_CA_BUNDLE', 'replaces the CAs curl trusts'],
  ['SSL_CERT_FILE', 'replaces the CAs OpenSSL trusts'],
  ['SSL_CERT_DIR', 'replaces the CAs OpenSSL trusts'],
]);
const HIJACK_PREFIXES: [prefix: string, why: string][] = [
  ['LD_', 'controls the dynamic loader (LD_PRELOAD runs code in every process)'],
  ['BASH_FUNC_', 'defines bash functions, which replace commands in every bash script'],
  ['PYTHON', 'changes how Python starts (PYTHONPATH, PYTHONSTARTUP run code)'],
  ['KUBERNETES_', 'is how programs find the Kubernetes API'],
  ['DAP_', "is the secret fetcher's namespace"],
  ['MLP_', "is the secret fetcher's namespace"],
  ['FLYTE_', 'is read by Flyte and flytekit'],
  [ENV_PREFIX, `is flytekit's ${ENV_PREFIX} namespace, where it looks secrets up by name`],
];

/** Why a Flyte env_var target is not ours to set, or null. */
export function reservedEnvVarProblem(name: string): string | null {
  if (RESERVED_ENV.has(name)) return 'is set by the secret injection itself';
  const upper = name.toUpperCase();
  const exact = HIJACK_NAMES.get(upper);
  if (exact) return `${exact}, so a secret there could take over the task's process`;
  for (const [prefix, why] of HIJACK_PREFIXES) {
    if (upper.startsWith(prefix))
      return (
        `starts with ${prefix} (compared without case), which ${why}; ` +
        `a secret there could take over the task or hide another secret`
      );
  }
  return null;
}

export function resolveDelivery(
  annotation: string,
  secret: FlyteSecret,
  defaultMount: FileMountType,
): Delivery | Denial {
  const what = `${annotation} (${describeSecret(secret)})`;
  if (secret.key === '') {
    return {
      reason: 'undeliverable-secret',
      message:
        `${what}: the secret has no key, and the MLP secret name is the Flyte key; ` +
        `request Secret(group=..., key="<MLP secret name>")`,
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
        message:
          `${what}: env var name ${quote(delivery.envName)} ${problem}, which Kubernetes rejects; ` +
          `use ASCII group/key names or mount_requirement FILE`,
      };
    }
  } else {
    for (const [field, value] of [
      ['group', secret.group],
      ['group_version', secret.groupVersion],
      ['key', secret.key],
    ] as const) {
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
      return {
        reason: 'undeliverable-secret',
        message: `${what}: env_var ${quote(secret.envVar)} ${problem}; choose another env var name`,
      };
    }
  }
  return delivery;
}

export function isDenial(x: Delivery | Denial): x is Denial {
  return 'reason' in x;
}

interface Target {
  /** Identity of the env var or file (full name: two long names differing late are different). */
  id: string;
  /** For messages: bounded. */
  label: string;
  /** What it holds (same target, same content = fine). */
  content: string;
}

/** The env vars and file a delivery writes, each with what it holds. */
function targets(d: Delivery): Target[] {
  const value = `mlp:${d.mlpSecret}`;
  const path = d.pathSegments.join('/');
  const out: Target[] = [
    d.mount === 'ENV_VAR'
      ? { id: `env:${d.envName}`, label: `env var ${quote(d.envName)}`, content: value }
      : { id: `file:${path}`, label: `file ${quote(path)}`, content: value },
  ];
  if (d.secret.envVar)
    out.push({
      id: `env:${d.secret.envVar}`,
      label: `env var ${quote(d.secret.envVar)}`,
      content: d.mount === 'ENV_VAR' ? value : `path:${path}`,
    });
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
          message:
            `${d.annotation} (${describeSecret(d.secret)}) needs the directory ${quote(`${dir}/`)} ` +
            `for file ${quote(path)}, but ${clash.annotation} (${describeSecret(clash.secret)}) is the file ${quote(dir)}; ` +
            `rename one of them or use mount_requirement ENV_VAR for one`,
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
    for (const t of targets(d)) {
      const earlier = seen.get(t.id);
      if (!earlier) seen.set(t.id, { content: t.content, by: d });
      else if (earlier.content !== t.content) {
        denials.push({
          reason: 'conflicting-secrets',
          message:
            `${d.annotation} (${describeSecret(d.secret)}) and ${earlier.by.annotation} ` +
            `(${describeSecret(earlier.by.secret)}) both need ${t.label} with different content; rename one of them`,
        });
      }
    }
  }
  return [...denials, ...fileDirectoryClashes(deliveries)];
}

/**
 * The group_version rule. flytekit asked WITHOUT group_version looks for the names without it;
 * Flyte's native injector wrote only those, so tasks moved from it call `get(group, key)`. A
 * secret requested with a group_version is therefore delivered under both names, except where
 * that would be ambiguous:
 *  - a request without group_version that owns the name (env var or file) keeps it;
 *  - two requests with different group_versions (different MLP secrets) for one group/key:
 *    neither gets the name (a warning says to pass group_version);
 *  - a file that would be another file's directory, or the reverse, is not made.
 * Pure: sets aliasEnvName / aliasPathSegments on the deliveries it keeps, returns warnings.
 */
export function groupVersionAliases(deliveries: Delivery[]): string[] {
  const explicit = new Set<string>();
  const explicitDirs = new Set<string>();
  for (const d of deliveries) {
    for (const t of targets(d)) explicit.add(t.id);
    if (d.mount === 'FILE')
      for (let i = 1; i < d.pathSegments.length; i++) explicitDirs.add(d.pathSegments.slice(0, i).join('/'));
  }
  const candidates = new Map<string, Delivery[]>();
  for (const d of deliveries) {
    if (d.secret.groupVersion === '') continue;
    const plain = { ...d.secret, groupVersion: '' };
    const id =
      d.mount === 'ENV_VAR' ? `env:${flytekitEnvName(plain)}` : `file:${flytekitRelativePath(plain).join('/')}`;
    if (explicit.has(id)) continue; // a request without group_version (or an identical one) owns it
    candidates.set(id, [...(candidates.get(id) ?? []), d]);
  }
  const warnings: string[] = [];
  const keptFiles = new Map<string, Delivery>();
  for (const [id, ds] of candidates) {
    if (new Set(ds.map((d) => d.mlpSecret)).size > 1) {
      const [a, b] = ds as [Delivery, Delivery];
      warnings.push(
        `${a.annotation} (${describeSecret(a.secret)}) and ${b.annotation} ` +
          `(${describeSecret(b.secret)}) differ only in group_version, ` +
          `so get() without group_version finds neither; pass group_version`,
      );
      continue;
    }
    for (const d of ds) {
      if (d.mount === 'ENV_VAR') d.aliasEnvName = flytekitEnvName({ ...d.secret, groupVersion: '' });
      else keptFiles.set(id.slice('file:'.length), d);
    }
  }
  const dirsOf = (segments: string[]) => segments.slice(0, -1).map((_, i) => segments.slice(0, i + 1).join('/'));
  const aliasDirs = new Set([...keptFiles.keys()].flatMap((path) => dirsOf(path.split('/'))));
  for (const [path, d] of keptFiles) {
    const segments = path.split('/');
    const clash =
      explicitDirs.has(path) ||
      aliasDirs.has(path) ||
      dirsOf(segments).some((dir) => explicit.has(`file:${dir}`) || keptFiles.has(dir));
    if (!clash) d.aliasPathSegments = segments;
  }
  return warnings;
}
