/**
 * A JWT issuer for tests: one signing key, its public JWKS, and `sign(claims)`. Stands in for the
 * cluster's service-account issuer (projected tokens) and for Google (metadata-server ID tokens)
 * until a real kube-apiserver is available; the gateway verifies against `jwks` like it would
 * against the real ones.
 */

import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JSONWebKeySet, type JWTPayload, SignJWT } from 'jose';

export interface JwtIssuer {
  issuer: string;
  /** Public keys only. */
  jwks: JSONWebKeySet;
  /** A signed JWT with `iss`, `iat`, `exp` (default 1 h) and `jti` set. */
  sign(
    claims: JWTPayload & { sub: string; aud: string | string[] },
    options?: { expiresInSeconds?: number },
  ): Promise<string>;
}

export async function createJwtIssuer(issuer: string): Promise<JwtIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
  return {
    issuer,
    jwks: { keys: [jwk] },
    sign: (claims, options = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' })
        .setIssuer(issuer)
        .setIssuedAt()
        .setExpirationTime(Math.floor(Date.now() / 1000) + (options.expiresInSeconds ?? 3600))
        .setJti(randomUUID())
        .sign(privateKey),
  };
}

/** What a kubelet-projected service-account token says (`sub` system:serviceaccount:ns:name, no email). */
export function serviceAccountClaims(
  namespace: string,
  serviceAccount: string,
  audience: string,
  podName = 'pod',
  podUid: string = randomUUID(),
) {
  return {
    sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
    aud: audience,
    'kubernetes.io': {
      namespace,
      serviceaccount: { name: serviceAccount, uid: randomUUID() },
      pod: { name: podName, uid: podUid },
    },
  };
}
