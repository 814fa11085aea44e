/**
 * The webhook as the built program (`node dist/webhook/dap-secret-webhook.mjs serve`), configured by env
 * vars like a deployment, out of cluster: it registers itself with a URL client config
 * (WEBHOOK_URL) and listens on 127.0.0.1 only. Ready when its /readyz says so, which the webhook
 * reports only after its self-registration succeeded.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdmissionregistrationV1Api, type V1MutatingWebhookConfiguration } from '@kubernetes/client-node';
import type { ControlPlane } from './controlPlane.js';
import { freePort } from './ports.js';
import { type ManagedProcess, startProcess } from './processes.js';
import { waitFor } from './wait.js';

export const WEBHOOK_PROGRAM = fileURLToPath(new URL('../../../dist/webhook/dap-secret-webhook.mjs', import.meta.url));

export interface WebhookOptions {
  /** MLP base URL written into the fetcher's env (the MLP stand-in's URL). */
  mlpApiHost: string;
  /** Name of the MutatingWebhookConfiguration; distinct per instance when a scenario runs two. */
  name?: string;
  fetcherImage?: string;
  /** Any other config var (see webhook/config.ts CONFIG_VARS), set last. */
  env?: Record<string, string>;
  readyTimeoutMs?: number;
}

export interface RunningWebhook {
  process: ManagedProcess;
  /** Name of the MutatingWebhookConfiguration it registered. */
  configurationName: string;
  url: string;
  healthUrl: string;
  logPath: string;
  configuration(): Promise<V1MutatingWebhookConfiguration>;
  /** Stops the process by PID; the registration stays (as after a crash), see deleteRegistration. */
  stop(): Promise<void>;
  deleteRegistration(): Promise<void>;
}

let instances = 0;

export async function startWebhook(cp: ControlPlane, opts: WebhookOptions): Promise<RunningWebhook> {
  const id = ++instances;
  const name = opts.name ?? `dap-secret-webhook-e2e-${id}`;
  const [port, healthPort] = [await freePort(), await freePort()];
  const serving = await cp.ca.issueServer('dap-secret-webhook', ['127.0.0.1', 'localhost']);
  // A directory of their own, as in a pod (a Secret volume): the webhook watches the directory
  // of its TLS files, and cp.dir changes with every line the control plane logs.
  const tlsDir = join(cp.dir, `webhook-${id}-tls`);
  await mkdir(tlsDir, { mode: 0o700 });
  const certFile = join(tlsDir, 'tls.crt');
  const keyFile = join(tlsDir, 'tls.key');
  await writeFile(certFile, serving.certPem);
  await writeFile(keyFile, serving.keyPem, { mode: 0o600 });
  const url = `https://127.0.0.1:${port}/mutate`;
  const healthUrl = `http://127.0.0.1:${healthPort}/readyz`;
  const logPath = join(cp.dir, `webhook-${id}.log`);

  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: cp.dir,
    KUBECONFIG: cp.kubeconfigPath,
    TLS_SERVER_CERT_FILE: certFile,
    TLS_SERVER_KEY_FILE: keyFile,
    TLS_CA_CERT_FILE: cp.caFile,
    FETCHER_IMAGE: opts.fetcherImage ?? 'registry.example/dap-secret-fetcher:e2e',
    MLP_API_HOST: opts.mlpApiHost,
    WEBHOOK_NAME: name,
    WEBHOOK_URL: url,
    WEBHOOK_HOST: '127.0.0.1',
    WEBHOOK_PORT: String(port),
    HEALTH_PORT: String(healthPort),
    LOG_LEVEL: 'debug',
    // No API server endpoints to wait for here: stop at once on SIGTERM.
    WEBHOOK_DRAIN_DELAY_SECONDS: '0',
    ...opts.env,
  };
  // The node that runs mocha is the project's pinned Node 24 (the system node may be older).
  const proc = startProcess(`webhook ${name}`, process.execPath, [WEBHOOK_PROGRAM, 'serve'], { logPath, env });
  const admission = cp.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  const running: RunningWebhook = {
    process: proc,
    configurationName: name,
    url,
    healthUrl,
    logPath,
    configuration: () => admission.readMutatingWebhookConfiguration({ name }),
    stop: () => proc.stop(5_000),
    deleteRegistration: async () => {
      await admission.deleteMutatingWebhookConfiguration({ name });
    },
  };
  try {
    await waitFor(async () => ((await fetch(healthUrl)).ok ? true : undefined), {
      what: `the webhook's ${healthUrl} (it turns ready once registered)`,
      timeoutMs: opts.readyTimeoutMs ?? 30_000,
      intervalMs: 100,
      abortIf: () => (proc.hasExited ? proc.describeExit() : undefined),
    });
  } catch (err) {
    await proc.stop();
    throw new Error(`${(err as Error).message}\n----- last lines of ${logPath} -----\n${proc.tail(40)}`, {
      cause: err,
    });
  }
  return running;
}
