/**
 * `dap-secret-webhook serve`: config from env, then the health port, the HTTPS admission
 * listener, and self-registration, in that order; a graceful stop on SIGTERM/SIGINT: not ready
 * at once, serve on for the drain delay, then stop accepting and finish in-flight requests.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DestinationStream } from 'pino';
import { type Config, loadConfig } from '../config.js';
import { serviceDnsNames } from '../service-names.js';
import { createAdmissionHandler } from './app.js';
import { type HealthServer, Readiness, startHealthServer } from './health.js';
import { createLogger, errorFields, type Logger } from './log.js';
import { createMetrics, type WebhookMetrics } from './metrics.js';
import type { Registrar } from './registration.js';
import { startTlsServer, type TlsServer } from './tls.js';

const POD_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * In-flight bound after the drain delay (WEBHOOK_DRAIN_DELAY_SECONDS): the pod's
 * terminationGracePeriodSeconds must exceed both (the chart checks it).
 */
export const DEFAULT_SHUTDOWN_GRACE_MS = 20_000;

export interface ServeOptions {
  /** Where the JSON log goes; default stdout. */
  logDestination?: DestinationStream;
  /** Stop and exit the process on SIGTERM/SIGINT (default true; tests call stop() instead). */
  handleSignals?: boolean;
  /**
   * How long to keep serving after a stop begins, already not ready (default WEBHOOK_DRAIN_DELAY_SECONDS). The API server
   * keeps dialling this pod until the endpoints drop it; a closed port then fails pod creation
   * under failurePolicy Fail. A preStop sleep would do the same, but distroless has no shell.
   */
  drainDelayMs?: number;
  /** Bound on waiting for in-flight requests once the drain is over (default 20 s). */
  shutdownGraceMs?: number;
  /** Period of the fallback check for changed certificate/CA files (default 10 s). */
  fileCheckIntervalMs?: number;
  /** Registration retry backoff (default 500 ms doubling up to 30 s). */
  registrationBackoffMs?: { initial: number; max: number };
}

export interface RunningServer {
  config: Config;
  /** HTTPS (admission) port actually bound. */
  port: number;
  /** Plain-HTTP /healthz, /readyz, /metrics port actually bound. */
  healthPort: number;
  /** The CA a client must trust when no certificate files were configured; else null. */
  generatedCaPem: string | null;
  readiness: Readiness;
  metrics: WebhookMetrics;
  logger: Logger;
  /** Graceful stop: not ready, serve on for the drain delay, stop accepting, finish in-flight requests (bounded). Idempotent. */
  stop(): Promise<void>;
}

async function podNamespace(): Promise<string> {
  return readFile(POD_NAMESPACE_FILE, 'utf8').catch(() => '');
}

/** Names for a generated certificate: local use, plus the Service and URL host so a cluster could use it too. */
function selfSignedNames(config: Config): { dnsNames: string[]; ipAddresses: string[] } {
  const dnsNames = [
    'localhost',
    ...serviceDnsNames(config.registration.serviceName, config.registration.serviceNamespace),
  ];
  const ipAddresses = ['127.0.0.1'];
  if (config.registration.url !== '') {
    const host = new URL(config.registration.url).hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) !== 0) {
      if (!ipAddresses.includes(host)) ipAddresses.push(host);
    } else if (!dnsNames.includes(host)) dnsNames.push(host);
  }
  return { dnsNames, ipAddresses };
}

/**
 * Starts the webhook. Invalid configuration: one line per problem on stderr and exit code 2,
 * before anything listens. Resolves once both ports listen (registration continues in the
 * background; /readyz reports it). Rejects when a port cannot be bound or the certificate files
 * are unusable; the caller prints the message and exits non-zero.
 */
export async function serve(env: NodeJS.ProcessEnv = process.env, options: ServeOptions = {}): Promise<RunningServer> {
  const loaded = loadConfig(env, await podNamespace());
  if (!loaded.ok) {
    for (const problem of loaded.problems)
      process.stderr.write(`dap-secret-webhook: invalid configuration: ${problem}\n`);
    process.exit(2);
  }
  const config = loaded.config;
  const logger = createLogger(config.server.logLevel, options.logDestination);
  const metrics = createMetrics();
  const readiness = new Readiness();
  const fileCheckIntervalMs = options.fileCheckIntervalMs ?? 10_000;

  let health: HealthServer | undefined;
  let tls: TlsServer | undefined;
  let registrar: Registrar | undefined;
  let stopping: Promise<void> | undefined;
  /** Set while the drain delay runs: aborting it ends the drain early (a second signal). */
  let draining: AbortController | undefined;
  let removeSignalHandlers = () => {};
  const shutdown = (drainDelayMs: number) =>
    (stopping ??= (async () => {
      readiness.shuttingDown = true;
      registrar?.stop();
      if (drainDelayMs > 0 && tls) {
        logger.info(
          { drainDelayMs },
          'shutting down: not ready; still serving until the API server ' +
            'stops sending here (a second signal ends this drain delay)',
        );
        draining = new AbortController();
        await sleep(drainDelayMs, undefined, { signal: draining.signal }).catch(() => undefined);
        draining = undefined;
      }
      logger.info('shutting down: no new connections, finishing in-flight requests (not ready)');
      await tls?.close(options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS);
      await health?.close();
      removeSignalHandlers();
      logger.info('stopped');
    })());
  const stop = () => shutdown(options.drainDelayMs ?? config.server.drainDelaySeconds * 1000);

  try {
    health = await startHealthServer({
      host: config.server.host,
      port: config.server.healthPort,
      readiness,
      metrics,
      logger,
    });
    const handler = createAdmissionHandler({
      injection: config.injection,
      mutatePath: config.registration.mutatePath,
      maxBodyBytes: config.server.maxBodyBytes,
      maxInflightBodyBytes: config.server.maxInflightBodyBytes,
      requestTimeoutMs: config.server.requestTimeoutSeconds * 1000,
      metrics,
      logger,
      closingConnections: () => readiness.shuttingDown,
    });
    tls = await startTlsServer({
      host: config.server.host,
      port: config.server.port,
      handler,
      certFile: config.server.certFile,
      keyFile: config.server.keyFile,
      selfSignedFor: selfSignedNames(config),
      logger,
      metrics,
      pollIntervalMs: fileCheckIntervalMs,
      limits: {
        maxConcurrentStreams: config.server.maxConcurrentStreams,
        maxConnections: config.server.maxConnections,
        idleTimeoutMs: config.server.idleTimeoutSeconds * 1000,
        headersTimeoutMs: config.server.headersTimeoutSeconds * 1000,
        requestTimeoutMs: config.server.requestTimeoutSeconds * 1000,
      },
    });
    readiness.tlsListening = true;
    logger.info(
      { host: config.server.host, port: tls.port, mutatePath: config.registration.mutatePath, healthPort: health.port },
      'serving admission requests (HTTPS: HTTP/2 and HTTP/1.1)',
    );

    registrar = await startRegistration(config, env, tls, readiness, metrics, logger, fileCheckIntervalMs, options);
  } catch (err) {
    await shutdown(0); // nothing was served yet: no one to drain
    throw err;
  }

  if (options.handleSignals ?? true) {
    const onSignal = (signal: NodeJS.Signals) => {
      if (draining) {
        logger.info({ signal }, 'second signal: ending the drain delay now');
        return draining.abort();
      }
      if (stopping) {
        logger.warn({ signal }, 'another signal while finishing in-flight requests: exiting now');
        process.exit(1);
      }
      logger.info({ signal }, 'received signal');
      stop().then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err: errorFields(err) }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    removeSignalHandlers = () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    };
  }

  return {
    config,
    port: tls.port,
    healthPort: health.port,
    generatedCaPem: tls.generatedCaPem,
    readiness,
    metrics,
    logger,
    stop,
  };
}

async function startRegistration(
  config: Config,
  env: NodeJS.ProcessEnv,
  tls: TlsServer,
  readiness: Readiness,
  metrics: WebhookMetrics,
  logger: Logger,
  pollIntervalMs: number,
  options: ServeOptions,
): Promise<Registrar | undefined> {
  const settings = config.registration;
  if (!settings.enabled) {
    readiness.registration = { state: 'disabled' };
    logger.info(
      { configuration: settings.configurationName },
      'WEBHOOK_REGISTER=false: not registering; ' +
        'the MutatingWebhookConfiguration is managed elsewhere (Helm/GitOps)',
    );
    return undefined;
  }
  // Loaded only when registering: the Kubernetes client is most of the webhook's idle memory.
  const { findCluster, startRegistrar } = await import('./registration.js');
  const cluster = await findCluster(env);
  if (!cluster.found) {
    readiness.registration = { state: 'skipped', why: cluster.why };
    metrics.registrations.inc({ result: 'skipped' });
    logger.warn(
      { configuration: settings.configurationName, why: cluster.why },
      'no Kubernetes cluster reachable: registration skipped; ' +
        'serving anyway, but no API server will call this webhook',
    );
    return undefined;
  }
  logger.info(
    {
      configuration: settings.configurationName,
      cluster: cluster.kubeConfig.getCurrentCluster()?.server,
      source: cluster.source,
    },
    'registering the MutatingWebhookConfiguration',
  );
  return startRegistrar({
    settings,
    kubeConfig: cluster.kubeConfig,
    caFile: config.server.caFile,
    generatedCaPem: tls.generatedCaPem,
    readiness,
    metrics,
    logger,
    initialBackoffMs: options.registrationBackoffMs?.initial ?? 500,
    maxBackoffMs: options.registrationBackoffMs?.max ?? 30_000,
    pollIntervalMs,
  });
}
