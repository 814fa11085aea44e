/**
 * What every auth mode provides: a fresh bearer token for MLP, and the identity MLP will see, for
 * messages. Shared helpers for reading the projected token file and naming an identity.
 */
import { readFile } from 'node:fs/promises';
import { decodeJwt } from 'jose';
import { FetcherError } from '../errors.js';
import type { HttpContext } from '../http.js';
import type { Redactor } from '../redact.js';

export interface TokenSource {
  /** A bearer token for MLP, obtained afresh (the kubelet rotates projected tokens). */
  token(attempt: number): Promise<string>;
  /** Who MLP sees when it gets `token` — for messages; never a secret. */
  identity(token: string | null): string;
}

export interface TokenDeps {
  http: HttpContext;
  redactor: Redactor;
}

/**
 * The identity a JWT names, read without verifying it (only ever used in messages): the `email`
 * claim, which CaraML's gateway uses, else `sub`.
 */
export function jwtIdentity(token: string): string | null {
  try {
    const claims = decodeJwt(token);
    if (typeof claims.email === 'string' && claims.email !== '') return claims.email;
    if (typeof claims.sub === 'string' && claims.sub !== '') return claims.sub;
  } catch {
    // not a JWT: no identity to show
  }
  return null;
}

/** Reads a projected token file afresh, naming the variable that points at it when it fails. */
export async function readTokenFile(path: string, variable: string, redactor: Redactor): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const what =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EACCES'
          ? 'is not readable by the fetcher'
          : `cannot be read (${code ?? 'error'})`;
    throw new FetcherError({
      problem: `the token file ${path} (${variable}) ${what}`,
      fix:
        `mount the projected service-account token there (the ` +
        `webhook adds it to the pod) or point ${variable} at it`,
    });
  }
  const token = text.trim();
  if (token === '') {
    throw new FetcherError({
      problem: `the token file ${path} (${variable}) is empty`,
      fix: `mount the projected service-account token there or point ${variable} at it`,
    });
  }
  redactor.add(token);
  return token;
}
