/**
 * The admission endpoint as a plain Node request handler: HTTP in, `admit()` in the middle,
 * AdmissionReview out. Not a Koa app any more: one route needs no framework, and Koa's context
 * per request cost ~10% of the webhook's CPU per pod at the API server's call rate (issue 14;
 * README "Libraries and why").
 *
 * Bad input is the client's problem and gets a short plain-text 4xx (404/405 wrong path or
 * method, 415 wrong content type, 413 too large, 408 too slow, 400 not JSON / not an
 * AdmissionReview); 503 when the bodies being read would pass WEBHOOK_MAX_INFLIGHT_BODY_BYTES.
 * Only a bug here is a 500, answered with a generic message and an error id that points at the
 * one log line holding the details.
 * Nothing in this path does I/O besides reading the body: no network, no files.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Http2ServerRequest, type Http2ServerResponse, constants as h2constants } from 'node:http2';
import getRawBody from 'raw-body';
import { type AdmissionResult, admit as defaultAdmit, InvalidReviewError } from '../admission.js';
import type { InjectionConfig } from '../config.js';
import { errorFields, type Logger } from './log.js';
import type { RequestOutcome, WebhookMetrics } from './metrics.js';

export interface AdmissionHandlerOptions {
  injection: InjectionConfig;
  mutatePath: string;
  maxBodyBytes: number;
  /**
   * Bytes of request bodies held at once over all connections and streams (a request's declared
   * length, or maxBodyBytes when it declares none); past it, 503 with Retry-After. Default: no bound.
   */
  maxInflightBodyBytes?: number;
  /** The body must have arrived this long after the request began (408 otherwise); default 30 s. */
  requestTimeoutMs?: number;
  metrics: WebhookMetrics;
  logger: Logger;
  /** Replaceable for tests of the internal-error path; the server always uses the real one. */
  admit?: (body: unknown, config: InjectionConfig) => AdmissionResult;
  /** While true, HTTP/1.1 responses ask the client to close the connection (graceful shutdown). */
  closingConnections?: () => boolean;
}

/** An HTTP status for bad input (or a full server), with the sentence the client sees. */
class BadInput extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

/** What the bodies being read may hold together; each request takes its share before reading. */
class BodyBudget {
  private held = 0;
  constructor(readonly limit: number) {}

  /** The BadInput to answer when `bytes` more do not fit; otherwise takes them and returns null. */
  take(bytes: number): BadInput | null {
    if (this.held + bytes <= this.limit) {
      this.held += bytes;
      return null;
    }
    return new BadInput(
      503,
      `the webhook is already reading ${this.held} bytes of request bodies, and ${bytes} more would pass ` +
        `its limit of ${this.limit} (WEBHOOK_MAX_INFLIGHT_BODY_BYTES); retry shortly`,
      { 'retry-after': '1' },
    );
  }

  give(bytes: number): void {
    this.held -= bytes;
  }
}

/** The request's content-length, or null without one (Node has already refused malformed ones). */
function declaredLength(req: Request): number | null {
  const header = req.headers['content-length'];
  return header === undefined ? null : Number(header);
}

/** What a request may hold: its declared length when it has one within the cap, else the cap. */
function bodyShare(declared: number | null, maxBodyBytes: number): number {
  return declared !== null && declared >= 0 && declared <= maxBodyBytes ? declared : maxBodyBytes;
}

interface RawBodyError {
  type?: string;
  status?: number;
}

function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false;
  const semicolon = header.indexOf(';');
  const mediaType = (semicolon === -1 ? header : header.slice(0, semicolon)).trim().toLowerCase();
  return mediaType === 'application/json';
}

type Request = IncomingMessage | Http2ServerRequest;
type Response = ServerResponse | Http2ServerResponse;
export type AdmissionHandler = (req: Request, res: Response) => void;

async function readBody(req: Request, length: number | null, limit: number, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new BadInput(
            408,
            `the request body did not arrive within ${timeoutMs / 1000} s (WEBHOOK_REQUEST_TIMEOUT_SECONDS)`,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    // The HTTP/2 compat request is a Readable like IncomingMessage; raw-body only reads it.
    const reading = getRawBody(req as IncomingMessage, { length, limit, encoding: 'utf8' });
    reading.catch(() => {}); // after a timeout the stream is cut; that late failure is expected
    return await Promise.race([reading, late]);
  } catch (err) {
    if (err instanceof BadInput) throw err;
    const e = err as RawBodyError;
    if (e.type === 'entity.too.large')
      throw new BadInput(413, `request body is larger than the limit of ${limit} bytes (WEBHOOK_MAX_BODY_BYTES)`);
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500)
      throw new BadInput(400, 'the request body could not be read completely');
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** Milliseconds with microsecond resolution, for log lines. */
const toMs = (seconds: number) => Math.round(seconds * 1e6) / 1e3;

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // JSON.parse's message quotes part of the body, which may hold annotation values: say less.
    throw new BadInput(400, 'request body is not valid JSON');
  }
}

/** The path without its query: the API server calls `<path>?timeout=10s`. A trailing slash is the same path. */
function pathOf(url: string | undefined): string {
  const raw = url ?? '/';
  const query = raw.indexOf('?');
  const path = query === -1 ? raw : raw.slice(0, query);
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

function send(res: Response, status: number, type: string, text: string, extra?: Record<string, string>): void {
  const body = Buffer.from(text); // encoded once: its length is the header, its bytes the answer
  // Both response kinds take writeHead(status, headers); their typings do not overlap.
  (res as ServerResponse).writeHead(status, { 'content-type': type, 'content-length': String(body.length), ...extra });
  res.end(body);
}

const sendText = (res: Response, status: number, text: string, extra?: Record<string, string>) =>
  send(res, status, 'text/plain; charset=utf-8', text, extra);

export function createAdmissionHandler(opts: AdmissionHandlerOptions): AdmissionHandler {
  const { injection, metrics, logger, maxBodyBytes } = opts;
  const requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
  const admit = opts.admit ?? defaultAdmit;
  const closing = opts.closingConnections ?? (() => false);
  const mutatePath = pathOf(opts.mutatePath);
  const budget = new BodyBudget(opts.maxInflightBodyBytes ?? Number.POSITIVE_INFINITY);
  /** Graceful shutdown: HTTP/1.1 clients are asked to reconnect (to a pod that is not stopping). */
  const closeHeader = (req: Request) => (closing() && req.httpVersionMajor === 1 ? { connection: 'close' } : undefined);

  const handle = async (req: Request, res: Response): Promise<void> => {
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
    let result: AdmissionResult;
    let share = 0;
    try {
      if (!isJsonContentType(req.headers['content-type']))
        throw new BadInput(415, 'content type must be application/json');
      const length = declaredLength(req);
      const wanted = bodyShare(length, maxBodyBytes);
      const full = budget.take(wanted);
      if (full) throw full;
      share = wanted;
      result = admit(parseJson(await readBody(req, length, maxBodyBytes, requestTimeoutMs)), injection);
    } catch (err) {
      respondToFailure(req, res, err, elapsed(), metrics, logger, closeHeader(req));
      return;
    } finally {
      budget.give(share);
    }
    send(res, 200, 'application/json; charset=utf-8', JSON.stringify(result.review), closeHeader(req));
    const seconds = elapsed();
    recordAdmission(metrics, result, seconds);
    // One line per request, from the result's summary fields only: never the body or the pod.
    logger.info(
      {
        pod: result.pod,
        outcome: result.outcome,
        dryRun: result.dryRun,
        warnings: result.warnings.length,
        ...(result.denialReasons.length > 0 ? { denialReasons: result.denialReasons } : {}),
        secrets: result.secretsByMount,
        durationMs: toMs(seconds),
      },
      'admission',
    );
  };

  /** 404/405 answer before any body is read: drop it rather than let Node read it to the end (HTTP/1.1). */
  const refuse = (req: Request, res: Response, status: number, text: string, extra?: Record<string, string>) =>
    sendText(res, status, text, { ...extra, ...dropUnreadBody(req), ...closeHeader(req) });

  return (req, res) => {
    if (pathOf(req.url) !== mutatePath) return refuse(req, res, 404, 'Not Found');
    if (req.method !== 'POST') return refuse(req, res, 405, 'Method Not Allowed', { allow: 'POST' });
    handle(req, res).catch((err: unknown) => {
      // Only a failure to write the answer lands here (the client went away): nothing left to tell it.
      logger.debug({ err: errorFields(err) }, 'answering an admission request failed');
    });
  };
}

/**
 * After answering early (415, 413) the client may still be uploading. Reading the rest would
 * waste bandwidth on a body we refuse; HTTP/1.1 closes the connection after the response,
 * HTTP/2 resets just this stream with NO_ERROR once the response is out (RFC 9113 §8.1).
 */
function dropUnreadBody(req: Request): Record<string, string> | undefined {
  if (req.complete) return undefined;
  if (req.httpVersionMajor >= 2) {
    const h2 = req as Http2ServerRequest;
    // The stream's own 'finish' (response flushed); the compat response's comes only at close.
    h2.stream.once('finish', () => {
      if (h2.stream.closed) return;
      h2.stream.close(h2constants.NGHTTP2_NO_ERROR);
      // The stream is only destroyed once its readable side is not paused any more.
      h2.resume();
    });
    return undefined;
  }
  // An HTTP/1.1 request without a body is not `complete` yet while its handler runs: keep the connection.
  const { 'content-length': length, 'transfer-encoding': chunked } = req.headers;
  return chunked === undefined && (length === undefined || length === '0') ? undefined : { connection: 'close' };
}

function respondToFailure(
  req: Request,
  res: Response,
  err: unknown,
  seconds: number,
  metrics: WebhookMetrics,
  logger: Logger,
  closeHeader: Record<string, string> | undefined,
): void {
  let outcome: RequestOutcome;
  const headers = { ...dropUnreadBody(req), ...closeHeader };
  if (err instanceof BadInput || err instanceof InvalidReviewError) {
    const status = err instanceof BadInput ? err.status : 400;
    outcome = status === 503 ? 'overloaded' : 'invalid';
    sendText(res, status, `${err.message}\n`, { ...headers, ...(err instanceof BadInput ? err.headers : {}) });
    logger.warn(
      { outcome, status, reason: err.message.slice(0, 200), durationMs: toMs(seconds) },
      'admission request rejected',
    );
  } else {
    outcome = 'error';
    const errorId = randomUUID();
    sendText(
      res,
      500,
      `internal error in the admission webhook (error id ${errorId}); see the webhook's log\n`,
      headers,
    );
    logger.error({ outcome, errorId, err: errorFields(err), durationMs: toMs(seconds) }, 'admission request failed');
  }
  metrics.requests.inc({ outcome });
  metrics.duration.observe({ outcome }, seconds);
}

function recordAdmission(metrics: WebhookMetrics, result: AdmissionResult, seconds: number): void {
  metrics.requests.inc({ outcome: result.outcome });
  metrics.duration.observe({ outcome: result.outcome }, seconds);
  if (result.secretsByMount.FILE > 0) metrics.injectedSecrets.inc({ mount: 'FILE' }, result.secretsByMount.FILE);
  if (result.secretsByMount.ENV_VAR > 0)
    metrics.injectedSecrets.inc({ mount: 'ENV_VAR' }, result.secretsByMount.ENV_VAR);
  for (const reason of result.denialReasons) metrics.denials.inc({ reason });
}
