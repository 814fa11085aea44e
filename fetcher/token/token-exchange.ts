/**
 * `token-exchange` mode: trade the pod's projected service-account token for a token MLP's gateway
 * accepts, at the admin's OpenID Connect issuer (RFC 8693), with openid-client. The issuer is
 * discovered once per run; the subject token is re-read on every attempt (the kubelet rotates it).
 */
import { readFile } from 'node:fs/promises';
import * as oidc from 'openid-client';
import { FETCHER_ENV } from '../../contract/fetcher-env.js';
import { capped } from '../bounded-body.js';
import type { AuthSettings, PodIdentity } from '../config.js';
import { FetcherError } from '../errors.js';
import { boundedAttempt, sanitisePeerText } from '../http.js';
import { jwtIdentity, readTokenFile, type TokenDeps, type TokenSource } from './source.js';

type ExchangeSettings = Extract<AuthSettings, { mode: 'token-exchange' }>;

const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

const PEER = 'the OIDC issuer';
/** Discovery documents and token responses are a few KB. */
const MAX_OIDC_RESPONSE_BYTES = 256 * 1024;

/**
 * fetch's Response with its body counted against MAX_OIDC_RESPONSE_BYTES: openid-client reads it
 * whole (response.json()), so the cap has to sit inside the stream it reads.
 */
function cappedResponse(response: Response, operation: string): Response {
  if (response.body === null) return response;
  const body = capped(response.body as AsyncIterable<Uint8Array>, {
    peer: PEER,
    operation,
    maxBytes: MAX_OIDC_RESPONSE_BYTES,
  });
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await body.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      } catch (err) {
        controller.error(err);
      }
    },
    async cancel() {
      await body.return(undefined);
    },
  });
  const wrapped = new Response(stream, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
  // oauth4webapi compares the URL a response came from with the one it asked for.
  Object.defineProperty(wrapped, 'url', { value: response.url });
  return wrapped;
}

interface ClientCredentials {
  clientId: string;
  clientSecret: string | null;
}

async function readClientCredentials(settings: ExchangeSettings, deps: TokenDeps): Promise<ClientCredentials> {
  const path = settings.clientCredentialsFile;
  if (path === null) return { clientId: settings.clientId, clientSecret: null };
  const variable = FETCHER_ENV.exchangeClientCredentialsFile;
  const unusable = (why: string): FetcherError =>
    new FetcherError({
      problem: `the client credentials file ${path} (${variable}) ${why}`,
      fix:
        `mount a JSON file {"client_id": "...", "client_secret": ` +
        `"..."} there, or unset ${variable} to use a public client`,
    });
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw unusable(`cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text, which holds the secret: do not pass it on.
    throw unusable('is not valid JSON');
  }
  const record = (parsed && typeof parsed === 'object' ? parsed : {}) as Record<string, unknown>;
  const { client_id: clientId, client_secret: clientSecret } = record;
  if (typeof clientId !== 'string' || clientId === '') throw unusable('has no "client_id" string');
  if (clientSecret !== undefined && (typeof clientSecret !== 'string' || clientSecret === '')) {
    throw unusable('has a "client_secret" that is not a non-empty string');
  }
  if (typeof clientSecret === 'string') deps.redactor.add(clientSecret);
  return { clientId, clientSecret: typeof clientSecret === 'string' ? clientSecret : null };
}

function findCause<T>(err: unknown, test: (e: unknown) => e is T): T | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (test(e)) return e;
  }
  return undefined;
}

/** openid-client's errors, as messages that say what to fix; 5xx and 429 stay retryable. */
export function describeOidcError(err: unknown, operation: string, issuer: URL): FetcherError {
  const ours = findCause(err, (e): e is FetcherError => e instanceof FetcherError);
  if (ours) return ours;
  const body = err instanceof oidc.ResponseBodyError ? err : undefined;
  const response = findCause(err, (e): e is Response => e instanceof Response);
  const status = body?.status ?? response?.status;
  const code = (err as { code?: unknown }).code;
  // The issuer's words (or openid-client's, which may quote them): bounded and sanitised like any peer text.
  const detail = sanitisePeerText(
    body ? [body.error, body.error_description].filter(Boolean).join(': ') : String((err as Error).message),
  );
  if (status !== undefined && (status >= 500 || status === 429)) {
    return new FetcherError({
      problem: `${PEER} ${issuer.href} failed to ${operation}${detail ? ` (${detail})` : ''}`,
      fix: `check the issuer's health and logs`,
      status,
      retryable: true,
    });
  }
  if (code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED') {
    return new FetcherError({
      problem: `the issuer metadata at ${issuer.href} names a different issuer`,
      fix: `set ${FETCHER_ENV.exchangeIssuer} to exactly the issuer URL the provider announces`,
    });
  }
  const fix =
    operation === 'discover its configuration'
      ? `check ${FETCHER_ENV.exchangeIssuer}: ` +
        `it must be an OpenID Connect issuer that serves /.well-known/openid-configuration`
      : `allow this client to use the token-exchange grant for Kubernetes ` +
        `service-account tokens at the issuer, and check ${FETCHER_ENV.exchangeAudience}, ` +
        `${FETCHER_ENV.exchangeScope} and the client credentials`;
  return new FetcherError({
    problem: `${PEER} ${issuer.href} refused to ${operation}${detail ? ` (${detail})` : ''}`,
    fix,
    ...(status === undefined ? {} : { status }),
  });
}

export function tokenExchangeTokenSource(settings: ExchangeSettings, pod: PodIdentity, deps: TokenDeps): TokenSource {
  let configuration: Promise<oidc.Configuration> | null = null;
  let attempt = 0;
  // Every request openid-client makes goes through the run's deadline, timeout and log. It stays on
  // fetch (undici): oauth4webapi builds Headers and accepts only fetch's own Response, so undici
  // is loaded in this mode whatever transport sent the request.
  const fetchImpl = deps.http.fetch ?? fetch;
  const fetchForOidc: oidc.CustomFetch = (url, options) => {
    const info = {
      peer: PEER,
      operation: new URL(url).pathname.includes('.well-known') ? 'discover its configuration' : 'exchange the token',
      attempt,
    };
    const { signal: ownSignal, ...init } = options as RequestInit;
    return boundedAttempt(
      deps.http,
      info,
      url,
      init.method ?? 'GET',
      async (signal) => cappedResponse(await fetchImpl(url, { ...init, signal, redirect: 'manual' }), info.operation),
      ownSignal ?? undefined,
    );
  };

  const discover = async (): Promise<oidc.Configuration> => {
    const credentials = await readClientCredentials(settings, deps);
    const clientAuth =
      credentials.clientSecret === null ? oidc.None() : oidc.ClientSecretBasic(credentials.clientSecret);
    try {
      return await oidc.discovery(settings.issuer, credentials.clientId, undefined, clientAuth, {
        [oidc.customFetch]: fetchForOidc,
      });
    } catch (err) {
      throw describeOidcError(err, 'discover its configuration', settings.issuer);
    }
  };

  return {
    async token(n) {
      attempt = n;
      const subjectToken = await readTokenFile(settings.tokenFile, FETCHER_ENV.mlpTokenFile, deps.redactor);
      // Discover once; forget a failed discovery so the next attempt tries again.
      configuration ??= discover().catch((err: unknown) => {
        configuration = null;
        throw err;
      });
      const config = await configuration;
      const parameters: Record<string, string> = {
        subject_token: subjectToken,
        subject_token_type: JWT_TOKEN_TYPE,
        requested_token_type: ACCESS_TOKEN_TYPE,
      };
      if (settings.audience) parameters.audience = settings.audience;
      if (settings.scope) parameters.scope = settings.scope;
      let response: oidc.TokenEndpointResponse;
      try {
        response = await oidc.genericGrantRequest(config, TOKEN_EXCHANGE_GRANT, parameters);
      } catch (err) {
        throw describeOidcError(err, 'exchange the service-account token', settings.issuer);
      }
      deps.redactor.add(response.access_token);
      return response.access_token;
    },
    identity: (token) =>
      (token && jwtIdentity(token)) ??
      (pod.serviceAccount
        ? `the exchanged identity of system:serviceaccount:${pod.namespace}:${pod.serviceAccount}`
        : `the exchanged identity of the pod's service account`),
  };
}
