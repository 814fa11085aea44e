/**
 * Self-registration: once the HTTPS listener is up, create or update the
 * MutatingWebhookConfiguration that points the API server at this webhook, and re-apply its
 * caBundle whenever TLS_CA_CERT_FILE changes (certificate rotation without a restart).
 *
 * Failures are retried with capped exponential backoff (the API server may be starting too, or
 * RBAC may be applied a moment later); /readyz stays 503 until the first success. With no
 * cluster in sight at all (no KUBECONFIG, no ~/.kube/config, not in a pod) registration is
 * skipped with a log line saying so, and the webhook keeps serving: that is `npm start` on a
 * laptop.
 */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AdmissionregistrationV1Api,
  ApiException,
  KubeConfig,
  type V1LabelSelector,
  type V1MutatingWebhook,
  type V1MutatingWebhookConfiguration,
} from '@kubernetes/client-node';
import type { RegistrationSettings } from '../config.js';
import { INJECT_LABEL } from '../mutate/inject.js';
import { type FileWatch, watchFiles } from './file-watch.js';
import type { Readiness } from './health.js';
import { errorFields, type Logger } from './log.js';
import type { WebhookMetrics } from './metrics.js';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';
const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';

/** The webhook entry exactly as this server wants it; `caBundle` undefined = keep what is there. */
export function desiredWebhook(s: RegistrationSettings, caBundle: string | undefined): V1MutatingWebhook {
  const ca = caBundle === undefined ? {} : { caBundle };
  return {
    name: s.webhookName,
    clientConfig:
      s.url !== ''
        ? { url: s.url, ...ca }
        : {
            service: { name: s.serviceName, namespace: s.serviceNamespace, port: s.servicePort, path: s.mutatePath },
            ...ca,
          },
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: '*' }],
    // The API server filters first: only pods Flyte labelled ever reach us (the handler checks again).
    objectSelector: { matchLabels: { [INJECT_LABEL]: 'true' } },
    ...(s.namespaceSelector ? { namespaceSelector: s.namespaceSelector as V1LabelSelector } : {}),
    failurePolicy: s.failurePolicy,
    // The admission path has no side effects (the fetcher creates the Secret later), so dry-run is safe.
    sideEffects: 'None',
    timeoutSeconds: s.timeoutSeconds,
    // A later webhook may add a container; being called again lets us wire it too (mutation is idempotent).
    reinvocationPolicy: 'IfNeeded',
    admissionReviewVersions: ['v1'],
    matchPolicy: 'Equivalent',
  };
}

export function desiredConfiguration(
  s: RegistrationSettings,
  caBundle: string | undefined,
  existing?: V1MutatingWebhookConfiguration,
): V1MutatingWebhookConfiguration {
  const webhook = desiredWebhook(s, caBundle);
  if (caBundle === undefined) {
    // Without a CA file of our own (e.g. cert-manager's cainjector fills it in), keep the current caBundle.
    const current = existing?.webhooks?.find((w) => w.name === s.webhookName)?.clientConfig.caBundle;
    if (current) webhook.clientConfig.caBundle = current;
  }
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: {
      name: s.configurationName,
      // Others' labels and annotations (e.g. cert-manager's inject-ca-from) survive an update.
      labels: { ...(existing?.metadata?.labels ?? {}), [MANAGED_BY_LABEL]: 'dap-secret-webhook' },
      ...(existing?.metadata?.annotations ? { annotations: existing.metadata.annotations } : {}),
      ...(existing?.metadata?.resourceVersion ? { resourceVersion: existing.metadata.resourceVersion } : {}),
    },
    webhooks: [webhook],
  };
}

/** One sentence for logs and /readyz, not the client's multi-line dump of headers. */
export function describeKubeError(err: unknown): string {
  if (err instanceof ApiException) {
    let message = '';
    try {
      const body: unknown = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
      if (body && typeof body === 'object' && 'message' in body)
        message = String((body as { message: unknown }).message);
    } catch {
      /* not JSON: the status code alone */
    }
    const hint =
      err.code === 403 ? ' (grant this service account get, create and update on mutatingwebhookconfigurations)' : '';
    return `HTTP ${err.code}${message ? `: ${message}` : ''}${hint}`;
  }
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    return cause instanceof Error && !err.message.includes(cause.message)
      ? `${err.message}: ${cause.message}`
      : err.message;
  }
  return String(err);
}

function isStatus(err: unknown, code: number): boolean {
  return err instanceof ApiException && err.code === code;
}

/** Create when absent, otherwise replace (with the read resourceVersion, so a concurrent writer makes us retry). */
export async function applyConfiguration(
  api: AdmissionregistrationV1Api,
  s: RegistrationSettings,
  caBundle: string | undefined,
): Promise<'created' | 'updated'> {
  let existing: V1MutatingWebhookConfiguration | undefined;
  try {
    existing = await api.readMutatingWebhookConfiguration({ name: s.configurationName });
  } catch (err) {
    if (!isStatus(err, 404)) throw err;
  }
  if (!existing) {
    await api.createMutatingWebhookConfiguration({ body: desiredConfiguration(s, caBundle) });
    return 'created';
  }
  await api.replaceMutatingWebhookConfiguration({
    name: s.configurationName,
    body: desiredConfiguration(s, caBundle, existing),
  });
  return 'updated';
}

export type ClusterAccess = { found: true; kubeConfig: KubeConfig; source: string } | { found: false; why: string };

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * The cluster to register with, in @kubernetes/client-node's loadFromDefault order (KUBECONFIG,
 * ~/.kube/config, in-cluster), but reading `env` and saying why when there is none, where
 * loadFromDefault would silently fall back to http://localhost:8080.
 */
export async function findCluster(env: Readonly<Record<string, string | undefined>>): Promise<ClusterAccess> {
  const kc = new KubeConfig();
  const kubeconfigVar = env.KUBECONFIG ?? '';
  if (kubeconfigVar !== '') {
    const files = [];
    for (const f of kubeconfigVar.split(':').filter(Boolean)) if (await exists(f)) files.push(f);
    if (files.length === 0) return { found: false, why: `KUBECONFIG=${kubeconfigVar} names no existing file` };
    kc.loadFromFile(files[0]!);
    for (const f of files.slice(1)) {
      const more = new KubeConfig();
      more.loadFromFile(f);
      kc.mergeConfig(more, true);
    }
    return { found: true, kubeConfig: kc, source: `KUBECONFIG=${kubeconfigVar}` };
  }
  const home = env.HOME ?? '';
  if (home !== '' && (await exists(join(home, '.kube', 'config')))) {
    const file = join(home, '.kube', 'config');
    kc.loadFromFile(file);
    return { found: true, kubeConfig: kc, source: file };
  }
  if ((env.KUBERNETES_SERVICE_HOST ?? '') !== '' && (await exists(SERVICE_ACCOUNT_TOKEN))) {
    kc.loadFromCluster();
    return { found: true, kubeConfig: kc, source: 'in-cluster service account' };
  }
  return {
    found: false,
    why:
      'KUBECONFIG is not set, there is no ~/.kube/config, ' +
      'and this is not a pod (no KUBERNETES_SERVICE_HOST or service-account token)',
  };
}

export interface RegistrarOptions {
  settings: RegistrationSettings;
  kubeConfig: KubeConfig;
  /** TLS_CA_CERT_FILE, watched and re-applied on change; '' = none. */
  caFile: string;
  /** PEM of a CA generated at start-up (self-signed mode), used when there is no CA file. */
  generatedCaPem: string | null;
  readiness: Readiness;
  metrics: WebhookMetrics;
  logger: Logger;
  initialBackoffMs: number;
  maxBackoffMs: number;
  pollIntervalMs: number;
}

export interface Registrar {
  stop(): void;
}

async function readCaBundle(caFile: string, generatedCaPem: string | null): Promise<string | undefined> {
  if (caFile !== '') {
    let pem: string;
    try {
      pem = await readFile(caFile, 'utf8');
    } catch (err) {
      throw new Error(`cannot read TLS_CA_CERT_FILE ${caFile}: ${(err as Error).message}`);
    }
    if (!pem.includes('-----BEGIN CERTIFICATE-----'))
      throw new Error(`TLS_CA_CERT_FILE ${caFile} holds no PEM certificate`);
    return Buffer.from(pem).toString('base64');
  }
  return generatedCaPem === null ? undefined : Buffer.from(generatedCaPem).toString('base64');
}

/** Registers now, retries until it succeeds, and re-registers when the CA file changes. */
export async function startRegistrar(opts: RegistrarOptions): Promise<Registrar> {
  const { settings, readiness, metrics, logger } = opts;
  const api = opts.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  const target =
    settings.url !== ''
      ? { url: settings.url }
      : {
          service: `${settings.serviceNamespace}/${settings.serviceName}:${settings.servicePort}${settings.mutatePath}`,
        };
  let stopped = false;
  let running = false;
  let again = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let backoffMs = opts.initialBackoffMs;
  let failures = 0;

  const attempt = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    clearTimeout(retryTimer);
    try {
      do {
        again = false;
        try {
          const caBundle = await readCaBundle(opts.caFile, opts.generatedCaPem);
          const result = await applyConfiguration(api, settings, caBundle);
          if (stopped) return;
          metrics.registrations.inc({ result });
          readiness.registration = { state: 'registered' };
          backoffMs = opts.initialBackoffMs;
          failures = 0;
          logger.info(
            {
              configuration: settings.configurationName,
              webhook: settings.webhookName,
              ...target,
              caBundle: caBundle === undefined ? 'kept' : 'set',
              result,
            },
            'registered the MutatingWebhookConfiguration',
          );
        } catch (err) {
          if (stopped) return;
          failures++;
          const reason = describeKubeError(err);
          metrics.registrations.inc({ result: 'failed' });
          if (readiness.registration.state !== 'registered')
            readiness.registration = { state: 'pending', lastError: reason };
          logger.warn(
            { configuration: settings.configurationName, attempt: failures, retryInMs: backoffMs, reason },
            'registering the MutatingWebhookConfiguration failed; will retry',
          );
          retryTimer = setTimeout(() => void attempt(), backoffMs);
          backoffMs = Math.min(backoffMs * 2, opts.maxBackoffMs);
          return;
        }
      } while (again && !stopped);
    } catch (err) {
      logger.error({ err: errorFields(err) }, 'registration loop failed');
    } finally {
      running = false;
    }
  };

  let watcher: FileWatch | null = null;
  if (opts.caFile !== '') {
    watcher = await watchFiles({
      paths: [opts.caFile],
      logger,
      pollIntervalMs: opts.pollIntervalMs,
      onChange: async () => {
        logger.info({ caFile: opts.caFile }, 'TLS_CA_CERT_FILE changed; re-applying the caBundle');
        await attempt();
        return true;
      },
    });
  }
  void attempt();

  return {
    stop() {
      stopped = true;
      clearTimeout(retryTimer);
      watcher?.close();
    },
  };
}
