/**
 * Hostile HTTP on the admission port, aimed at the plain node:http2 handler that replaced Koa
 * (webhook/server/app.ts): odd methods and paths, duplicate or lying headers, clients that
 * reset or vanish mid-request, and answers written after the stream is gone. The process must
 * stay up and keep serving, and every answer must be a clear status.
 */
import assert from 'node:assert/strict';
import { type ClientHttp2Session, type ClientHttp2Stream, constants as h2, connect as http2Connect } from 'node:http2';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { admissionReview, flytePod, PROTOCOLS, post, startTestServer, type TestServer, waitFor } from './support.js';

const review = () => JSON.stringify(admissionReview(flytePod({ labelled: false })));

describe('webhook server: hostile HTTP against the plain handler (HTTP/1.1 and HTTP/2)', function () {
  let server: TestServer;

  before(async function () {
    server = await startTestServer({ WEBHOOK_REQUEST_TIMEOUT_SECONDS: '2', WEBHOOK_HEADERS_TIMEOUT_SECONDS: '2' });
  });
  after(async function () {
    await server?.stop();
  });
  /** After each attack the server still answers a good review. */
  afterEach(async function () {
    for (const protocol of PROTOCOLS) {
      const res = await post(protocol, { port: server.running.port, ca: server.ca, body: review() });
      assert.equal(res.status, 200, `${protocol} after the attack: ${res.body}`);
    }
  });

  function h2Session(): Promise<ClientHttp2Session> {
    return new Promise((resolve, reject) => {
      const session = http2Connect(`https://127.0.0.1:${server.running.port}`, { ca: server.ca });
      session.once('connect', () => resolve(session));
      session.once('error', reject);
    });
  }

  /** A JSON POST stream on `session` (to /mutate unless `headers` says otherwise) whose errors are expected. */
  function openPost(session: ClientHttp2Session, headers: Record<string, string> = {}): ClientHttp2Stream {
    const req = session.request({
      [h2.HTTP2_HEADER_METHOD]: 'POST',
      [h2.HTTP2_HEADER_PATH]: '/mutate',
      'content-type': 'application/json',
      ...headers,
    });
    req.on('error', () => {});
    return req;
  }

  function tlsSocket(): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect(
        { host: '127.0.0.1', port: server.running.port, ca: server.ca, ALPNProtocols: ['http/1.1'] },
        () => resolve(socket),
      );
      socket.once('error', reject);
    });
  }

  /** Raw HTTP/1.1: writes `text`, returns all the server sent until it closed (or `waitMs` passed). */
  async function raw1(text: string | Buffer, waitMs = 1500): Promise<string> {
    const socket = await tlsSocket();
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    socket.on('error', () => {});
    socket.write(text);
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, waitMs);
      socket.once('close', () => {
        clearTimeout(t);
        resolve();
      });
    });
    socket.destroy();
    return received;
  }

  /** The log lines the handler wrote for finished admission requests (answered or rejected), in order. */
  const finished = () =>
    server.log.lines.filter((l) => l.msg === 'admission' || l.msg === 'admission request rejected');
  /** Waits for the handler to finish the next request after `before` of them, and returns its log line. */
  const nextFinished = (before: number) =>
    waitFor('the handler to finish the request', () => finished()[before] as Record<string, unknown> | undefined);

  const status1 = (text: string) => Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0);

  /** One HTTP/2 request with raw headers; resolves with status, body and the reset code. */
  async function raw2(
    headers: Record<string, string | string[]>,
    body?: string | Buffer,
    end = true,
  ): Promise<{ status: number; body: string; rstCode: number | undefined; error?: string }> {
    const session = await h2Session();
    session.on('error', () => {});
    try {
      return await new Promise((resolve) => {
        const req = session.request(
          { [h2.HTTP2_HEADER_METHOD]: 'POST', [h2.HTTP2_HEADER_PATH]: '/mutate', ...headers },
          {
            endStream: body === undefined && end,
          },
        );
        let status = 0;
        let text = '';
        let error: string | undefined;
        req.on('response', (h) => (status = Number(h[h2.HTTP2_HEADER_STATUS])));
        req.on('data', (d: Buffer) => (text += d.toString()));
        req.on('error', (e: Error) => (error = e.message));
        req.on('close', () => resolve({ status, body: text, rstCode: req.rstCode, error }));
        if (body !== undefined) {
          if (end) req.end(body);
          else req.write(body);
        }
      });
    } finally {
      session.destroy();
    }
  }

  for (const protocol of PROTOCOLS) {
    describe(`over ${protocol}`, function () {
      const call = (path: string, method = 'POST', body = review()) =>
        post(protocol, { port: server.running.port, ca: server.ca, path, method, body });

      for (const path of ['/mutate?timeout=10s', '/mutate/', '/mutate/?timeout=10s']) {
        it(`serves the mutate path as ${path}`, async function () {
          assert.equal((await call(path)).status, 200);
        });
      }
      for (const path of [
        '//mutate',
        '/mutate%2F',
        '/mutate/x',
        '/mutatex',
        '/',
        `/${'a'.repeat(7000)}`,
        '/mutate//',
      ]) {
        it(`answers ${path.slice(0, 20)} with 404`, async function () {
          const res = await call(path);
          assert.equal(res.status, 404, res.body);
        });
      }
      for (const method of ['HEAD', 'OPTIONS', 'PUT', 'DELETE', 'PATCH']) {
        it(`answers ${method} on the mutate path with 405 and Allow: POST`, async function () {
          const res = await call('/mutate', method, method === 'HEAD' ? '' : review());
          assert.equal(res.status, 405, res.body);
          assert.equal(res.headers.allow, 'POST');
          if (method === 'HEAD') assert.equal(res.body, '');
        });
      }
      it('reads a body that is not UTF-8 as a client error (400), not a crash', async function () {
        const body = Buffer.concat([
          Buffer.from('{"kind":"'),
          Buffer.from([0xff, 0xfe, 0xc0, 0x80]),
          Buffer.from('"}'),
        ]);
        const res = await post(protocol, { port: server.running.port, ca: server.ca, body });
        assert.equal(res.status, 400, res.body);
      });
      it('answers a body without a declared length (chunked / DATA frames only)', async function () {
        const res = await post(protocol, {
          port: server.running.port,
          ca: server.ca,
          body: review(),
          omitLength: true,
        });
        assert.equal(res.status, 200, res.body);
      });
      it('answers an undeclared-length body over the limit with 413', async function () {
        const res = await post(protocol, {
          port: server.running.port,
          ca: server.ca,
          body: Buffer.alloc(200 * 1024, 'x'),
          omitLength: true,
        });
        assert.equal(res.status, 413, res.body);
      });
    });
  }

  describe('HTTP/1.1, raw', function () {
    it('a request without a body answered 404 or 415 keeps its connection (the next request on it is served)', async function () {
      const body = review();
      const got = await raw1(
        'GET /other HTTP/1.1\r\nHost: x\r\n\r\n' +
          'POST /mutate HTTP/1.1\r\nHost: x\r\ncontent-type: text/plain\r\n\r\n' +
          `POST /mutate HTTP/1.1\r\nHost: x\r\nConnection: close\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
      assert.deepEqual(
        [...got.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1])),
        [404, 415, 200],
        got,
      );
    });
    it('two different content-length headers: 400 from the parser, no admission', async function () {
      const body = review();
      const got = await raw1(
        `POST /mutate HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\ncontent-length: 5\r\n\r\n${body}`,
      );
      assert.equal(status1(got), 400, got);
    });
    it('two content-type headers: the first is used', async function () {
      const body = review();
      const got = await raw1(
        `POST /mutate HTTP/1.1\r\nHost: x\r\nConnection: close\r\ncontent-type: application/json\r\ncontent-type: text/plain\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
      assert.equal(status1(got), 200, got);
    });
    it('mixed-case header names and Expect: 100-continue', async function () {
      const body = review();
      const socket = await tlsSocket();
      let received = '';
      socket.on('data', (d: Buffer) => (received += d.toString()));
      socket.write(
        `POST /mutate?timeout=10s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: Application/JSON; Charset=UTF-8\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`,
      );
      await waitFor('100 Continue', () => (received.includes('100 Continue') ? true : undefined), 3000);
      socket.write(body);
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
      assert.match(received, /HTTP\/1\.1 200/);
    });
    it('absolute-form request target: 404, not a crash', async function () {
      const body = review();
      const got = await raw1(
        `POST https://127.0.0.1/mutate HTTP/1.1\r\nHost: x\r\nConnection: close\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
      assert.ok([200, 404].includes(status1(got)), got);
    });
    it('Transfer-Encoding: chunked beside a content-length (request smuggling): 400 from the parser', async function () {
      const body = review();
      const got = await raw1(
        `POST /mutate HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
      );
      assert.equal(status1(got), 400, got);
    });
    it('HTTP/1.0 without Host is served and closed', async function () {
      const body = review();
      const got = await raw1(
        `POST /mutate?timeout=10s HTTP/1.0\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
      assert.match(got, /^HTTP\/1\.1 200/, got);
    });
    it('a body dribbled a byte at a time still ends in 408 (slowloris)', async function () {
      this.timeout(10_000);
      const socket = await tlsSocket();
      socket.on('error', () => {});
      let received = '';
      socket.on('data', (d: Buffer) => (received += d.toString()));
      socket.write('POST /mutate HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n');
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      const dribble = setInterval(() => socket.write(' '), 200);
      await closed;
      clearInterval(dribble);
      assert.match(received, /^HTTP\/1\.1 408/, received);
    });
    it('a header larger than Node allows: 431', async function () {
      const got = await raw1(`POST /mutate HTTP/1.1\r\nHost: x\r\nx-big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
      assert.equal(status1(got), 431, got);
    });
    it('a client that sends the whole body and vanishes at once: the handler finishes, no crash', async function () {
      const before = finished().length;
      const body = review();
      const socket = await tlsSocket();
      socket.on('error', () => {});
      socket.end(
        `POST /mutate HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      );
      socket.destroy();
      const line = await nextFinished(before);
      assert.ok(line.msg === 'admission' || line.status === 400, JSON.stringify(line));
    });
    it('a client that vanishes mid-body: 400 logged (upload aborted), no crash', async function () {
      const before = finished().length;
      const socket = await tlsSocket();
      socket.on('error', () => {});
      socket.write(
        `POST /mutate HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n{"a":`,
      );
      socket.destroy();
      const line = await nextFinished(before);
      assert.equal(line.status, 400, JSON.stringify(line));
      assert.match(String(line.reason), /could not be read completely/);
    });
    for (const [status, method, path] of [
      [404, 'POST', '/other'],
      [405, 'PUT', '/mutate'],
    ] as const)
      it(`a body sent with ${method} ${path} is not read in full (${status}, connection closed)`, async function () {
        const socket = await tlsSocket();
        socket.on('error', () => {});
        let received = '';
        socket.on('data', (d: Buffer) => (received += d.toString()));
        socket.write(
          `${method} ${path} HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100000000\r\n\r\n`,
        );
        let sent = 0;
        const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
        let open = true;
        void closed.then(() => (open = false));
        const chunk = Buffer.alloc(64 * 1024, 'x');
        while (open && sent < 20 * 1024 * 1024) {
          const ok = socket.write(chunk);
          sent += chunk.length;
          if (!ok)
            await Promise.race([
              new Promise((r) => socket.once('drain', r)),
              closed,
              new Promise((r) => setTimeout(r, 2000)),
            ]);
        }
        socket.destroy();
        assert.match(received, new RegExp(`^HTTP/1\\.1 ${status}`));
        assert.ok(sent < 20 * 1024 * 1024, `the server read ${sent} bytes of a body it answered ${status}`);
      });
  });

  /**
   * HTTP/2 by hand (Node's client refuses to send a single-value header twice): the preface, an
   * empty SETTINGS, one HEADERS frame (HPACK literals, no Huffman) and one DATA frame on stream 1.
   * Returns what the server first sent for that stream: a status (200/400/404/415 are told
   * apart by their HPACK byte), or the RST_STREAM / GOAWAY that refused it.
   */
  async function frames2(headers: [string, string][], body: string): Promise<string> {
    const int7 = (n: number) => (n < 127 ? [n] : [127, ...varint(n - 127)]);
    const varint = (n: number): number[] => (n < 128 ? [n] : [(n % 128) | 128, ...varint(Math.floor(n / 128))]);
    const literal = ([name, value]: [string, string]) =>
      Buffer.concat([
        Buffer.from([0, ...int7(name.length)]),
        Buffer.from(name),
        Buffer.from(int7(value.length)),
        Buffer.from(value),
      ]);
    const frame = (type: number, flags: number, stream: number, payload: Buffer) => {
      const head = Buffer.alloc(9);
      head.writeUIntBE(payload.length, 0, 3);
      head[3] = type;
      head[4] = flags;
      head.writeUInt32BE(stream, 5);
      return Buffer.concat([head, payload]);
    };
    const block = Buffer.concat(
      [[':method', 'POST'], [':scheme', 'https'], [':path', '/mutate'], [':authority', 'x'], ...headers].map((h) =>
        literal(h as [string, string]),
      ),
    );
    const socket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: server.running.port, ca: server.ca, ALPNProtocols: ['h2'] }, () =>
        resolve(s),
      );
      s.once('error', reject);
    });
    socket.on('error', () => {});
    let received = Buffer.alloc(0);
    const outcome = new Promise<string>((resolve) => {
      socket.on('data', (d: Buffer) => {
        received = Buffer.concat([received, d]);
        while (received.length >= 9) {
          const length = received.readUIntBE(0, 3);
          if (received.length < 9 + length) return;
          const [type, stream] = [received[3], received.readUInt32BE(5) & 0x7fffffff];
          const payload = received.subarray(9, 9 + length);
          received = received.subarray(9 + length);
          const statuses: Record<number, string> = { 136: '200', 140: '400', 141: '404' };
          if (type === 1 && stream === 1) resolve(statuses[payload[0]!] ?? `status other than 200/400/404`);
          if (type === 3 && stream === 1) resolve(`RST_STREAM ${payload.readUInt32BE(0)}`);
          if (type === 7) resolve(`GOAWAY ${payload.readUInt32BE(4)}`);
        }
      });
      socket.once('close', () => resolve('closed'));
    });
    socket.write(
      Buffer.concat([
        Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
        frame(4, 0, 0, Buffer.alloc(0)),
        frame(1, 4, 1, block),
        frame(0, 1, 1, Buffer.from(body)),
      ]),
    );
    const first = await outcome;
    socket.destroy();
    return first;
  }

  describe('HTTP/2, raw', function () {
    it('the hand-made HTTP/2 client is answered 200 for a good review (so the cases below are meaningful)', async function () {
      const body = review();
      assert.equal(
        await frames2(
          [
            ['content-type', 'application/json'],
            ['content-length', String(body.length)],
          ],
          body,
        ),
        '200',
      );
    });
    it('two content-length headers (same or different): the stream is refused (PROTOCOL_ERROR), no admission', async function () {
      const body = review();
      for (const second of [String(body.length), '5'])
        assert.equal(
          await frames2(
            [
              ['content-type', 'application/json'],
              ['content-length', String(body.length)],
              ['content-length', second],
            ],
            body,
          ),
          `RST_STREAM ${h2.NGHTTP2_PROTOCOL_ERROR}`,
        );
    });
    it('two content-type headers: the first one counts, as over HTTP/1.1', async function () {
      const body = review();
      const before = finished().length;
      assert.equal(
        await frames2(
          [
            ['content-type', 'application/json'],
            ['content-type', 'text/plain'],
          ],
          body,
        ),
        '200',
      );
      assert.equal(
        await frames2(
          [
            ['content-type', 'text/plain'],
            ['content-type', 'application/json'],
          ],
          body,
        ),
        'status other than 200/400/404',
      );
      assert.equal((await nextFinished(before + 1)).status, 415, 'the second request was refused for its content type');
    });
    it('a content-length smaller than the body: refused', async function () {
      const body = review();
      const res = await raw2({ 'content-type': 'application/json', 'content-length': '10' }, body);
      assert.notEqual(res.status, 200, JSON.stringify(res));
    });
    it('a content-length larger than the body: 400', async function () {
      const body = review();
      const res = await raw2({ 'content-type': 'application/json', 'content-length': String(body.length + 10) }, body);
      assert.ok(res.status === 400 || res.rstCode !== 0, JSON.stringify(res));
    });
    it('a huge header: refused', async function () {
      const res = await raw2({ 'content-type': 'application/json', 'x-big': 'a'.repeat(100 * 1024) }, review());
      assert.notEqual(res.status, 200, JSON.stringify(res));
    });
    for (const code of [h2.NGHTTP2_CANCEL, h2.NGHTTP2_INTERNAL_ERROR, h2.NGHTTP2_NO_ERROR]) {
      it(`a stream reset (code ${code}) right after the whole body: the handler finishes, no crash`, async function () {
        const before = finished().length;
        const session = await h2Session();
        session.on('error', () => {});
        const req = openPost(session);
        req.end(review());
        req.close(code);
        // Answered or rejected, the handler finishes and writes to a stream that is gone, without throwing.
        const line = await nextFinished(before);
        session.destroy();
        assert.ok(line.msg === 'admission' || line.status === 400, JSON.stringify(line));
      });
      it(`a stream reset (code ${code}) mid-body: 400 logged (upload aborted), no crash`, async function () {
        const before = finished().length;
        const session = await h2Session();
        session.on('error', () => {});
        const req = openPost(session, { 'content-length': '5000' });
        req.write('{"a":');
        req.close(code);
        const line = await nextFinished(before);
        session.destroy();
        assert.equal(line.status, 400, JSON.stringify(line));
        assert.match(String(line.reason), /could not be read completely/);
      });
    }
    it('a body dribbled a byte at a time still ends in 408 (slowloris), the stream reset', async function () {
      this.timeout(10_000);
      const session = await h2Session();
      session.on('error', () => {});
      const req = openPost(session);
      let status = 0;
      req.on('response', (h) => (status = Number(h[h2.HTTP2_HEADER_STATUS])));
      req.resume();
      const dribble = setInterval(() => req.writable && req.write(' '), 200);
      await new Promise<void>((resolve) => req.once('close', () => resolve()));
      clearInterval(dribble);
      session.destroy();
      assert.equal(status, 408);
      assert.equal(req.rstCode, h2.NGHTTP2_NO_ERROR);
    });
    it('a CONNECT stream (no :path): refused, the process stays up', async function () {
      const session = await h2Session();
      session.on('error', () => {});
      const req = session.request({ [h2.HTTP2_HEADER_METHOD]: 'CONNECT', [h2.HTTP2_HEADER_AUTHORITY]: 'example:443' });
      req.on('error', () => {});
      let status = 0;
      req.on('response', (h) => (status = Number(h[h2.HTTP2_HEADER_STATUS])));
      req.resume();
      req.end();
      await new Promise<void>((resolve) => req.once('close', () => resolve()));
      session.destroy();
      assert.notEqual(status, 200);
    });
    it('rapid reset: 2,000 streams opened and cancelled at once, the process stays up', async function () {
      const session = await h2Session();
      session.on('error', () => {});
      for (let i = 0; i < 2000 && !session.destroyed; i++) {
        const req = openPost(session);
        req.close(h2.NGHTTP2_CANCEL);
      }
      await new Promise((r) => setTimeout(r, 500));
      session.destroy();
    });
    it('a session destroyed right after sending many requests', async function () {
      const session = await h2Session();
      session.on('error', () => {});
      for (let i = 0; i < 50; i++) {
        const req = openPost(session, { [h2.HTTP2_HEADER_PATH]: i % 2 ? '/mutate' : '/x' });
        req.end(review());
      }
      await new Promise((r) => setImmediate(r));
      session.destroy();
      await new Promise((r) => setTimeout(r, 300));
    });
    it('a body sent to another path: 404 and the stream is reset, the upload not read', async function () {
      const res = await raw2(
        { [h2.HTTP2_HEADER_PATH]: '/other', 'content-type': 'application/json' },
        Buffer.alloc(32 * 1024),
        false,
      );
      assert.equal(res.status, 404, JSON.stringify(res));
      assert.equal(res.rstCode, h2.NGHTTP2_NO_ERROR, JSON.stringify(res));
    });
    it('a 415 while the upload continues: stream reset, session lives', async function () {
      const res = await raw2({ 'content-type': 'text/plain' }, Buffer.alloc(32 * 1024), false);
      assert.equal(res.status, 415, JSON.stringify(res));
      assert.equal(res.rstCode, h2.NGHTTP2_NO_ERROR, JSON.stringify(res));
    });
  });
});
