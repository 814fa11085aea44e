/**
 * Shared pieces of the webhook-server integration tests: a server started in-process with a
 * captured log, real HTTPS clients for HTTP/1.1 and HTTP/2, AdmissionReview builders, and a
 * bounded wait.
 */

import { request as httpRequest } from 'node:http';
import { constants as h2, connect as http2Connect } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { Writable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import type { FlyteSecret } from '../../../webhook/flyte/annotations.js';
import { encodeSecretAnnotation } from '../../../webhook/flyte/annotations.js';
import { type RunningServer, type ServeOptions, serve } from '../../../webhook/server/serve.js';
import { freePort } from '../../e2e/harness/ports.js';
import { waitFor as waitUntil } from '../../e2e/harness/wait.js';

export type Protocol = 'http1' | 'http2';
export const PROTOCOLS: readonly Protocol[] = ['http1', 'http2'];

export { freePort };

/** Poll until `check` returns a value (not undefined); fail naming what was awaited. */
export function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
): Promise<T> {
  return waitUntil(check, { what, timeoutMs, intervalMs: 50 });
}

/** Collects pino's JSON lines. */
export class LogCapture extends Writable {
  readonly raw: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') this.raw.push(line);
    done();
  }
  get lines(): Record<string, unknown>[] {
    return this.raw.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
  text(): string {
    return this.raw.join('\n');
  }
}

/** The env a test server needs; nothing from the test process's env leaks in (no KUBECONFIG, no HOME). */
export async function testEnv(overrides: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    FETCHER_IMAGE: 'registry.example/dap-secret-fetcher:test',
    MLP_API_HOST: 'http://mlp.example:8080',
    WEBHOOK_HOST: '127.0.0.1',
    WEBHOOK_PORT: String(await freePort()),
    HEALTH_PORT: '0',
    WEBHOOK_MAX_BODY_BYTES: String(64 * 1024),
    ...overrides,
  };
}

export interface TestServer {
  running: RunningServer;
  log: LogCapture;
  /** PEM(s) the clients trust: an array, since generated PEMs lack a final newline and do not concatenate. */
  ca: string | string[];
  stop(): Promise<void>;
}

export async function startTestServer(
  overrides: Record<string, string> = {},
  options: ServeOptions = {},
  ca?: string | string[],
): Promise<TestServer> {
  const log = new LogCapture();
  const running = await serve(await testEnv(overrides), {
    handleSignals: false,
    logDestination: log,
    drainDelayMs: 0,
    shutdownGraceMs: 5_000,
    ...options,
  });
  const trusted = ca ?? running.generatedCaPem;
  if (!trusted) throw new Error('test server: pass the CA of the configured certificate');
  return { running, log, ca: trusted, stop: () => running.stop() };
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** 'h2' or 'http/1.1' as negotiated. */
  protocol: string;
}

export interface PostOptions {
  port: number;
  ca: string | string[];
  path?: string;
  body: string | Buffer;
  contentType?: string | null;
  /** Send no content-length (HTTP/1.1: chunked; HTTP/2: just DATA frames). */
  omitLength?: boolean;
  method?: string;
}

export function post(protocol: Protocol, opts: PostOptions): Promise<HttpResult> {
  return protocol === 'http1' ? postHttp1(opts) : postHttp2(opts);
}

function headersFor(opts: PostOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  if (opts.contentType !== null) headers['content-type'] = opts.contentType ?? 'application/json';
  if (!opts.omitLength) headers['content-length'] = String(Buffer.byteLength(opts.body));
  return headers;
}

function postHttp1(opts: PostOptions): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: opts.port,
        path: opts.path ?? '/mutate',
        method: opts.method ?? 'POST',
        ca: opts.ca,
        agent: false,
        headers: headersFor(opts),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            protocol: `http/${res.httpVersion}`,
          }),
        );
        res.on('error', reject);
      },
    );
    // The server may answer (413) before the upload ends and drop the rest: that is not a test failure.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
    });
    req.end(opts.body);
  });
}

function postHttp2(opts: PostOptions): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(`https://127.0.0.1:${opts.port}`, { ca: opts.ca });
    session.on('error', reject);
    const method = opts.method ?? 'POST';
    const bodyless = method === 'GET' || method === 'HEAD';
    const req = session.request(
      { [h2.HTTP2_HEADER_METHOD]: method, [h2.HTTP2_HEADER_PATH]: opts.path ?? '/mutate', ...headersFor(opts) },
      { endStream: bodyless },
    );
    let status = 0;
    let headers: Record<string, string | string[] | undefined> = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => {
      status = Number(h[h2.HTTP2_HEADER_STATUS]);
      headers = h;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const protocol = session.alpnProtocol ?? '';
      session.close();
      resolve({ status, headers, body: Buffer.concat(chunks).toString('utf8'), protocol });
    });
    req.on('error', (err) => {
      session.destroy();
      reject(err);
    });
    if (!bodyless) req.end(opts.body);
  });
}

/** GET on the plain-HTTP health port. */
export function getHealth(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The serial number of the certificate a fresh TLS connection is served. */
export function servedCertificateSerial(port: number, ca: string | string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost', ALPNProtocols: ['h2'] }, () => {
      const serial = socket.getPeerCertificate().serialNumber;
      socket.destroy();
      resolve(serial);
    });
    socket.on('error', reject);
  });
}

// ---- AdmissionReviews -------------------------------------------------------------------------

export function secret(fields: Partial<FlyteSecret> & { key: string }): FlyteSecret {
  return { group: '', groupVersion: '', mountRequirement: 'ANY', envVar: '', ...fields };
}

export interface PodSpecOptions {
  labelled?: boolean;
  secrets?: FlyteSecret[];
  /** Raw annotations added as they are (e.g. a malformed one). */
  annotations?: Record<string, string>;
  env?: Record<string, string>;
  name?: string;
}

export function flytePod(opts: PodSpecOptions = {}): Record<string, unknown> {
  const annotations: Record<string, string> = { ...(opts.annotations ?? {}) };
  (opts.secrets ?? []).forEach((s, i) => {
    annotations[`flyte.secrets/s${i}`] = encodeSecretAnnotation(s);
  });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: opts.name ?? 'a7xk2-n0-0',
      namespace: 'ml-team',
      labels: {
        ...(opts.labelled === false ? {} : { 'inject-flyte-secrets': 'true' }),
        project: 'ml-team',
        domain: 'development',
        'execution-id': 'a7xk2',
      },
      annotations,
    },
    spec: {
      containers: [
        {
          name: 'a7xk2-n0-0',
          image: 'python:3.12',
          args: ['pyflyte-execute', '--task-module', 'wf'],
          env: Object.entries(opts.env ?? {}).map(([name, value]) => ({ name, value })),
        },
      ],
      restartPolicy: 'Never',
    },
  };
}

export interface ReviewOptions {
  uid?: string;
  operation?: string;
  resource?: { group: string; version: string; resource: string };
  dryRun?: boolean;
}

export function admissionReview(object: unknown, opts: ReviewOptions = {}): Record<string, unknown> {
  const resource = opts.resource ?? { group: '', version: 'v1', resource: 'pods' };
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: opts.uid ?? '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: {
        group: resource.group,
        version: resource.version,
        kind: resource.resource === 'pods' ? 'Pod' : 'ConfigMap',
      },
      resource,
      requestKind: {
        group: resource.group,
        version: resource.version,
        kind: resource.resource === 'pods' ? 'Pod' : 'ConfigMap',
      },
      requestResource: resource,
      name: '',
      namespace: 'ml-team',
      operation: opts.operation ?? 'CREATE',
      userInfo: { username: 'system:serviceaccount:flyte:flytepropeller' },
      object,
      oldObject: null,
      dryRun: opts.dryRun ?? false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

/** What a response body must never look like: a stack trace or an internal error. */
export function looksLikeStackTrace(body: string): boolean {
  return /\n\s+at\s|node_modules|\.ts:\d+|Internal Server Error/.test(body);
}
