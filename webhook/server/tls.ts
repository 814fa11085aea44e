/**
 * The HTTPS listener: HTTP/2 with HTTP/1.1 fallback (the API server speaks HTTP/2 to webhooks,
 * curl and older clients HTTP/1.1), TLS 1.2 or newer, and a serving certificate that is
 * reloaded from disk when it changes: `setSecureContext` applies to new connections, so
 * cert-manager or a renewed Secret never needs a restart.
 *
 * Graceful close: stop accepting, send HTTP/2 GOAWAY, ask HTTP/1.1 clients to close after their
 * response, wait for in-flight requests (bounded), then cut whatever is left.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createSecureServer, type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from 'node:http2';
import type { Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import { type FileWatch, watchFiles } from './file-watch.js';
import { listen } from './listen.js';
import { errorFields, type Logger } from './log.js';
import type { WebhookMetrics } from './metrics.js';

type RequestHandler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => unknown;

export interface TlsServerOptions {
  host: string;
  port: number;
  handler: RequestHandler;
  /** PEM files; both empty = generate a throw-away self-signed certificate for `selfSignedFor`. */
  certFile: string;
  keyFile: string;
  selfSignedFor: { dnsNames: string[]; ipAddresses: string[] };
  logger: Logger;
  metrics: WebhookMetrics;
  /** Fallback check for certificate changes that the directory watch missed. */
  pollIntervalMs: number;
  limits: ConnectionLimits;
}

/** What one client may hold of this server: past these, it is cut off, never waited for. */
interface ConnectionLimits {
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS. */
  maxConcurrentStreams: number;
  /** Open TLS connections at once; the next ones are closed at accept. */
  maxConnections: number;
  /** No traffic for this long: the connection (HTTP/1.1) or session (HTTP/2) is closed. */
  idleTimeoutMs: number;
  /** A connection's first request headers (HTTP/2: its first stream) must come within this; HTTP/1.1: every request's. */
  headersTimeoutMs: number;
  /** HTTP/1.1: a whole request must arrive within this (Node answers 408); HTTP/2 streams: the app's body timeout. */
  requestTimeoutMs: number;
}

export interface TlsServer {
  port: number;
  /** The CA that signed the generated certificate, or null when the certificate came from files. */
  generatedCaPem: string | null;
  close(graceMs: number): Promise<void>;
}

const MIN_TLS_VERSION = 'TLSv1.2';

interface KeyPair {
  cert: string;
  key: string;
}

/** Validates that cert and key parse and belong together, with an operator-readable error. */
function checkKeyPair(pair: KeyPair, certFile: string, keyFile: string): void {
  try {
    createSecureContext({ cert: pair.cert, key: pair.key, minVersion: MIN_TLS_VERSION });
  } catch (err) {
    throw new Error(
      `TLS_SERVER_CERT_FILE ${certFile} and TLS_SERVER_KEY_FILE ${keyFile} are ` +
        `not a usable PEM certificate and matching key (${(err as Error).message})`,
    );
  }
}

async function readKeyPair(certFile: string, keyFile: string): Promise<KeyPair> {
  const [cert, key] = await Promise.all([
    readFile(certFile, 'utf8').catch((err: Error) =>
      Promise.reject(new Error(`cannot read TLS_SERVER_CERT_FILE ${certFile}: ${err.message}`)),
    ),
    readFile(keyFile, 'utf8').catch((err: Error) =>
      Promise.reject(new Error(`cannot read TLS_SERVER_KEY_FILE ${keyFile}: ${err.message}`)),
    ),
  ]);
  checkKeyPair({ cert, key }, certFile, keyFile);
  return { cert, key };
}

/** Public facts about a certificate, for logs: never key material. */
function describeCert(certPem: string): { subject: string; serialNumber: string; validTo: string } {
  const c = new X509Certificate(certPem);
  return { subject: c.subject, serialNumber: c.serialNumber, validTo: c.validTo };
}

export async function startTlsServer(opts: TlsServerOptions): Promise<TlsServer> {
  const { logger, metrics, certFile, keyFile } = opts;
  let pair: KeyPair;
  let generatedCaPem: string | null = null;
  if (certFile === '' && keyFile === '') {
    // Loaded only for a throw-away certificate: the X.509 library is large and production mounts files.
    const { generateCertBundle } = await import('../certs.js');
    const bundle = await generateCertBundle(opts.selfSignedFor);
    pair = { cert: bundle.certPem, key: bundle.keyPem };
    generatedCaPem = bundle.caCertPem;
    logger.warn(
      {
        dnsNames: opts.selfSignedFor.dnsNames,
        ipAddresses: opts.selfSignedFor.ipAddresses,
        validTo: bundle.notAfter.toISOString(),
      },
      'TLS_SERVER_CERT_FILE and TLS_SERVER_KEY_FILE are not set: ' +
        'serving a throw-away self-signed certificate made at start-up (fine for local use; ' +
        'mount a real one in a cluster)',
    );
  } else {
    pair = await readKeyPair(certFile, keyFile);
    logger.info({ certFile, keyFile, ...describeCert(pair.cert) }, 'loaded the serving certificate');
  }

  let inFlight = 0;
  let drained: (() => void) | null = null;
  let closing = false;
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  /** HTTP/1.1 sockets with a request in progress: the others may be closed at once on shutdown. */
  const busySockets = new Map<Socket, number>();

  const handler = opts.handler;
  const { limits } = opts;
  const server = createSecureServer(
    {
      allowHTTP1: true,
      minVersion: MIN_TLS_VERSION,
      cert: pair.cert,
      key: pair.key,
      settings: { maxConcurrentStreams: limits.maxConcurrentStreams },
      // How often Node checks HTTP/1.1 headers/request timeouts (default 30 s would let them overrun).
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    } as Parameters<typeof createSecureServer>[0],
    (req, res) => {
      inFlight++;
      const socket = req.httpVersionMajor === 1 ? (req.socket as Socket) : null;
      if (socket) busySockets.set(socket, (busySockets.get(socket) ?? 0) + 1);
      res.once('close', () => {
        inFlight--;
        if (socket) {
          const n = (busySockets.get(socket) ?? 1) - 1;
          if (n === 0) busySockets.delete(socket);
          else busySockets.set(socket, n);
        }
        if (inFlight === 0 && drained) drained();
      });
      handler(req, res);
    },
  );
  server.maxConnections = limits.maxConnections;
  // Node's HTTP/1.1 path (allowHTTP1) reads these from the server.
  const h1 = server as unknown as { headersTimeout: number; requestTimeout: number };
  h1.headersTimeout = limits.headersTimeoutMs;
  // Later than the app's own body timeout, which answers with a message naming the setting.
  h1.requestTimeout = limits.requestTimeoutMs + limits.headersTimeoutMs;
  // Idle: Node only reports it; without this a silent client would hold its connection forever.
  server.setTimeout(limits.idleTimeoutMs);
  server.on('timeout', (idle: Socket | Http2Session) => {
    logger.debug({ idleTimeoutMs: limits.idleTimeoutMs }, 'closing an idle connection');
    idle.destroy();
  });
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    // A session that opens no stream in time is a slow or idle client holding a connection slot.
    const firstStream = setTimeout(() => session.destroy(), limits.headersTimeoutMs);
    session.once('stream', () => clearTimeout(firstStream));
    session.once('close', () => {
      clearTimeout(firstStream);
      sessions.delete(session);
    });
    if (closing) session.close();
  });
  let cutting = false;
  server.on('secureConnection', (socket: Socket) => {
    // A handshake that was under way when close() began: nothing more will be served on it.
    if (cutting) return void socket.destroy();
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // A client that fails the handshake (wrong CA, TLS 1.1) is its problem, not ours: debug only.
  server.on('tlsClientError', (err) => logger.debug({ err: errorFields(err) }, 'TLS handshake failed'));

  const port = await listen(server, opts.port, opts.host, 'HTTPS');

  let watcher: FileWatch | null = null;
  if (generatedCaPem === null) {
    watcher = await watchFiles({
      paths: [certFile, keyFile],
      logger,
      pollIntervalMs: opts.pollIntervalMs,
      onChange: async () => {
        try {
          const next = await readKeyPair(certFile, keyFile);
          if (next.cert === pair.cert && next.key === pair.key) return true;
          server.setSecureContext({ cert: next.cert, key: next.key, minVersion: MIN_TLS_VERSION });
          pair = next;
          metrics.certificateReloads.inc({ result: 'success' });
          logger.info(
            { certFile, keyFile, ...describeCert(next.cert) },
            'reloaded the serving certificate; new connections use it',
          );
          return true;
        } catch (err) {
          // Often transient: the certificate is written before its key. The next change retries.
          metrics.certificateReloads.inc({ result: 'failure' });
          logger.warn(
            { certFile, keyFile, err: { message: (err as Error).message } },
            'the changed certificate files are not usable (yet); still serving the previous certificate',
          );
          return false;
        }
      },
    });
  }

  return {
    port,
    generatedCaPem,
    async close(graceMs: number) {
      if (closing) return;
      closing = true;
      watcher?.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      for (const socket of sockets) if (!busySockets.has(socket) && !isHttp2(socket)) socket.end();
      if (inFlight > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => (drained = resolve)),
          new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
        ]);
        clearTimeout(timer);
        if (inFlight > 0)
          logger.warn({ inFlight, graceMs }, 'shutdown grace period over; cutting the remaining requests');
      }
      cutting = true;
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

function isHttp2(socket: Socket): boolean {
  return (socket as Socket & { alpnProtocol?: string | false }).alpnProtocol === 'h2';
}
