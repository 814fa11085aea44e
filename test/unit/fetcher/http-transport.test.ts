/** The node:http transport against real servers on 127.0.0.1: answers, gzip, bodies that break off, aborts. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { readCappedText } from '../../../fetcher/bounded-body.js';
import type { FetcherError } from '../../../fetcher/errors.js';
import { attemptRequest, type HttpContext } from '../../../fetcher/http.js';
import { nodeHttpTransport } from '../../../fetcher/http-transport.js';
import { fetchMlpSecrets } from '../../../fetcher/mlp.js';
import { Redactor } from '../../../fetcher/redact.js';
import { FakeClock, fakeDeadline, RecordingLogger } from './helpers.js';

describe('fetcher/http-transport', function () {
  let server: Server;
  let base: URL;
  let handler: (req: IncomingMessage, res: ServerResponse) => void;
  const sockets = new Set<Socket>();

  beforeEach(async function () {
    server = createServer((req, res) => handler(req, res));
    server.on('connection', (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  });

  afterEach(async function () {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });

  const signal = (): AbortSignal => new AbortController().signal;

  async function readAll(body: AsyncIterable<Uint8Array> | null): Promise<string> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of body ?? []) chunks.push(chunk);
    return Buffer.concat(chunks).toString('utf8');
  }

  it('sends method and headers, and gives status, headers and the body as it arrives', async function () {
    let seen: IncomingMessage | undefined;
    handler = (req, res) => {
      seen = req;
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
      res.write('{"error":');
      res.end('"slow down"}');
    };
    const url = new URL('v1/projects?name=ads', base);
    const response = await nodeHttpTransport(url, { headers: { Authorization: 'Bearer t0ken' }, signal: signal() });
    assert.equal(response.status, 429);
    assert.equal(response.url, url.href);
    assert.equal(response.headers.get('Retry-After'), '7');
    assert.equal(response.headers.get('x-absent'), null);
    assert.equal(
      await readCappedText(response.body, { peer: 'MLP', operation: 'test', maxBytes: 1024 }),
      '{"error":"slow down"}',
    );
    assert.equal(seen?.method, 'GET');
    assert.equal(seen?.url, '/v1/projects?name=ads');
    assert.equal(seen?.headers.authorization, 'Bearer t0ken');
    assert.equal(seen?.headers['accept-encoding'], 'gzip');
  });

  it('gunzips an answer the peer compressed', async function () {
    const list = JSON.stringify([{ id: 1, name: 'pw', data: 'ünïcødé value' }]);
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(gzipSync(list));
    };
    const response = await nodeHttpTransport(base, { signal: signal() });
    assert.equal(await readAll(response.body), list);
  });

  it("fails reading a body the peer cuts off with ECONNRESET, and MLP's secrets list is then retried", async function () {
    let lists = 0;
    handler = (req, res) => {
      if (req.url?.startsWith('/v1/projects?')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify([{ id: 7, name: 'ads' }]));
      } else if (++lists === 1) {
        // Promises more than it sends, then the connection drops mid-value.
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
        res.write('[{"id":1,"name":"x","data":"x-val', () => res.socket?.destroy());
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify([{ id: 1, name: 'x', data: 'x-value-2' }]));
      }
    };
    const clock = new FakeClock();
    const log = new RecordingLogger();
    const http: HttpContext = { request: nodeHttpTransport, clock, deadline: fakeDeadline(clock, 60_000), log };
    const tokens = { token: async () => 'token-abcdef-123', identity: () => 'someone' };
    const values = await fetchMlpSecrets(
      { http, tokens, redactor: new Redactor() },
      { baseUrl: base, project: 'ads', secrets: ['x'] },
    );
    assert.equal(values.get('x'), 'x-value-2');
    assert.equal(lists, 2);
    const retried = log.lines.filter((l) => l.msg === 'retrying');
    assert.equal(retried.length, 1);
    assert.match(
      String(retried[0]?.reason),
      /could not read the answer of MLP at http:\/\/127\.0\.0\.1:\d+ to list secrets \(ECONNRESET\)$/,
    );
  });

  it("rejects with the signal's reason when it aborts before the answer, and closes the connection", async function () {
    let arrived!: () => void;
    const requested = new Promise<void>((resolve) => (arrived = resolve));
    handler = () => arrived(); // never answers
    const controller = new AbortController();
    const pending = nodeHttpTransport(base, { signal: controller.signal });
    await requested;
    assert.equal(sockets.size, 1);
    const [socket] = sockets;
    const closed = once(socket as Socket, 'close');
    const reason = new DOMException('attempt timed out', 'TimeoutError');
    controller.abort(reason);
    await assert.rejects(pending, (err) => err === reason);
    await closed;
  });

  it("cuts off a body still arriving when the signal aborts, with the signal's reason", async function () {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[{"id":1,'); // and nothing more
    };
    const controller = new AbortController();
    const response = await nodeHttpTransport(base, { signal: controller.signal });
    const reason = new Error('deadline passed');
    const reading = (async () => {
      for await (const _chunk of response.body ?? []) controller.abort(reason);
    })();
    await assert.rejects(reading, (err) => err === reason);
  });

  it('does not send a request when the signal has already aborted', async function () {
    let requests = 0;
    handler = (_req, res) => {
      requests++;
      res.end();
    };
    const reason = new Error('deadline passed');
    await assert.rejects(nodeHttpTransport(base, { signal: AbortSignal.abort(reason) }), (err) => err === reason);
    assert.equal(requests, 0);
  });

  it('a refused connection is a retryable error naming ECONNREFUSED', async function () {
    const closedPort = (server.address() as AddressInfo).port;
    server.close();
    await once(server, 'close');
    server.listen(0, '127.0.0.1'); // for afterEach
    await once(server, 'listening');
    const clock = new FakeClock();
    const http: HttpContext = {
      request: nodeHttpTransport,
      clock,
      deadline: fakeDeadline(clock, 60_000),
      log: new RecordingLogger(),
    };
    await assert.rejects(
      attemptRequest(
        http,
        { peer: 'MLP', operation: 'list projects' },
        new URL(`http://127.0.0.1:${closedPort}/v1/projects`),
      ),
      (err: FetcherError) =>
        err.retryable &&
        /could not reach MLP at http:\/\/127\.0\.0\.1:\d+ to list projects \(ECONNREFUSED\)/.test(err.problem),
    );
  });
});
