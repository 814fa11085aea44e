/**
 * A real OpenID Connect provider (the `oidc-provider` package) with an RFC 8693 token-exchange
 * grant, for the fetcher's `token-exchange` mode. The grant accepts a Kubernetes service-account
 * JWT as the subject token (verified against the cluster issuer's JWKS, issuer and audience
 * checked) and issues a JWT access token for MLP's gateway whose `email` claim is derived from the
 * subject (`system:serviceaccount:ns:sa` → `sa@ns.<emailDomain>`). HTTPS on 127.0.0.1 with a
 * test CA: the fetcher requires an https issuer, and tests hand it the CA via NODE_EXTRA_CA_CERTS.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  exportJWK,
  generateKeyPair,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { errors, type OidcContext, Provider } from 'oidc-provider';
import type { KeyAndCert } from '../k8s/pki.js';

const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

interface ExchangeClient {
  client_id: string;
  /** Omit for a public client (token_endpoint_auth_method none). */
  client_secret?: string;
}

export interface TokenExchangeProviderOptions {
  /** TLS serving certificate for 127.0.0.1 (from test/support/k8s/pki.ts). */
  tls: KeyAndCert;
  /** Who signs the subject tokens: the cluster's service-account issuer. */
  subjectIssuer: string;
  subjectJwks: JSONWebKeySet | URL | JWTVerifyGetKey;
  /** The audience the projected subject token must carry. */
  subjectAudience: string;
  /** `aud` of issued access tokens: what MLP's gateway expects (default api.caraml). */
  accessTokenAudience?: string;
  clients: ExchangeClient[];
  /** Domain of derived emails (default serviceaccounts.test). */
  emailDomain?: string;
}

interface Exchange {
  clientId: string;
  subject: string;
  email: string;
  audience: string | undefined;
  scope: string | undefined;
}

export interface TokenExchangeProvider {
  /** https://127.0.0.1:<port> — the issuer, and MLP_TOKEN_EXCHANGE_ISSUER. */
  issuer: string;
  /** The provider's public signing keys: what MLP's gateway verifies access tokens against. */
  jwks: JSONWebKeySet;
  /** Successful exchanges, in order. */
  exchanges: Exchange[];
  /** Token-endpoint requests answered with an error, in order (OAuth error codes). */
  refusals: string[];
  close(): Promise<void>;
}

/** Storage for the provider's tokens, in memory: the provider's own default says so on every start. */
class MemoryAdapter {
  static readonly store = new Map<string, Record<string, unknown>>();
  constructor(private readonly model: string) {}
  #key(id: string): string {
    return `${this.model}:${id}`;
  }
  async upsert(id: string, payload: Record<string, unknown>): Promise<void> {
    MemoryAdapter.store.set(this.#key(id), payload);
  }
  async find(id: string): Promise<Record<string, unknown> | undefined> {
    return MemoryAdapter.store.get(this.#key(id));
  }
  async findByUid(): Promise<undefined> {
    return undefined;
  }
  async findByUserCode(): Promise<undefined> {
    return undefined;
  }
  async consume(id: string): Promise<void> {
    const found = MemoryAdapter.store.get(this.#key(id));
    if (found) found.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id: string): Promise<void> {
    MemoryAdapter.store.delete(this.#key(id));
  }
  async revokeByGrantId(): Promise<void> {}
}

/** `system:serviceaccount:ns:sa` → `sa@ns.<domain>`; other subjects are not exchanged. */
function emailForSubject(sub: string, domain: string): string | null {
  const match = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(sub);
  return match ? `${match[2]}@${match[1]}.${domain}` : null;
}

export async function startTokenExchangeProvider(
  options: TokenExchangeProviderOptions,
): Promise<TokenExchangeProvider> {
  const audience = options.accessTokenAudience ?? 'api.caraml';
  const domain = options.emailDomain ?? 'serviceaccounts.test';
  const subjectKeys: JWTVerifyGetKey =
    typeof options.subjectJwks === 'function'
      ? options.subjectJwks
      : options.subjectJwks instanceof URL
        ? createRemoteJWKSet(options.subjectJwks)
        : createLocalJWKSet(options.subjectJwks);

  // Listen first: the issuer URL must name the port.
  let handler: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void = (
    _req,
    res,
  ) => {
    res.statusCode = 503;
    res.end();
  };
  const server: Server = createServer({ key: options.tls.keyPem, cert: options.tls.certPem }, (req, res) =>
    handler(req, res),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = 'exchange-signing-key';
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  const exchanges: Exchange[] = [];
  const refusals: string[] = [];

  const provider = new Provider(issuer, {
    clients: options.clients.map((c) => ({
      client_id: c.client_id,
      ...(c.client_secret
        ? { client_secret: c.client_secret, token_endpoint_auth_method: 'client_secret_basic' }
        : { token_endpoint_auth_method: 'none' }),
      grant_types: [TOKEN_EXCHANGE_GRANT],
      response_types: [],
      redirect_uris: [],
    })),
    jwks: { keys: [privateJwk] },
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    adapter: MemoryAdapter,
    features: { devInteractions: { enabled: false } },
    cookies: { keys: ['test-cookie-key-not-secret'] },
    ttl: { ClientCredentials: 600 },
    formats: {
      customizers: {
        // The issued JWT names the exchanged identity: sub from the subject token, email derived.
        jwt: (ctx: OidcContext, _token: unknown, jwt: { payload: Record<string, unknown> }) => {
          const subject = ctx.dapSubject as { sub: string; email: string } | undefined;
          if (subject) {
            jwt.payload.sub = subject.sub;
            jwt.payload.email = subject.email;
          }
        },
      },
    },
  });
  provider.on('grant.error', (_ctx: unknown, err: unknown) =>
    refusals.push((err as { error?: string }).error ?? 'error'),
  );

  provider.registerGrantType(
    TOKEN_EXCHANGE_GRANT,
    async (ctx: OidcContext) => {
      const { subject_token: subjectToken, subject_token_type: subjectTokenType, scope } = ctx.oidc.params;
      const requestedAudience = ctx.oidc.params.audience;
      if (!subjectToken) throw new errors.InvalidRequest('missing subject_token');
      if (subjectTokenType !== JWT_TOKEN_TYPE)
        throw new errors.InvalidRequest(`unsupported subject_token_type, expected ${JWT_TOKEN_TYPE}`);
      if (requestedAudience !== undefined && requestedAudience !== audience)
        throw new errors.InvalidTarget(`audience must be ${audience}`);
      let sub: string;
      try {
        const { payload } = await jwtVerify(subjectToken, subjectKeys, {
          issuer: options.subjectIssuer,
          audience: options.subjectAudience,
        });
        sub = String(payload.sub);
      } catch (err) {
        throw new errors.InvalidGrant(`subject_token is not valid (${(err as { code?: string }).code ?? 'invalid'})`);
      }
      const email = emailForSubject(sub, domain);
      if (email === null) throw new errors.InvalidGrant('subject_token is not a Kubernetes service-account token');
      const token = new ctx.oidc.provider.ClientCredentials({ client: ctx.oidc.client, ...(scope ? { scope } : {}) });
      token.resourceServer = {
        audience,
        accessTokenFormat: 'jwt',
        scope: scope ?? '',
        jwt: { sign: { alg: 'ES256' } },
      };
      ctx.dapSubject = { sub, email };
      const accessToken = await token.save();
      exchanges.push({
        clientId: (ctx.oidc.client as { clientId: string }).clientId,
        subject: sub,
        email,
        audience: requestedAudience,
        scope,
      });
      ctx.body = {
        access_token: accessToken,
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: 'Bearer',
        expires_in: token.expiration,
        ...(scope ? { scope } : {}),
      };
    },
    [
      'subject_token',
      'subject_token_type',
      'requested_token_type',
      'audience',
      'scope',
      'resource',
      'actor_token',
      'actor_token_type',
    ],
  );
  const callback = provider.callback();
  handler = callback;

  return {
    issuer,
    jwks: { keys: [publicJwk] },
    exchanges,
    refusals,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
