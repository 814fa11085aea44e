/**
 * An HTTPS front for a plain-HTTP peer, as an ingress terminating TLS with a certificate from the
 * company's own CA: forwards every request unchanged and records what it saw (method, path).
 * Listens on 127.0.0.1 only.
 */
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { KeyAndCert } from '../../support/k8s/pki.js';

export interface TlsProxy {
  url: string;
  seen: { method: string; path: string }[];
  close(): Promise<void>;
}

export async function startTlsProxy(upstream: string, tls: KeyAndCert): Promise<TlsProxy> {
  const seen: TlsProxy['seen'] = [];
  const server: Server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    seen.push({ method: req.method ?? '', path: req.url ?? '' });
    const { host: _host, ...headers } = req.headers;
    const forward = httpRequest(new URL(req.url ?? '/', upstream), { method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
