/**
 * The MLP client: resolve the project by exact name, then ONE secrets list for the whole pod, then
 * pick the requested names — reporting every missing one at once. MLP has no get-by-name and no
 * pagination (contract §5), so listing is the only way and also the cheapest.
 */

import { DEFAULT_BYTE_CAPS, FETCHER_ENV } from '../contract/fetcher-env.js';
import { bodyTooLarge, type CapInfo, capped, readCappedText, slices } from './bounded-body.js';
import type { ByteCaps } from './config.js';
import { FetcherError, listNames, quote } from './errors.js';
import {
  attemptRequest,
  bodyReadFailure,
  type CallInfo,
  type HttpContext,
  type HttpResponse,
  peerErrorText,
  throwIfRetryableStatus,
} from './http.js';
import { JsonArrayItems } from './json-array-items.js';
import type { Redactor } from './redact.js';
import { withRetry } from './retry.js';
import type { TokenSource } from './token/index.js';

const PEER = 'MLP';

interface MlpProject {
  id: number;
  name: string;
}

export interface MlpDeps {
  http: HttpContext;
  tokens: TokenSource;
  redactor: Redactor;
}

export interface MlpRequest {
  baseUrl: URL;
  project: string;
  /** Distinct MLP secret names. */
  secrets: string[];
  /** Byte caps on MLP's answers; DEFAULT_BYTE_CAPS when not given. */
  caps?: ByteCaps;
}

/** Per-secret counting is exact to within this many bytes (the slices fed to the parser). */
const SLICE_BYTES = 16 * 1024;

/** A 2xx body that is not what the API promises: not worth a retry, and never quoted (it may hold values). */
function unexpectedBody(operation: string, status: number): FetcherError {
  return new FetcherError({
    problem: `MLP answered "${operation}" with a body that is not the JSON the MLP API describes`,
    fix: 'check that MLP_API_HOST points at the MLP API (not a UI or another service)',
    status,
  });
}

async function readJson(response: HttpResponse, info: CallInfo, url: URL, maxBytes: number): Promise<unknown> {
  let text: string;
  try {
    text = await readCappedText(response.body, {
      peer: PEER,
      operation: info.operation,
      maxBytes,
      setting: FETCHER_ENV.maxProjectsBytes,
    });
  } catch (err) {
    if (err instanceof FetcherError) throw err; // past the cap: not retried
    throw bodyReadFailure(info, url, err);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw unexpectedBody(info.operation, response.status);
  }
}

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
const OPENING_BRACKET = 0x5b;

/**
 * A list no larger than this (and than one secret's cap) is parsed whole, in one JSON.parse: for
 * the few KB of a usual project that costs microseconds, where the byte scanner, still
 * interpreted in a fresh process, took 2–3 ms (bench/README.md, "Where the time goes"). Past
 * it, the list is streamed item by item as before; either way memory stays bounded.
 */
const WHOLE_LIST_BYTES = 64 * 1024;

/**
 * MLP's secrets list, read as it arrives, keeping only the `wanted` values. The list holds every
 * secret of the project with its value; reading it whole and parsing it cost several times its
 * size (a 50 MB project took almost 400 MB, past the default 256Mi FETCHER_MEMORY_LIMIT).
 * Streamed, one item is held at a time and the others' values are dropped at once — never kept,
 * never registered with the redactor. A small list (WHOLE_LIST_BYTES) is parsed whole instead,
 * with the same checks.
 */
async function readWantedSecrets(
  deps: MlpDeps,
  response: HttpResponse,
  info: CallInfo,
  url: URL,
  wanted: ReadonlySet<string>,
  caps: ByteCaps,
): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  let valid = true;
  const listCap: CapInfo = {
    peer: PEER,
    operation: info.operation,
    maxBytes: caps.secretsBytes,
    setting: FETCHER_ENV.maxSecretsBytes,
  };
  const itemCap: CapInfo = {
    peer: PEER,
    operation: info.operation,
    maxBytes: caps.secretBytes,
    setting: FETCHER_ENV.maxSecretBytes,
  };
  /** One item of the list, whichever way it was parsed. */
  const take = (value: unknown): void => {
    if (!isRecord(value) || typeof value.name !== 'string') valid = false;
    // Registered with the redactor only once the list is read, and only the value kept: a list
    // naming a wanted secret a million times (each with another value) would otherwise fill the
    // redactor past the memory limit while the list itself stays under its cap.
    else if (wanted.has(value.name) && typeof value.data === 'string') found.set(value.name, value.data);
  };
  // Bytes since the last complete item: the parser holds one item (and its value) whole.
  let itemBytes = 0;
  // Each array item on its own, parsed alone and not kept once seen (fetcher/json-array-items.ts).
  const parser = new JsonArrayItems();
  parser.onValue = ({ value, key }) => {
    itemBytes = 0;
    if (typeof key !== 'number') valid = false;
    else take(value);
  };
  parser.onError = () => {
    valid = false;
  };
  let started = false;
  const stream = (chunk: Uint8Array): void => {
    if (!started) {
      // `$.*` says nothing about a top-level string, number or null: the list must open with `[`.
      const first = chunk.findIndex((byte) => !WHITESPACE.has(byte));
      if (first >= 0) {
        started = true;
        valid = chunk[first] === OPENING_BRACKET;
      }
    }
    for (const slice of slices(chunk, SLICE_BYTES)) {
      if (!valid) break;
      itemBytes += slice.byteLength;
      if (itemBytes > itemCap.maxBytes + SLICE_BYTES) throw bodyTooLarge(itemCap, 'one secret of the list');
      try {
        parser.write(slice);
      } catch {
        valid = false; // not JSON: a wrong answer, not a network problem to retry
      }
    }
  };
  // Chunks held while the list may still be small enough to parse whole (then no item can be
  // over its cap either); null once it is not, and it is streamed.
  const wholeLimit = Math.min(WHOLE_LIST_BYTES, itemCap.maxBytes);
  let held: Uint8Array[] | null = [];
  let heldBytes = 0;
  try {
    for await (const chunk of capped(response.body ?? [], listCap)) {
      if (held !== null) {
        heldBytes += chunk.byteLength;
        if (heldBytes <= wholeLimit) {
          held.push(chunk);
          continue;
        }
        const earlier = held;
        held = null;
        for (const c of earlier) if (valid) stream(c);
      }
      if (valid) stream(chunk);
      if (!valid) break; // cancels the rest of the body
    }
  } catch (err) {
    if (err instanceof FetcherError) throw err; // past a cap: not retried
    throw bodyReadFailure(info, url, err);
  }
  if (held !== null) {
    // The whole list arrived within wholeLimit: one JSON.parse (which also refuses anything but
    // one complete value, like the streaming parser), the same check per item.
    let list: unknown;
    try {
      list = JSON.parse(Buffer.concat(held).toString('utf8'));
    } catch {
      list = undefined;
    }
    if (!Array.isArray(list)) throw unexpectedBody(info.operation, response.status);
    for (const item of list) take(item);
    if (!valid) throw unexpectedBody(info.operation, response.status);
  } else if (!valid || !parser.isEnded) {
    // The parser ends itself after the one top-level value; not ended means empty or cut short.
    throw unexpectedBody(info.operation, response.status);
  }
  for (const value of found.values()) deps.redactor.add(value);
  return found;
}

/** Status → message for a response MLP (or its gateway) refused. */
async function refusal(
  response: HttpResponse,
  info: CallInfo,
  project: string,
  identity: string,
): Promise<FetcherError> {
  const detail = await peerErrorText(response);
  const said = detail ? ` (MLP said: ${detail})` : '';
  const { status } = response;
  if (status === 401 || status === 403) {
    return new FetcherError({
      problem: `MLP denied project ${quote(project)} to identity ${quote(identity)}${said}`,
      fix:
        status === 403
          ? `add ${quote(identity)} to the readers of MLP project ${quote(project)}`
          : `add ${quote(identity)} to the readers of MLP project ${quote(project)}; ` +
            `if it is already there, check that the MLP gateway trusts this ` +
            `token's issuer and audience (MLP_AUTH_MODE, MLP_TOKEN_AUDIENCE)`,
      status,
    });
  }
  if (status === 404 && info.operation === 'list projects') {
    return new FetcherError({
      problem: `MLP has no projects endpoint at ${new URL(response.url || 'http://x/').pathname}${said}`,
      fix: 'check MLP_API_HOST: it must be the base URL of the MLP API, e.g. http://mlp.caraml.svc:8080',
      status,
    });
  }
  if (status === 404) {
    return new FetcherError({
      problem: `MLP project ${quote(project)} was not found when listing its secrets${said}`,
      fix: `check that MLP project ${quote(project)} still exists`,
      status,
    });
  }
  return new FetcherError({
    problem: `MLP refused to ${info.operation}${said}`,
    fix: 'check MLP_API_HOST and the MLP server logs',
    status,
  });
}

/** One GET with a fresh token; the 200 response, or the error its status means. */
async function getOk(deps: MlpDeps, url: URL, info: CallInfo, project: string, attempt: number): Promise<HttpResponse> {
  const token = await deps.tokens.token(attempt);
  const response = await attemptRequest(deps.http, { ...info, attempt }, url, {
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
  });
  throwIfRetryableStatus(response, info, deps.http.clock);
  if (response.status !== 200) throw await refusal(response, info, project, deps.tokens.identity(token));
  return response;
}

async function findProject(
  deps: MlpDeps,
  baseUrl: URL,
  name: string,
  caps: ByteCaps = DEFAULT_BYTE_CAPS,
): Promise<MlpProject> {
  const url = new URL('v1/projects', baseUrl);
  url.searchParams.set('name', name);
  const info: CallInfo = { peer: PEER, operation: 'list projects' };
  const retry = { deadline: deps.http.deadline, clock: deps.http.clock, onRetry: logRetry(deps, info) };
  const { status, body } = await withRetry(async (attempt) => {
    const response = await getOk(deps, url, info, name, attempt);
    return { status: response.status, body: await readJson(response, info, url, caps.projectsBytes) };
  }, retry);
  if (!Array.isArray(body)) throw unexpectedBody(info.operation, status);
  // MLP matches `name` as a prefix (LIKE 'name%'): only the exact name is ours.
  const match = body.find((p: unknown) => isRecord(p) && p.name === name);
  if (!match) {
    throw new FetcherError({
      problem: `there is no MLP project named ${quote(name)} (or the pod's identity may not see it)`,
      fix: `create MLP project ${quote(name)} or run the task in the namespace of an existing project`,
    });
  }
  if (typeof match.id !== 'number') throw unexpectedBody(info.operation, status);
  return { id: match.id, name };
}

/** The values of the `wanted` secrets among the project's, by name (see readWantedSecrets). */
async function listSecrets(
  deps: MlpDeps,
  baseUrl: URL,
  project: MlpProject,
  wanted: ReadonlySet<string>,
  caps: ByteCaps = DEFAULT_BYTE_CAPS,
): Promise<Map<string, string>> {
  const url = new URL(`v1/projects/${project.id}/secrets`, baseUrl);
  const info: CallInfo = { peer: PEER, operation: 'list secrets' };
  const retry = { deadline: deps.http.deadline, clock: deps.http.clock, onRetry: logRetry(deps, info) };
  // Read within the attempt: a body that breaks off is retried like a failed request.
  return withRetry(
    async (attempt) =>
      readWantedSecrets(deps, await getOk(deps, url, info, project.name, attempt), info, url, wanted, caps),
    retry,
  );
}

/** The values of the requested secrets, by name. Fails naming every secret that is missing. */
export async function fetchMlpSecrets(deps: MlpDeps, request: MlpRequest): Promise<Map<string, string>> {
  const caps = request.caps ?? DEFAULT_BYTE_CAPS;
  const project = await findProject(deps, request.baseUrl, request.project, caps);
  const found = await listSecrets(deps, request.baseUrl, project, new Set(request.secrets), caps);
  const missing = request.secrets.filter((name) => !found.has(name));
  if (missing.length > 0) {
    throw new FetcherError({
      problem:
        `${missing.length === 1 ? 'secret' : 'secrets'} ${listNames(missing)} ` +
        `not found in MLP project ${quote(request.project)}`,
      fix:
        `create ${missing.length === 1 ? 'it' : 'them'} in MLP project ${quote(request.project)}, ` +
        `or correct the secret key in the task's Secret request`,
      secrets: missing,
    });
  }
  return new Map(request.secrets.map((name) => [name, found.get(name) as string]));
}

function logRetry(deps: MlpDeps, info: CallInfo) {
  return (error: FetcherError, attempt: number, delayMs: number): void =>
    deps.http.log.warn('retrying', {
      peer: info.peer,
      operation: info.operation,
      attempt,
      delayMs,
      status: error.status ?? null,
      reason: error.problem,
    });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
