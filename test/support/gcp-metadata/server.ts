/**
 * The slice of the GKE metadata server the fetcher's `gcp-workload-identity` mode uses:
 * GET /computeMetadata/v1/instance/service-accounts/default/identity?audience=…&format=full with
 * `Metadata-Flavor: Google` → a Google-style ID token (iss accounts.google.com, the bound Google
 * service account's `email`, `email_verified`). Signed by a test key whose JWKS MLP's gateway
 * trusts in place of Google's. Plain HTTP on 127.0.0.1, like the real one on 169.254.169.254.
 */

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JSONWebKeySet } from 'jose';
import { createJwtIssuer } from '../oidc/jwt-issuer.js';

const GOOGLE_ISSUER = 'https://accounts.google.com';
const IDENTITY_PATH = '/computeMetadata/v1/instance/service-accounts/default/identity';

export interface MetadataServer {
  /** host:port for GCE_METADATA_HOST. */
  host: string;
  issuer: string;
  jwks: JSONWebKeySet;
  /** The Google service account the pod's KSA is bound to; null answers 404 like an unbound KSA. */
  boundEmail: string | null;
  /** Audiences of the ID tokens issued, in order. */
  issued: string[];
  close(): Promise<void>;
}

export async function startMetadataServer(boundEmail: string | null): Promise<MetadataServer> {
  const google = await createJwtIssuer(GOOGLE_ISSUER);
  const issued: string[] = [];
  const state = { boundEmail };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://metadata');
      if (req.headers['metadata-flavor'] !== 'Google') {
        res.writeHead(403, { 'content-type': 'text/html' });
        return res.end('Missing Metadata-Flavor:Google header.');
      }
      if (url.pathname !== IDENTITY_PATH) {
        res.writeHead(404, { 'content-type': 'text/html' });
        return res.end('Not Found');
      }
      const audience = url.searchParams.get('audience');
      if (!audience) {
        res.writeHead(400, { 'content-type': 'text/html' });
        return res.end('non-empty audience parameter required');
      }
      if (state.boundEmail === null) {
        res.writeHead(404, { 'content-type': 'text/html' });
        return res.end('Your Kubernetes service account is not annotated with a target Google service account');
      }
      const full = url.searchParams.get('format') === 'full';
      const token = await google.sign({
        sub: '108123456789012345678',
        aud: audience,
        azp: '108123456789012345678',
        ...(full ? { email: state.boundEmail, email_verified: true } : {}),
      });
      issued.push(audience);
      res.writeHead(200, { 'content-type': 'text/html', 'metadata-flavor': 'Google' });
      res.end(token);
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    issuer: GOOGLE_ISSUER,
    jwks: google.jwks,
    get boundEmail() {
      return state.boundEmail;
    },
    set boundEmail(email: string | null) {
      state.boundEmail = email;
    },
    issued,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
