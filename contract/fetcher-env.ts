/**
 * The environment the webhook gives the fetcher init container, and the paths it mounts there.
 * The webhook writes these names and the fetcher reads them: one definition for both sides.
 */

export const AUTH_MODES = ['serviceaccount', 'token-exchange', 'gcp-workload-identity'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

export const FETCHER_ENV = {
  /** JSON plan (see plan.ts). */
  plan: 'DAP_PLAN',
  /** Pod identity from the downward API (fieldRef metadata.name / namespace / uid, spec.serviceAccountName). */
  podName: 'POD_NAME',
  podNamespace: 'POD_NAMESPACE',
  podUid: 'POD_UID',
  podServiceAccount: 'POD_SERVICE_ACCOUNT',
  /** MLP base URL, e.g. http://mlp.caraml.svc:8080 (the `/v1/...` paths are appended). */
  mlpApiHost: 'MLP_API_HOST',
  authMode: 'MLP_AUTH_MODE',
  /** Projected service-account token whose audience is MLP_TOKEN_AUDIENCE (serviceaccount, token-exchange). */
  mlpTokenFile: 'MLP_TOKEN_FILE',
  tokenAudience: 'MLP_TOKEN_AUDIENCE',
  /** token-exchange: OIDC issuer to discover, requested audience/scope, optional client credentials file. */
  exchangeIssuer: 'MLP_TOKEN_EXCHANGE_ISSUER',
  exchangeAudience: 'MLP_TOKEN_EXCHANGE_AUDIENCE',
  exchangeScope: 'MLP_TOKEN_EXCHANGE_SCOPE',
  exchangeClientCredentialsFile: 'MLP_TOKEN_EXCHANGE_CLIENT_CREDENTIALS_FILE',
  /** token-exchange without a credentials file: the public client's id (default `dap-secret-fetcher`). */
  exchangeClientId: 'MLP_TOKEN_EXCHANGE_CLIENT_ID',
  /** gcp-workload-identity: metadata server host (Google's own variable name). */
  gceMetadataHost: 'GCE_METADATA_HOST',
  /** Kubernetes API access for creating the per-pod Secret, independent of automountServiceAccountToken. */
  kubeTokenFile: 'DAP_KUBE_TOKEN_FILE',
  kubeCaFile: 'DAP_KUBE_CA_FILE',
  /** Overrides KUBERNETES_SERVICE_HOST/PORT (used when the fetcher runs outside a pod, e.g. in tests). */
  kubeApiUrl: 'DAP_KUBE_API_URL',
  deadlineSeconds: 'DAP_DEADLINE_SECONDS',
  terminationLog: 'DAP_TERMINATION_LOG',
  /** Byte caps on what MLP sends (fetcher/bounded-body.ts); the webhook sets them only when changed from the defaults below. */
  maxProjectsBytes: 'DAP_MAX_PROJECTS_BYTES',
  maxSecretsBytes: 'DAP_MAX_SECRETS_BYTES',
  maxSecretBytes: 'DAP_MAX_SECRET_BYTES',
  /** Read by Node itself at start: a CA bundle trusted next to the public CAs (MLP behind a private CA). */
  extraCaCerts: 'NODE_EXTRA_CA_CERTS',
} as const;

/**
/**
 * The fetcher's default byte caps. The project list is parsed whole (a prefix match can return
 * many projects); the secrets list is streamed, so its cap bounds time more than memory; one
 * secret of the list (its value) is held whole. All well inside the fetcher's 256Mi limit.
 */
export const DEFAULT_BYTE_CAPS = {
  projectsBytes: 4 * 1024 * 1024,
  secretsBytes: 64 * 1024 * 1024,
  secretBytes: 1024 * 1024,
} as const;
/** The range an admin may set a cap to. */
export const BYTE_CAP_RANGE = { min: 1024, max: 1024 * 1024 * 1024 } as const;

/**
 * Where the webhook mounts the fetcher-only projected identity volume, and the files in it.
 * The ServiceAccount admission plugin's own path on purpose: the plugin re-runs after the
 * webhooks and adds its token mount to any container with nothing mounted there; with ours
 * there it leaves the fetcher alone, so the pod is not changed after us and the webhook is not
 * called a second time (reinvocationPolicy IfNeeded), and the fetcher gets no API token beyond
 * the ones it asks for.
 */
export const IDENTITY_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
export const IDENTITY_FILES = {
  mlpToken: 'mlp/token',
  kubeToken: 'kube/token',
  kubeCa: 'kube/ca.crt',
  exchangeClientCredentials: 'exchange/client-credentials.json',
  /** The admin's CA bundle (FETCHER_CA_CONFIGMAP). */
  extraCaCerts: 'tls/ca-bundle.crt',
} as const;

/** Where the fetcher sees the shared in-memory volume. */
export const FETCHER_VOLUME_PATH = '/flyte-secrets';

export const DEFAULT_TERMINATION_LOG = '/dev/termination-log';
export const DEFAULT_DEADLINE_SECONDS = 60;
export const DEFAULT_TOKEN_AUDIENCE = 'api.caraml';
