/**
 * The webhook's configuration: env vars only, every one listed in CONFIG_VARS (the README table
 * is generated from the same list, so docs and code cannot drift). Invalid config yields one
 * line per problem; the server exits before listening.
 */

import { posix } from 'node:path';
import {
  AUTH_MODES,
  type AuthMode,
  BYTE_CAP_RANGE,
  DEFAULT_BYTE_CAPS,
  DEFAULT_DEADLINE_SECONDS,
  DEFAULT_TOKEN_AUDIENCE,
} from '../contract/fetcher-env.js';
import { isDnsSubdomain } from '../contract/plan.js';
import { type FetcherAdminSettings, readFetcherAdminSettings } from './fetcher-admin-settings.js';

export type FileMountType = 'FILE' | 'ENV_VAR';
type ProjectSource = 'namespace' | 'project-label';
type FailurePolicy = 'Fail' | 'Ignore';

interface FetcherSettings {
  image: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  cpuRequest: string;
  cpuLimit: string;
  memoryRequest: string;
  memoryLimit: string;
  runAsUser: number;
  deadlineSeconds: number;
  volumeSizeLimit: string;
  /** Byte caps on MLP's answers, passed to the fetcher when they differ from its defaults. */
  caps: { projectsBytes: number; secretsBytes: number; secretBytes: number };
  /** CA bundle, extra env and pull secrets (fetcher-admin-settings.ts). */
  admin: FetcherAdminSettings;
}

interface MlpSettings {
  apiHost: string;
  projectSource: ProjectSource;
  authMode: AuthMode;
  tokenAudience: string;
  tokenExpirationSeconds: number;
  exchangeIssuer: string;
  exchangeAudience: string;
  exchangeScope: string;
  exchangeClientId: string;
  exchangeClientSecretName: string;
}

/** Caps on the work one pod may ask of admission; past each, a denial names the cap and the fix. */
export interface AdmissionLimits {
  /** flyte.secrets/s<i> annotations on one pod. */
  maxSecretsPerPod: number;
  /** Containers and init containers that get the wiring (each gets every secret's env). */
  maxWiredContainers: number;
  /** Bytes of flyte.secrets/s<i> values decoded for one pod. */
  maxAnnotationBytes: number;
  /** Bytes of the JSON Patch sent back. */
  maxPatchBytes: number;
}

/** What the pure mutation needs. */
export interface InjectionConfig {
  fetcher: FetcherSettings;
  mlp: MlpSettings;
  secretsDir: string;
  defaultMountType: FileMountType;
  limits: AdmissionLimits;
}

export interface RegistrationSettings {
  enabled: boolean;
  configurationName: string;
  webhookName: string;
  serviceName: string;
  serviceNamespace: string;
  servicePort: number;
  url: string;
  mutatePath: string;
  failurePolicy: FailurePolicy;
  timeoutSeconds: number;
  namespaceSelector: Record<string, unknown> | null;
}

interface ServerSettings {
  host: string;
  port: number;
  healthPort: number;
  certFile: string;
  keyFile: string;
  caFile: string;
  maxBodyBytes: number;
  /**
   * Request bodies held at once, over every connection and stream: 256 connections × 250 streams
   * × WEBHOOK_MAX_BODY_BYTES would be far past the pod's memory limit.
   */
  maxInflightBodyBytes: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection. */
  maxConcurrentStreams: number;
  /** Open TLS connections at once; more are closed at accept. */
  maxConnections: number;
  /** A connection with nothing in flight is closed after this long. */
  idleTimeoutSeconds: number;
  /** A request's headers must arrive within this long. */
  headersTimeoutSeconds: number;
  /** A request (headers and body) must arrive within this long. */
  requestTimeoutSeconds: number;
  /** On SIGTERM: keep serving this long (not ready) while the API server's endpoints drop the pod. */
  drainDelaySeconds: number;
  logLevel: string;
}

export interface Config {
  injection: InjectionConfig;
  registration: RegistrationSettings;
  server: ServerSettings;
}

export interface ConfigVar {
  name: string;
  default: string;
  description: string;
}

/** Every env var the webhook reads, with its default ('' = unset) and meaning. */
export const CONFIG_VARS: readonly ConfigVar[] = [
  {
    name: 'FETCHER_IMAGE',
    default: '',
    description: "Required. Image of the fetcher init container (the admin's choice, e.g. a registry mirror).",
  },
  { name: 'FETCHER_IMAGE_PULL_POLICY', default: 'IfNotPresent', description: 'Always, IfNotPresent or Never.' },
  { name: 'FETCHER_CPU_REQUEST', default: '50m', description: 'Fetcher CPU request.' },
  {
    name: 'FETCHER_CPU_LIMIT',
    default: '1',
    description:
      'Fetcher CPU limit (a run uses ~0.2 s of CPU in ~0.25 s; below 1 the CFS quota throttles its start, bench/README.md).',
  },
  { name: 'FETCHER_MEMORY_REQUEST', default: '64Mi', description: 'Fetcher memory request.' },
  {
    name: 'FETCHER_MEMORY_LIMIT',
    default: '256Mi',
    description: "Fetcher memory limit (a run peaks near 100 MiB; MLP returns the whole project's secrets).",
  },
  { name: 'FETCHER_RUN_AS_USER', default: '65532', description: 'Non-root uid (and gid) the fetcher runs as.' },
  {
    name: 'FETCHER_DEADLINE_SECONDS',
    default: String(DEFAULT_DEADLINE_SECONDS),
    description: 'Overall deadline of one fetcher run, retries included.',
  },
  {
    name: 'FETCHER_MAX_PROJECTS_BYTES',
    default: String(DEFAULT_BYTE_CAPS.projectsBytes),
    description: "Cap on MLP's project list the fetcher reads (it ends with a clear error past it).",
  },
  {
    name: 'FETCHER_MAX_SECRETS_BYTES',
    default: String(DEFAULT_BYTE_CAPS.secretsBytes),
    description: "Cap on MLP's secrets list (the whole project's secrets, streamed).",
  },
  {
    name: 'FETCHER_MAX_SECRET_BYTES',
    default: String(DEFAULT_BYTE_CAPS.secretBytes),
    description: 'Cap on one secret in that list, value included.',
  },
  {
    name: 'FETCHER_CA_CONFIGMAP',
    default: '',
    description:
      "ConfigMap in each task pod's namespace holding the CA bundle that signed " +
      "MLP's (and the token-exchange issuer's) certificate, e.g. " +
      'one a trust-manager Bundle writes; mounted into the fetcher only and trusted ' +
      'through NODE_EXTRA_CA_CERTS, next to the public CAs. Empty: public CAs only.',
  },
  { name: 'FETCHER_CA_CONFIGMAP_KEY', default: 'ca.crt', description: 'Key of the PEM bundle in that ConfigMap.' },
  {
    name: 'FETCHER_EXTRA_ENV',
    default: '',
    description:
      'JSON object of extra env vars for the fetcher, e.g. ' +
      '{"HTTPS_PROXY":"http://proxy:3128","NODE_USE_ENV_PROXY":"1"}; at most 32. ' +
      'Copied into every injected pod spec: no secrets. Names the webhook sets are refused.',
  },
  {
    name: 'FETCHER_IMAGE_PULL_SECRETS',
    default: '',
    description:
      "Comma-separated Secrets (in each task pod's namespace) added to the " +
      "pod's imagePullSecrets, for a fetcher image in a private registry.",
  },
  {
    name: 'SECRETS_VOLUME_SIZE_LIMIT',
    default: '1Mi',
    description: 'sizeLimit of the in-memory emptyDir holding FILE secrets.',
  },
  {
    name: 'FLYTE_SECRETS_DEFAULT_DIR',
    default: '/etc/flyte/secrets',
    description:
      "Where task containers see FILE secrets (flytekit's FLYTE_SECRETS_DEFAULT_DIR); " +
      'not a system directory such as /etc.',
  },
  { name: 'DEFAULT_MOUNT_TYPE', default: 'FILE', description: 'How ANY secrets are delivered: FILE or ENV_VAR.' },
  {
    name: 'MLP_API_HOST',
    default: '',
    description: 'Required. MLP base URL the fetcher calls, e.g. http://mlp.caraml.svc.cluster.local:8080.',
  },
  {
    name: 'MLP_PROJECT_SOURCE',
    default: 'namespace',
    description: "MLP project of a pod: namespace (the pod's namespace) or project-label (Flyte's `project` label).",
  },
  {
    name: 'MLP_AUTH_MODE',
    default: 'serviceaccount',
    description: `How the fetcher authenticates to MLP: ${AUTH_MODES.join(', ')}.`,
  },
  {
    name: 'MLP_TOKEN_AUDIENCE',
    default: DEFAULT_TOKEN_AUDIENCE,
    description:
      'Audience of the projected service-account token (serviceaccount, ' +
      'token-exchange) or of the Google ID token (gcp-workload-identity).',
  },
  {
    name: 'MLP_TOKEN_EXPIRATION_SECONDS',
    default: '3600',
    description: 'Lifetime the kubelet requests for the projected tokens (at least 600).',
  },
  {
    name: 'MLP_TOKEN_EXCHANGE_ISSUER',
    default: '',
    description: 'token-exchange: OIDC issuer https URL to discover (required in that mode).',
  },
  {
    name: 'MLP_TOKEN_EXCHANGE_AUDIENCE',
    default: '',
    description: 'token-exchange: audience requested for the exchanged token.',
  },
  {
    name: 'MLP_TOKEN_EXCHANGE_SCOPE',
    default: '',
    description: 'token-exchange: scope requested for the exchanged token.',
  },
  {
    name: 'MLP_TOKEN_EXCHANGE_CLIENT_ID',
    default: '',
    description:
      'token-exchange: client_id of a public client (no credentials file); ' +
      "the fetcher's default is dap-secret-fetcher.",
  },
  {
    name: 'MLP_TOKEN_EXCHANGE_CLIENT_SECRET_NAME',
    default: '',
    description:
      "token-exchange: Secret in the pod's namespace with client-credentials.json ({client_id, " +
      'client_secret}); empty = public client.',
  },
  { name: 'WEBHOOK_NAME', default: 'dap-secret-webhook', description: 'Name of the MutatingWebhookConfiguration.' },
  {
    name: 'WEBHOOK_WEBHOOK_NAME',
    default: 'flyte-secrets.dap-secret-webhook.caraml.dev',
    description: 'Name of the webhook entry inside it (fully qualified).',
  },
  {
    name: 'WEBHOOK_SERVICE_NAME',
    default: 'dap-secret-webhook',
    description: 'Service the API server calls (in-cluster registration).',
  },
  {
    name: 'WEBHOOK_SERVICE_NAMESPACE',
    default: '',
    description:
      'Namespace of that Service; falls back to WEBHOOK_NAMESPACE, ' +
      'then the pod\'s namespace file, then "default".',
  },
  { name: 'WEBHOOK_SERVICE_PORT', default: '443', description: 'Port of that Service.' },
  {
    name: 'WEBHOOK_URL',
    default: '',
    description:
      'Register this https URL instead of the Service (out-of-cluster webhook). ' + 'The mutate path is not appended.',
  },
  { name: 'WEBHOOK_MUTATE_PATH', default: '/mutate', description: 'HTTP path of the admission endpoint.' },
  { name: 'WEBHOOK_PORT', default: '8443', description: 'HTTPS (HTTP/2 and HTTP/1.1) listen port (0: any free port).' },
  { name: 'WEBHOOK_HOST', default: '0.0.0.0', description: 'Listen address of both ports.' },
  {
    name: 'HEALTH_PORT',
    default: '8080',
    description: 'Plain-HTTP port for /healthz, /readyz and /metrics (0: any free port).',
  },
  {
    name: 'WEBHOOK_REGISTER',
    default: 'true',
    description: 'Create/update the MutatingWebhookConfiguration at start (false for GitOps/Helm-rendered configs).',
  },
  {
    name: 'WEBHOOK_FAILURE_POLICY',
    default: 'Fail',
    description: 'Fail (no pod starts without its secrets) or Ignore.',
  },
  { name: 'WEBHOOK_TIMEOUT_SECONDS', default: '5', description: 'timeoutSeconds of the registration (1-30).' },
  {
    name: 'WEBHOOK_NAMESPACE_SELECTOR',
    default: '',
    description: 'JSON label selector limiting the namespaces the webhook sees, e.g. {"matchExpressions":[...]}.',
  },
  {
    name: 'WEBHOOK_DRAIN_DELAY_SECONDS',
    default: '5',
    description:
      'On SIGTERM, keep serving (not ready) this long before closing, while the API server stops routing here; ' +
      "the pod's terminationGracePeriodSeconds must exceed it by 21.",
  },
  {
    name: 'WEBHOOK_MAX_BODY_BYTES',
    default: '3145728',
    description: 'Largest AdmissionReview body accepted (413 above; 1024-67108864).',
  },
  {
    name: 'WEBHOOK_MAX_INFLIGHT_BODY_BYTES',
    default: '67108864',
    description:
      'Most bytes of request bodies held at once, over all connections and streams ' +
      '(at least WEBHOOK_MAX_BODY_BYTES, at most 1073741824); a request past it is answered 503 with Retry-After.',
  },
  {
    name: 'WEBHOOK_MAX_SECRETS_PER_POD',
    default: '64',
    description: 'Most flyte.secrets/s<i> annotations one pod may carry (1-1000); more are denied naming this cap.',
  },
  {
    name: 'WEBHOOK_MAX_WIRED_CONTAINERS',
    default: '32',
    description: 'Most containers and init containers wired in one pod (1-500); more are denied naming this cap.',
  },
  {
    name: 'WEBHOOK_MAX_ANNOTATION_BYTES',
    default: '65536',
    description:
      'Most bytes of flyte.secrets/s<i> values decoded for one pod (1024-1048576); ' +
      'more are denied before decoding.',
  },
  {
    name: 'WEBHOOK_MAX_PATCH_BYTES',
    default: '1048576',
    description: 'Largest JSON Patch returned for one pod (65536-3145728); a bigger one is denied naming this cap.',
  },
  {
    name: 'WEBHOOK_MAX_CONCURRENT_STREAMS',
    default: '250',
    description:
      'HTTP/2 concurrent streams per connection (1-1000; ' + '250 as Go servers such as controller-runtime webhooks).',
  },
  {
    name: 'WEBHOOK_MAX_CONNECTIONS',
    default: '256',
    description: 'Open HTTPS connections at once (1-65536); more are closed at accept.',
  },
  {
    name: 'WEBHOOK_IDLE_TIMEOUT_SECONDS',
    default: '120',
    description: 'A connection with no request in flight is closed after this many seconds (1-3600).',
  },
  {
    name: 'WEBHOOK_HEADERS_TIMEOUT_SECONDS',
    default: '10',
    description: 'A new connection must send its first request headers within this many seconds (1-300).',
  },
  {
    name: 'WEBHOOK_REQUEST_TIMEOUT_SECONDS',
    default: '30',
    description:
      "A request's headers and body must arrive within this many seconds (1-300); " +
      'then 408 and the stream or connection is closed.',
  },
  {
    name: 'TLS_SERVER_CERT_FILE',
    default: '',
    description:
      'Serving certificate (PEM); reloaded when it changes. Unset with the key: a throw-away self-signed one.',
  },
  { name: 'TLS_SERVER_KEY_FILE', default: '', description: 'Serving key (PEM).' },
  {
    name: 'TLS_CA_CERT_FILE',
    default: '',
    description: 'CA bundle written as caBundle at registration; re-applied when it changes.',
  },
  { name: 'LOG_LEVEL', default: 'info', description: 'debug, info, warn or error.' },
] as const;

// Kubernetes' quantity grammar: a decimal number, then a binary suffix, a decimal suffix or an exponent.
const QUANTITY = /^(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei)|(n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/;
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/** The value of a Kubernetes quantity (e.g. 500m → 0.5, 64Mi → 67108864), or null when it is not one. */
export function parseQuantity(text: string): number | null {
  const m = QUANTITY.exec(text);
  if (!m) return null;
  const [, number, binary, decimal, exponent] = m;
  const scale = binary ? BINARY[binary]! : decimal ? DECIMAL[decimal]! : exponent ? 10 ** Number(exponent) : 1;
  return Number(number) * scale;
}

/** Top-level directories of a container image that a read-only secrets mount would hide. */
export const SYSTEM_DIRS: ReadonlySet<string> = new Set([
  '/',
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/home',
  '/lib',
  '/lib32',
  '/lib64',
  '/opt',
  '/proc',
  '/root',
  '/run',
  '/sbin',
  '/srv',
  '/sys',
  '/tmp',
  '/usr',
  '/var',
]);

type Env = Readonly<Record<string, string | undefined>>;

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: string): string {
    const spec = CONFIG_VARS.find((v) => v.name === name);
    if (!spec) throw new Error(`internal: ${name} is not declared in CONFIG_VARS`);
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? spec.default : value.trim();
  }

  required(name: string): string {
    const value = this.raw(name);
    if (value === '') this.problems.push(`${name} is required but not set`);
    return value;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[]): T {
    const value = this.raw(name);
    if (!(allowed as readonly string[]).includes(value)) {
      this.problems.push(`${name}=${JSON.stringify(value)} must be one of ${allowed.join(', ')}`);
      return allowed[0] as T;
    }
    return value as T;
  }

  integer(name: string, min: number, max: number): number {
    const value = this.raw(name);
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) {
      this.problems.push(`${name}=${JSON.stringify(value)} must be a whole number from ${min} to ${max}`);
      return min;
    }
    return n;
  }

  quantity(name: string): string {
    const value = this.raw(name);
    if (parseQuantity(value) === null)
      this.problems.push(`${name}=${JSON.stringify(value)} is not a Kubernetes quantity (e.g. 100m, 64Mi)`);
    return value;
  }

  /** The API server refuses a container whose request exceeds its limit. */
  requestWithinLimit(requestVar: string, request: string, limitVar: string, limit: string): void {
    const r = parseQuantity(request);
    const l = parseQuantity(limit);
    if (r !== null && l !== null && r > l)
      this.problems.push(
        `${requestVar}=${request} is more than ${limitVar}=${limit}; Kubernetes refuses a request above its limit`,
      );
  }

  boolean(name: string): boolean {
    const value = this.raw(name).toLowerCase();
    if (value === 'true' || value === '1' || value === 'yes') return true;
    if (value === 'false' || value === '0' || value === 'no') return false;
    this.problems.push(`${name}=${JSON.stringify(value)} must be true or false`);
    return false;
  }

  /** An absolute directory for a read-only mount, which must not hide the image's own files. */
  mountDirectory(name: string): string {
    const value = this.raw(name);
    // Normalised as the container runtime sees it: "/etc/." and "//etc" are /etc.
    const dir = posix.normalize(value).replace(/(.)\/+$/, '$1');
    if (!value.startsWith('/') || value.split('/').includes('..'))
      this.problems.push(`${name}=${JSON.stringify(value)} must be an absolute path without ".."`);
    else if (SYSTEM_DIRS.has(dir))
      this.problems.push(
        `${name}=${JSON.stringify(value)} would hide the image's ${dir} behind the secrets volume; ` +
          `use a directory of its own such as /etc/flyte/secrets`,
      );
    return dir;
  }

  url(name: string, protocols: string[], required: boolean): string {
    const value = required ? this.required(name) : this.raw(name);
    if (value === '') return value;
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      this.problems.push(`${name}=${JSON.stringify(value)} is not a URL`);
      return value;
    }
    if (!protocols.includes(u.protocol))
      this.problems.push(
        `${name}=${JSON.stringify(value)} must be a ${protocols.map((p) => p.replace(':', '')).join(' or ')} URL`,
      );
    // Credentials in a URL would be copied into every pod spec, readable by anyone who can get pods.
    if (u.username !== '' || u.password !== '')
      this.problems.push(`${name} must not contain a user name or password (it is copied into every pod spec)`);
    if (u.search !== '' || u.hash !== '')
      this.problems.push(`${name}=${JSON.stringify(value)} must not have a query or fragment`);
    return value;
  }

  jsonObject(name: string): Record<string, unknown> | null {
    const value = this.raw(name);
    if (value === '') return null;
    try {
      const parsed: unknown = JSON.parse(value);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
        return parsed as Record<string, unknown>;
    } catch {
      /* reported below */
    }
    this.problems.push(`${name} must be a JSON object (a Kubernetes label selector)`);
    return null;
  }
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

/** Reads and validates the whole configuration; `podNamespace` is the namespace file's content if any. */
export function loadConfig(env: Env, podNamespace = ''): ConfigResult {
  const r = new Reader(env);
  const admin = readFetcherAdminSettings((name) => r.raw(name));
  const fetcher: FetcherSettings = {
    image: r.required('FETCHER_IMAGE'),
    imagePullPolicy: r.oneOf('FETCHER_IMAGE_PULL_POLICY', ['IfNotPresent', 'Always', 'Never'] as const),
    cpuRequest: r.quantity('FETCHER_CPU_REQUEST'),
    cpuLimit: r.quantity('FETCHER_CPU_LIMIT'),
    memoryRequest: r.quantity('FETCHER_MEMORY_REQUEST'),
    memoryLimit: r.quantity('FETCHER_MEMORY_LIMIT'),
    runAsUser: r.integer('FETCHER_RUN_AS_USER', 1, 2147483647),
    deadlineSeconds: r.integer('FETCHER_DEADLINE_SECONDS', 1, 3600),
    volumeSizeLimit: r.quantity('SECRETS_VOLUME_SIZE_LIMIT'),
    caps: {
      projectsBytes: r.integer('FETCHER_MAX_PROJECTS_BYTES', BYTE_CAP_RANGE.min, BYTE_CAP_RANGE.max),
      secretsBytes: r.integer('FETCHER_MAX_SECRETS_BYTES', BYTE_CAP_RANGE.min, BYTE_CAP_RANGE.max),
      secretBytes: r.integer('FETCHER_MAX_SECRET_BYTES', BYTE_CAP_RANGE.min, BYTE_CAP_RANGE.max),
    },
    admin: admin.settings,
  };
  r.problems.push(...admin.problems);
  r.requestWithinLimit('FETCHER_CPU_REQUEST', fetcher.cpuRequest, 'FETCHER_CPU_LIMIT', fetcher.cpuLimit);
  r.requestWithinLimit('FETCHER_MEMORY_REQUEST', fetcher.memoryRequest, 'FETCHER_MEMORY_LIMIT', fetcher.memoryLimit);
  if (/\s/.test(fetcher.image))
    r.problems.push(`FETCHER_IMAGE=${JSON.stringify(fetcher.image)} must not contain whitespace`);

  const mlp: MlpSettings = {
    apiHost: r.url('MLP_API_HOST', ['http:', 'https:'], true),
    projectSource: r.oneOf('MLP_PROJECT_SOURCE', ['namespace', 'project-label'] as const),
    authMode: r.oneOf('MLP_AUTH_MODE', AUTH_MODES),
    tokenAudience: r.raw('MLP_TOKEN_AUDIENCE'),
    tokenExpirationSeconds: r.integer('MLP_TOKEN_EXPIRATION_SECONDS', 600, 86400),
    exchangeIssuer: r.url('MLP_TOKEN_EXCHANGE_ISSUER', ['https:'], false),
    exchangeAudience: r.raw('MLP_TOKEN_EXCHANGE_AUDIENCE'),
    exchangeScope: r.raw('MLP_TOKEN_EXCHANGE_SCOPE'),
    exchangeClientId: r.raw('MLP_TOKEN_EXCHANGE_CLIENT_ID'),
    exchangeClientSecretName: r.raw('MLP_TOKEN_EXCHANGE_CLIENT_SECRET_NAME'),
  };
  if (mlp.authMode === 'token-exchange' && mlp.exchangeIssuer === '')
    r.problems.push('MLP_TOKEN_EXCHANGE_ISSUER is required when MLP_AUTH_MODE=token-exchange');
  if (mlp.exchangeClientSecretName !== '' && !isDnsSubdomain(mlp.exchangeClientSecretName))
    r.problems.push(
      `MLP_TOKEN_EXCHANGE_CLIENT_SECRET_NAME=${JSON.stringify(mlp.exchangeClientSecretName)} ` +
        `is not a valid Secret name`,
    );

  const injection: InjectionConfig = {
    fetcher,
    mlp,
    secretsDir: r.mountDirectory('FLYTE_SECRETS_DEFAULT_DIR'),
    defaultMountType: r.oneOf('DEFAULT_MOUNT_TYPE', ['FILE', 'ENV_VAR'] as const),
    limits: {
      maxSecretsPerPod: r.integer('WEBHOOK_MAX_SECRETS_PER_POD', 1, 1000),
      maxWiredContainers: r.integer('WEBHOOK_MAX_WIRED_CONTAINERS', 1, 500),
      maxAnnotationBytes: r.integer('WEBHOOK_MAX_ANNOTATION_BYTES', 1024, 1024 * 1024),
      maxPatchBytes: r.integer('WEBHOOK_MAX_PATCH_BYTES', 64 * 1024, 3 * 1024 * 1024),
    },
  };

  const registration: RegistrationSettings = {
    enabled: r.boolean('WEBHOOK_REGISTER'),
    configurationName: r.raw('WEBHOOK_NAME'),
    webhookName: r.raw('WEBHOOK_WEBHOOK_NAME'),
    serviceName: r.raw('WEBHOOK_SERVICE_NAME'),
    serviceNamespace:
      r.raw('WEBHOOK_SERVICE_NAMESPACE') || (env.WEBHOOK_NAMESPACE ?? '').trim() || podNamespace.trim() || 'default',
    servicePort: r.integer('WEBHOOK_SERVICE_PORT', 1, 65535),
    url: r.url('WEBHOOK_URL', ['https:'], false),
    mutatePath: r.raw('WEBHOOK_MUTATE_PATH'),
    failurePolicy: r.oneOf('WEBHOOK_FAILURE_POLICY', ['Fail', 'Ignore'] as const),
    timeoutSeconds: r.integer('WEBHOOK_TIMEOUT_SECONDS', 1, 30),
    namespaceSelector: r.jsonObject('WEBHOOK_NAMESPACE_SELECTOR'),
  };
  if (!isDnsSubdomain(registration.configurationName))
    r.problems.push(`WEBHOOK_NAME=${JSON.stringify(registration.configurationName)} is not a valid object name`);
  if (!isDnsSubdomain(registration.webhookName) || !registration.webhookName.includes('.'))
    r.problems.push(
      `WEBHOOK_WEBHOOK_NAME=${JSON.stringify(registration.webhookName)} ` +
        `must be a fully qualified name with at least one dot`,
    );
  if (!registration.mutatePath.startsWith('/'))
    r.problems.push(`WEBHOOK_MUTATE_PATH=${JSON.stringify(registration.mutatePath)} must start with "/"`);

  const server: ServerSettings = {
    host: r.raw('WEBHOOK_HOST'),
    port: r.integer('WEBHOOK_PORT', 0, 65535),
    healthPort: r.integer('HEALTH_PORT', 0, 65535),
    certFile: r.raw('TLS_SERVER_CERT_FILE'),
    keyFile: r.raw('TLS_SERVER_KEY_FILE'),
    caFile: r.raw('TLS_CA_CERT_FILE'),
    maxBodyBytes: r.integer('WEBHOOK_MAX_BODY_BYTES', 1024, 64 * 1024 * 1024),
    maxInflightBodyBytes: r.integer('WEBHOOK_MAX_INFLIGHT_BODY_BYTES', 1024, 1024 * 1024 * 1024),
    maxConcurrentStreams: r.integer('WEBHOOK_MAX_CONCURRENT_STREAMS', 1, 1000),
    maxConnections: r.integer('WEBHOOK_MAX_CONNECTIONS', 1, 65536),
    idleTimeoutSeconds: r.integer('WEBHOOK_IDLE_TIMEOUT_SECONDS', 1, 3600),
    headersTimeoutSeconds: r.integer('WEBHOOK_HEADERS_TIMEOUT_SECONDS', 1, 300),
    requestTimeoutSeconds: r.integer('WEBHOOK_REQUEST_TIMEOUT_SECONDS', 1, 300),
    drainDelaySeconds: r.integer('WEBHOOK_DRAIN_DELAY_SECONDS', 0, 300),
    logLevel: r.oneOf('LOG_LEVEL', ['info', 'debug', 'warn', 'error'] as const),
  };
  if ((server.certFile === '') !== (server.keyFile === ''))
    r.problems.push('TLS_SERVER_CERT_FILE and TLS_SERVER_KEY_FILE must be set together');
  if (server.port === server.healthPort && server.port !== 0)
    r.problems.push(`WEBHOOK_PORT and HEALTH_PORT must differ (both ${server.port})`);
  if (server.maxInflightBodyBytes < server.maxBodyBytes)
    r.problems.push(
      `WEBHOOK_MAX_INFLIGHT_BODY_BYTES=${server.maxInflightBodyBytes} is less than WEBHOOK_MAX_BODY_BYTES=${server.maxBodyBytes}: ` +
        'no request of the largest allowed size could ever be read; raise it or lower WEBHOOK_MAX_BODY_BYTES',
    );

  if (r.problems.length > 0) return { ok: false, problems: r.problems };
  return { ok: true, config: { injection, registration, server } };
}
