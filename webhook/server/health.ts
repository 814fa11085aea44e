/**
 * The plain-HTTP side port for the kubelet and Prometheus: /healthz (the process runs),
 * /readyz (it should get admission traffic) and /metrics. Separate from the TLS port so probes
 * and scrapes need no certificates and never queue behind admission requests.
 */
import { createServer, type Server } from 'node:http';
import { listen } from './listen.js';
import { errorFields, type Logger } from './log.js';
import type { WebhookMetrics } from './metrics.js';

export type RegistrationState =
  | { state: 'pending'; lastError?: string }
  | { state: 'registered' }
  | { state: 'disabled' }
  | { state: 'skipped'; why: string };

/**
 * Ready = the TLS listener is up, the MutatingWebhookConfiguration is in place (or registration
 * is switched off, or skipped because there is no cluster), and no shutdown has begun.
 */
export class Readiness {
  tlsListening = false;
  registration: RegistrationState = { state: 'pending' };
  shuttingDown = false;

  /** Why the server is not ready; empty when it is. */
  notReadyReasons(): string[] {
    const reasons: string[] = [];
    if (this.shuttingDown) reasons.push('shutting down');
    if (!this.tlsListening) reasons.push('the HTTPS listener is not up yet');
    if (this.registration.state === 'pending') {
      reasons.push(
        `the MutatingWebhookConfiguration is not registered ` +
          `yet${this.registration.lastError ? ` (last attempt: ${this.registration.lastError})` : ''}`,
      );
    }
    return reasons;
  }
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

export async function startHealthServer(opts: {
  host: string;
  port: number;
  readiness: Readiness;
  metrics: WebhookMetrics;
  logger: Logger;
}): Promise<HealthServer> {
  const { readiness, metrics, logger } = opts;
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'only GET\n');
    switch (path) {
      case '/healthz':
        return reply(200, 'ok\n');
      case '/readyz': {
        const reasons = readiness.notReadyReasons();
        return reasons.length === 0
          ? reply(200, `ready (registration: ${readiness.registration.state})\n`)
          : reply(503, `not ready: ${reasons.join('; ')}\n`);
      }
      case '/metrics':
        metrics.registry.metrics().then(
          (text) => reply(200, text, metrics.registry.contentType),
          (err: unknown) => {
            logger.error({ err: errorFields(err) }, 'collecting metrics failed');
            reply(500, 'collecting metrics failed\n');
          },
        );
        return;
      default:
        return reply(404, 'not found: try /healthz, /readyz or /metrics\n');
    }
  });
  server.keepAliveTimeout = 5_000;
  const port = await listen(server, opts.port, opts.host, 'health and metrics');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
