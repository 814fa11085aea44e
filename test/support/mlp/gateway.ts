/**
 * A gateway in front of MLP, like CaraML's Ory Oathkeeper (contract §5): it validates
 * `Authorization: Bearer <JWT>` against a JWKS (issuer and audience checked), derives the identity
 * (`email` claim, else `sub` — service-account tokens have no email), asks `authorize` whether
 * that identity may touch the project in the path, and forwards allowed requests to the upstream
 * with `User-Email: <identity>` (any client-sent User-Email is dropped: MLP trusts that header).
 *
 * Independent of any MLP data: it wraps the stand-in in test/support/mlp and can wrap the real MLP
 * server (test/support/real-mlp) the same way.
 *
 *   const listener = createGateway({ jwks: new URL('https://127.0.0.1:6443/openid/v1/jwks'),
 *     issuer, audience: 'api.caraml', authorize: (who, projectId) => ..., upstream: mlp.url });
 */
import { request as httpRequest, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';

export interface GatewayOptions {
  /** Verification keys: a JWKS URL (e.g. the kube-apiserver's /openid/v1/jwks), a key set, or a jose key resolver. */
  jwks: URL | JSONWebKeySet | JWTVerifyGetKey;
  /** For a remote JWKS behind a private CA: the fetch to use. */
  jwksFetch?: typeof fetch;
  issuer: string | string[];
  audience: string | string[];
  /** May `identity` use project `projectId`? `null` for routes not about one project (GET /v1/projects). */
  authorize(identity: string, projectId: number | null): boolean | Promise<boolean>;
  /** Where allowed requests go: MLP's base URL. */
  upstream: URL | string;
  /** Paths served without a token (MLP's health checks). */
  publicPathPrefixes?: string[];
  /** Called once per request with the decision, for test assertions. */
  onDecision?(decision: GatewayDecision): void;
}

export interface GatewayDecision {
  method: string;
  path: string;
  identity: string | null;
  projectId: number | null;
  outcome: 'public' | 'unauthenticated' | 'forbidden' | 'forwarded';
  /** Why a token was rejected (jose's error code), for debugging tests. */
  reason?: string;
}

/** The identity MLP will see for these claims: `email`, else `sub`. */
function identityOf(claims: JWTPayload): string | null {
  if (typeof claims.email === 'string' && claims.email !== '') return claims.email;
  if (typeof claims.sub === 'string' && claims.sub !== '') return claims.sub;
  return null;
}

/** The project a path is about: /v1/projects/{id}[/...] → id; anything else → null. */
function projectIdOf(path: string): number | null {
  const match = /^\/v1\/projects\/(\d+)(?:\/|$)/.exec(path);
  return match ? Number(match[1]) : null;
}

function keyResolver(options: GatewayOptions): JWTVerifyGetKey {
  const { jwks } = options;
  if (typeof jwks === 'function') return jwks;
  if (jwks instanceof URL)
    return createRemoteJWKSet(jwks, options.jwksFetch ? { [customFetch]: options.jwksFetch } : {});
  return createLocalJWKSet(jwks);
}

/** Oathkeeper's error body shape. */
function deny(res: ServerResponse, code: 401 | 403, message: string): void {
  const status = code === 401 ? 'Unauthorized' : 'Forbidden';
  const body = JSON.stringify({ error: { code, status, message } });
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function forward(req: IncomingMessage, res: ServerResponse, upstream: URL, identity: string | null): void {
  const target = new URL(req.url ?? '/', upstream);
  const headers = { ...req.headers };
  delete headers['user-email'];
  delete headers.authorization;
  delete headers.host;
  if (identity !== null) headers['user-email'] = identity;
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const out = send(target, { method: req.method, headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  out.on('error', () => {
    if (!res.headersSent) deny502(res);
    else res.destroy();
  });
  req.pipe(out);
}

function deny502(res: ServerResponse): void {
  const body = JSON.stringify({ error: { code: 502, status: 'Bad Gateway', message: 'upstream unreachable' } });
  res.writeHead(502, { 'content-type': 'application/json' });
  res.end(body);
}

/** A request listener that authenticates, authorizes and forwards to `options.upstream`. */
export function createGateway(options: GatewayOptions): RequestListener {
  const keys = keyResolver(options);
  const upstream = new URL(options.upstream);
  const publicPrefixes = options.publicPathPrefixes ?? ['/v1/internal/'];
  return (req, res) => {
    void (async () => {
      const path = new URL(req.url ?? '/', 'http://gateway').pathname;
      const method = req.method ?? 'GET';
      const projectId = projectIdOf(path);
      const decide = (d: Omit<GatewayDecision, 'method' | 'path' | 'projectId'>): void =>
        options.onDecision?.({ method, path, projectId, ...d });
      if (publicPrefixes.some((p) => path.startsWith(p))) {
        decide({ identity: null, outcome: 'public' });
        return forward(req, res, upstream, null);
      }
      const header = req.headers.authorization ?? '';
      const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
      if (!token) {
        decide({ identity: null, outcome: 'unauthenticated', reason: 'no bearer token' });
        return deny(res, 401, 'Access credentials are invalid');
      }
      let identity: string | null;
      try {
        const { payload } = await jwtVerify(token, keys, { issuer: options.issuer, audience: options.audience });
        identity = identityOf(payload);
      } catch (err) {
        decide({
          identity: null,
          outcome: 'unauthenticated',
          reason: (err as { code?: string }).code ?? 'invalid token',
        });
        return deny(res, 401, 'Access credentials are invalid');
      }
      if (identity === null) {
        decide({ identity: null, outcome: 'unauthenticated', reason: 'no email or sub claim' });
        return deny(res, 401, 'Access credentials are invalid');
      }
      if (!(await options.authorize(identity, projectId))) {
        decide({ identity, outcome: 'forbidden' });
        return deny(res, 403, 'Access credentials are not sufficient to access this resource');
      }
      decide({ identity, outcome: 'forwarded' });
      forward(req, res, upstream, identity);
    })().catch(() => {
      if (!res.headersSent) deny502(res);
    });
  };
}
