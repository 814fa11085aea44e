/**
 * The requests to MLP and the metadata server, with node:http / node:https. The global fetch
 * (undici) took ~40 ms to initialise in the single executable, about as long as the rest of a
 * FILE run, for two GETs that need nothing it adds. TLS uses Node's default CAs plus
 * NODE_EXTRA_CA_CERTS, as fetch does; redirects are not followed (fetch's `redirect: 'manual'`).
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream';
import type { HttpResponse, HttpTransport } from './http.js';

/** Loaded on first use: `--version` loads neither, and a plain-http run never loads TLS. */
function requestFunction(url: URL) {
  if (url.protocol === 'https:') return process.getBuiltinModule('node:https').request;
  if (url.protocol === 'http:') return process.getBuiltinModule('node:http').request;
  throw new TypeError(`unsupported protocol ${url.protocol}`);
}

function header(headers: IncomingHttpHeaders, name: string): string | null {
  const value = headers[name.toLowerCase()];
  if (value === undefined) return null;
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * The body, gunzipped when the peer compressed it (we accept gzip, as fetch did: a large secrets
 * list travels smaller). Readers count the inflated bytes against their cap (bounded-body.ts) and
 * the gunzip stream only inflates as fast as they read, so a gzip bomb costs at most the cap. A
 * failure of either stream — the connection breaking off, a truncated gzip, the signal — fails the
 * iteration with that error.
 */
function bodyOf(res: IncomingMessage): AsyncIterable<Uint8Array> {
  const encoding = header(res.headers, 'content-encoding')?.trim().toLowerCase();
  if (encoding !== 'gzip' && encoding !== 'x-gzip') return res;
  return pipeline(res, process.getBuiltinModule('node:zlib').createGunzip(), () => {});
}

function answer(url: URL, res: IncomingMessage): HttpResponse {
  const body = bodyOf(res);
  return {
    status: res.statusCode ?? 0,
    url: url.href,
    headers: { get: (name) => header(res.headers, name) },
    body,
  };
}

export const nodeHttpTransport: HttpTransport = (
  url,
  { method = 'GET', headers = {}, body, ca, secureContext, signal },
) =>
  new Promise<HttpResponse>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    let response: IncomingMessage | undefined;
    const req = requestFunction(url)(url, {
      method,
      headers: {
        'accept-encoding': 'gzip',
        ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }),
        ...headers,
      },
      // `ca` also keys the agent's socket pool, so these connections are never shared with others.
      ...(ca !== undefined && url.protocol === 'https:' ? { ca } : {}),
      ...(secureContext !== undefined && url.protocol === 'https:' ? { secureContext } : {}),
    });
    // Until the body has been read (or dropped), the signal cuts off whatever is in flight.
    const onAbort = (): void => {
      response?.destroy(signal.reason);
      req.destroy(signal.reason);
    };
    const release = (): void => signal.removeEventListener('abort', onAbort);
    signal.addEventListener('abort', onAbort, { once: true });
    // Stays attached: the socket can also fail after the answer arrived (the body then fails too).
    req.on('error', (err) => {
      if (!response) release();
      reject(err);
    });
    req.on('response', (res) => {
      response = res;
      res.once('close', release);
      resolve(answer(url, res));
    });
    req.end(body);
  });
