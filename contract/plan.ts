/**
 * The plan: the one interface between the two programs.
 *
 * The webhook understands Flyte (annotations, flytekit's naming rules, mount types) and writes a
 * plan as JSON into the fetcher's `DAP_PLAN` env var. The fetcher understands MLP, Kubernetes and
 * the filesystem, and nothing about Flyte. Both import this module; the fetcher validates the
 * plan before it does anything, so a plan from a different webhook version is a clear error,
 * never a guess.
 *
 * Pure: no I/O here.
 */

export const PLAN_ENV = 'DAP_PLAN';
export const PLAN_VERSION = 1;

/** One secret written as a file into the shared in-memory volume. */
export interface PlanFile {
  /** MLP secret name (within `Plan.project`). */
  mlpSecret: string;
  /** Path relative to the volume root, `/`-separated, never absolute, never `..`. */
  path: string;
}

/** One secret delivered through a data key of the per-pod Kubernetes Secret. */
export interface PlanSecretKey {
  mlpSecret: string;
  /** Data key in the per-pod Secret (`[-._a-zA-Z0-9]+`). */
  key: string;
}

export interface Plan {
  version: typeof PLAN_VERSION;
  /** MLP project name; the fetcher resolves it to an id by exact match. */
  project: string;
  /** Where the fetcher sees the shared volume (absolute); empty when `files` is empty. */
  fileRoot: string;
  files: PlanFile[];
  /** Octal permission bits for files and the directories the fetcher creates. */
  fileMode: number;
  dirMode: number;
  /** The per-pod Secret for env-var secrets; null when there are none. */
  secret: { name: string; keys: PlanSecretKey[] } | null;
}

export type PlanResult = { ok: true; plan: Plan } | { ok: false; problems: string[] };

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_DATA_KEY = /^[-._a-zA-Z0-9]+$/;

/** A Kubernetes object name such as a Secret's (RFC 1123 subdomain, at most 253 characters). */
export function isDnsSubdomain(name: string): boolean {
  return name.length > 0 && name.length <= 253 && DNS_SUBDOMAIN.test(name);
}

/** A valid key in a Secret's `data` map (and in a secretKeyRef): no "." alone, no leading "..". */
export function isSecretDataKey(key: string): boolean {
  return key.length > 0 && key.length <= 253 && SECRET_DATA_KEY.test(key) && key !== '.' && !key.startsWith('..');
}

/**
 * Why a relative path would not stay inside the volume, or null when it is safe.
 * Segments must be non-empty, not `.`/`..`, free of NUL, and at most 255 bytes (a Linux name).
 */
export function unsafePathReason(path: string): string | null {
  if (path.length === 0) return 'is empty';
  if (path.startsWith('/')) return 'is absolute';
  if (path.includes('\0')) return 'contains a NUL byte';
  if (path.includes('\\')) return 'contains a backslash';
  for (const segment of path.split('/')) {
    if (segment === '') return 'has an empty path segment';
    if (segment === '.' || segment === '..') return `has a "${segment}" segment`;
    if (Buffer.byteLength(segment, 'utf8') > 255) return 'has a path segment longer than 255 bytes';
  }
  return null;
}

/** The distinct MLP secret names a plan asks for, in first-seen order. */
export function requestedSecrets(plan: Plan): string[] {
  const names = [...plan.files.map((f) => f.mlpSecret), ...(plan.secret?.keys ?? []).map((k) => k.mlpSecret)];
  return [...new Set(names)];
}

function isMode(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 0o777;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

/** Validates untrusted JSON (already parsed) as a plan, reporting every problem at once. */
export function validatePlan(input: unknown): PlanResult {
  const problems: string[] = [];
  if (!isRecord(input)) return { ok: false, problems: ['the plan must be a JSON object'] };
  if (input.version !== PLAN_VERSION) {
    return {
      ok: false,
      problems: [
        `plan version ${JSON.stringify(input.version)} is not supported (this fetcher reads version ${PLAN_VERSION}); use a fetcher image that matches the webhook`,
      ],
    };
  }
  if (!nonEmptyString(input.project)) problems.push('"project" must be a non-empty string (the MLP project name)');
  if (!isMode(input.fileMode)) problems.push('"fileMode" must be an integer permission between 0 and 0o777');
  if (!isMode(input.dirMode)) problems.push('"dirMode" must be an integer permission between 0 and 0o777');

  const files: PlanFile[] = [];
  if (!Array.isArray(input.files)) {
    problems.push('"files" must be an array');
  } else {
    const seen = new Set<string>();
    input.files.forEach((f: unknown, i) => {
      if (!isRecord(f) || !nonEmptyString(f.mlpSecret) || typeof f.path !== 'string') {
        problems.push(`files[${i}] must be {"mlpSecret": non-empty string, "path": string}`);
        return;
      }
      const reason = unsafePathReason(f.path);
      if (reason) problems.push(`files[${i}].path ${JSON.stringify(f.path)} ${reason}; it must stay inside the volume`);
      else if (seen.has(f.path)) problems.push(`files[${i}].path ${JSON.stringify(f.path)} appears twice`);
      seen.add(f.path);
      files.push({ mlpSecret: f.mlpSecret, path: f.path });
    });
  }
  if (files.length > 0 && !(typeof input.fileRoot === 'string' && input.fileRoot.startsWith('/'))) {
    problems.push('"fileRoot" must be an absolute path when "files" is not empty');
  }

  let secret: Plan['secret'] = null;
  if (input.secret !== null && input.secret !== undefined) {
    const s = input.secret;
    if (!isRecord(s) || typeof s.name !== 'string' || !Array.isArray(s.keys)) {
      problems.push('"secret" must be null or {"name": string, "keys": array}');
    } else {
      if (!isDnsSubdomain(s.name))
        problems.push(
          `secret.name ${JSON.stringify(s.name)} is not a valid Kubernetes object name (RFC 1123 subdomain, at most 253 characters)`,
        );
      const keys: PlanSecretKey[] = [];
      const seen = new Set<string>();
      s.keys.forEach((k: unknown, i) => {
        if (!isRecord(k) || !nonEmptyString(k.mlpSecret) || typeof k.key !== 'string') {
          problems.push(`secret.keys[${i}] must be {"mlpSecret": non-empty string, "key": string}`);
          return;
        }
        if (!isSecretDataKey(k.key))
          problems.push(
            `secret.keys[${i}].key ${JSON.stringify(k.key)} is not a valid Secret data key ([-._a-zA-Z0-9]+)`,
          );
        else if (seen.has(k.key)) problems.push(`secret.keys[${i}].key ${JSON.stringify(k.key)} appears twice`);
        seen.add(k.key);
        keys.push({ mlpSecret: k.mlpSecret, key: k.key });
      });
      if (keys.length === 0)
        problems.push('"secret.keys" is empty; use "secret": null when there are no env-var secrets');
      secret = { name: s.name, keys };
    }
  }
  if (problems.length === 0 && files.length === 0 && secret === null) problems.push('the plan requests no secrets');
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    plan: {
      version: PLAN_VERSION,
      project: input.project as string,
      fileRoot: files.length > 0 ? (input.fileRoot as string) : '',
      files,
      fileMode: input.fileMode as number,
      dirMode: input.dirMode as number,
      secret,
    },
  };
}

/** Parses the `DAP_PLAN` env var's text; a JSON syntax error is reported like any other problem. */
export function parsePlan(text: string | undefined): PlanResult {
  if (text === undefined || text.trim() === '') {
    return {
      ok: false,
      problems: [`${PLAN_ENV} is not set; the fetcher must run as the init container the webhook injects`],
    };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { ok: false, problems: [`${PLAN_ENV} is not valid JSON (${(err as Error).message})`] };
  }
  return validatePlan(parsed);
}
