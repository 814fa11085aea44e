/**
 * The admission endpoint as a Koa app: HTTP in, `admit()` in the middle, AdmissionReview out.
 *
 * Bad input is the client's problem and gets a short plain-text 4xx (415 wrong content type,
 * 413 too large, 400 not JSON / not an AdmissionReview); only a bug here is a 500, answered with
 * a generic message and an error id that points at the one log line holding the details.
 * Nothing in this path does I/O besides reading the body: no network, no files.
 */
import { randomUUID } from 'node:crypto';
import { type Http2ServerRequest, constants as h2constants } from 'node:http2';
import { Router } from '@koa/router';
import Koa from 'koa';
import getRawBody from 'raw-body';
import { type AdmissionResult, admit as defaultAdmit, InvalidReviewError } from '../admission.js';
import type { InjectionConfig } from '../config.js';
import { errorFields, type Logger } from './log.js';
import type { RequestOutcome, WebhookMetrics } from './metrics.js';

export interface AdmissionAppOptions {
  injection: InjectionConfig;
  mutatePath: string;
  maxBodyBytes: number;
  /** The body must have arrived this long after the request began (408 otherwise); default 30 s. */
  requestTimeoutMs?: number;
  metrics: WebhookMetrics;
  logger: Logger;
  /** Replaceable for tests of the internal-error path; the server always uses the real one. */
  admit?: (body: unknown, config: InjectionConfig) => AdmissionResult;
  /** While true, HTTP/1.1 responses ask the client to close the connection (graceful shutdown). */
  closingConnections?: () => boolean;
}

/** An HTTP status for bad input, with the sentence the client sees. */
class BadInput extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface RawBodyError {
  type?: string;
  status?: number;
}

function isJsonContentType(header: string): boolean {
  const semicolon = header.indexOf(';');
  const mediaType = (semicolon === -1 ? header : header.slice(0, semicolon)).trim().toLowerCase();
  return mediaType === 'application/json';
}

async function readBody(ctx: Koa.Context, limit: number, timeoutMs: number): Promise<string> {
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
    const reading = getRawBody(ctx.req, { length: ctx.request.length ?? null, limit, encoding: 'utf8' });
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

export function createAdmissionApp(opts: AdmissionAppOptions): Koa {
  const { injection, metrics, logger, maxBodyBytes } = opts;
  const requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
  const admit = opts.admit ?? defaultAdmit;
  const closing = opts.closingConnections ?? (() => false);
  const app = new Koa();
  // Errors are answered and logged by the route handler below; Koa's own printer would log stacks to stderr.
  app.silent = true;
  const router = new Router();

  router.post(opts.mutatePath, async (ctx) => {
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
    let result: AdmissionResult;
    try {
      if (!isJsonContentType(ctx.get('content-type'))) throw new BadInput(415, 'content type must be application/json');
      result = admit(parseJson(await readBody(ctx, maxBodyBytes, requestTimeoutMs)), injection);
    } catch (err) {
      respondToFailure(ctx, err, elapsed(), metrics, logger);
      if (closing() && ctx.req.httpVersionMajor === 1) ctx.set('Connection', 'close');
      return;
    }
    ctx.status = 200;
    ctx.body = result.review;
    if (closing() && ctx.req.httpVersionMajor === 1) ctx.set('Connection', 'close');
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
  });

  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

/**
 * After answering early (415, 413) the client may still be uploading. Reading the rest would
 * waste bandwidth on a body we refuse; HTTP/1.1 closes the connection after the response,
 * HTTP/2 resets just this stream with NO_ERROR once the response is out (RFC 9113 §8.1).
 */
function dropUnreadBody(ctx: Koa.Context): void {
  if (ctx.req.httpVersionMajor >= 2) {
    const req = ctx.req as unknown as Http2ServerRequest;
    // The stream's own 'finish' (response flushed); the compat response's comes only at close.
    req.stream.once('finish', () => {
      if (req.stream.closed) return;
      req.stream.close(h2constants.NGHTTP2_NO_ERROR);
      // The stream is only destroyed once its readable side is not paused any more.
      req.resume();
    });
  } else {
    ctx.set('Connection', 'close');
  }
}

function respondToFailure(
  ctx: Koa.Context,
  err: unknown,
  seconds: number,
  metrics: WebhookMetrics,
  logger: Logger,
): void {
  let outcome: RequestOutcome;
  if (!ctx.req.complete) dropUnreadBody(ctx);
  ctx.type = 'text/plain';
  if (err instanceof BadInput || err instanceof InvalidReviewError) {
    outcome = 'invalid';
    ctx.status = err instanceof BadInput ? err.status : 400;
    ctx.body = `${err.message}\n`;
    logger.warn(
      { outcome, status: ctx.status, reason: err.message.slice(0, 200), durationMs: toMs(seconds) },
      'admission request rejected',
    );
  } else {
    outcome = 'error';
    const errorId = randomUUID();
    ctx.status = 500;
    ctx.body = `internal error in the admission webhook (error id ${errorId}); see the webhook's log\n`;
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
