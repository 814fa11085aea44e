/**
 * Hostile input over real TLS, HTTP/1.1 and HTTP/2 (issue 11 items 2 and 3): structurally wrong
 * pods are the client's error (400, never 500), pods past a cap are denied naming the cap and the
 * fix, quoted input in a message is bounded, and the connection-level limits hold: concurrent
 * streams, a connection cap, header, request and idle timeouts, a reset stream after a 413.
 */
import assert from 'node:assert/strict';
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  constants as h2,
  connect as http2Connect,
  type IncomingHttpHeaders,
  type Settings,
} from 'node:http2';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import {
  admissionReview,
  flytePod,
  getHealth,
  looksLikeStackTrace,
  PROTOCOLS,
  post,
  secret,
  startTestServer,
  type TestServer,
  waitFor,
} from './support.js';

interface ReviewResponse {
  response: { uid: string; allowed: boolean; patch?: string; status?: { code: number; message: string } };
}

/** A pod whose secrets/annotations/containers come from the caller, for the cap cases. */
function podWith(
  edit: (pod: {
    metadata: { annotations: Record<string, string> };
    spec: { containers: Record<string, unknown>[] };
  }) => void,
): Record<string, unknown> {
  const pod = flytePod({ secrets: [secret({ group: 'g', key: 'k', mountRequirement: 'ENV_VAR' })] }) as never;
  edit(pod);
  return pod;
}

describe('webhook server: hostile input (HTTP/1.1 and HTTP/2)', function () {
  let server: TestServer;

  before(async function () {
    server = await startTestServer({
      WEBHOOK_MAX_SECRETS_PER_POD: '8',
      WEBHOOK_MAX_WIRED_CONTAINERS: '4',
      WEBHOOK_MAX_ANNOTATION_BYTES: '2048',
      WEBHOOK_MAX_CONCURRENT_STREAMS: '7',
      WEBHOOK_HEADERS_TIMEOUT_SECONDS: '1',
      WEBHOOK_REQUEST_TIMEOUT_SECONDS: '1',
      WEBHOOK_IDLE_TIMEOUT_SECONDS: '2',
    });
  });
  after(async function () {
    await server?.stop();
  });

  const send = (protocol: (typeof PROTOCOLS)[number], body: unknown) =>
    post(protocol, { port: server.running.port, ca: server.ca, body: JSON.stringify(body) });

  for (const protocol of PROTOCOLS) {
    describe(`over ${protocol}`, function () {
      const wrong: [string, (pod: Record<string, any>) => void, RegExp][] = [
        [
          'env that is not an array',
          (p) => (p.spec.containers[0].env = 'FOO=bar'),
          /spec\.containers\[0\]\.env must be an array/,
        ],
        [
          'containers that is an object',
          (p) => (p.spec.containers = { name: 'x' }),
          /spec\.containers must be an array/,
        ],
        [
          'an env entry without a name',
          (p) => (p.spec.containers[0].env = [{ value: 'x' }]),
          /spec\.containers\[0\]\.env\[0\]\.name must be a string/,
        ],
        [
          'an annotation value that is a number',
          (p) => (p.metadata.annotations['flyte.secrets/s1'] = 7),
          /metadata\.annotations\["flyte\.secrets\/s1"\] must be a string/,
        ],
        [
          'volumeMounts without mountPath',
          (p) => (p.spec.containers[0].volumeMounts = [{ name: 'v' }]),
          /volumeMounts\[0\]\.mountPath must be a string/,
        ],
        [
          'labels that are a list',
          (p) => (p.metadata.labels = ['inject-flyte-secrets']),
          /metadata\.labels must be an object/,
        ],
      ];
      for (const [what, edit, message] of wrong) {
        it(`a pod with ${what}: 400 naming the field, never a 500`, async function () {
          const pod = flytePod({ secrets: [secret({ group: 'g', key: 'k', mountRequirement: 'FILE' })] }) as Record<
            string,
            any
          >;
          edit(pod);
          const res = await send(protocol, admissionReview(pod));
          assert.equal(res.status, 400, res.body);
          assert.match(res.body, message);
          assert.ok(!looksLikeStackTrace(res.body), res.body);
        });
      }

      const overCap: [string, () => Record<string, unknown>, RegExp][] = [
        [
          'more secrets than WEBHOOK_MAX_SECRETS_PER_POD',
          () =>
            flytePod({
              secrets: Array.from({ length: 9 }, (_, i) =>
                secret({ group: 'g', key: `k${i}`, mountRequirement: 'ENV_VAR' }),
              ),
            }),
          /requests 9 secrets .* more than WEBHOOK_MAX_SECRETS_PER_POD=8; request fewer secrets .* raise WEBHOOK_MAX_SECRETS_PER_POD/,
        ],
        [
          'more annotation bytes than WEBHOOK_MAX_ANNOTATION_BYTES',
          () => flytePod({ secrets: [secret({ group: 'g', key: 'k'.repeat(1500), mountRequirement: 'FILE' })] }),
          /hold \d+ bytes, more than WEBHOOK_MAX_ANNOTATION_BYTES=2048/,
        ],
        [
          'more containers than WEBHOOK_MAX_WIRED_CONTAINERS',
          () =>
            podWith(
              (p) =>
                (p.spec.containers = Array.from({ length: 5 }, (_, i) => ({ name: `c${i}`, image: 'python:3.12' }))),
            ),
          /has 5 containers to wire .* more than WEBHOOK_MAX_WIRED_CONTAINERS=4; split the task/,
        ],
      ];
      for (const [what, pod, message] of overCap) {
        it(`denies ${what}, naming the cap and the fix`, async function () {
          const res = await send(protocol, admissionReview(pod()));
          assert.equal(res.status, 200, res.body);
          const review = JSON.parse(res.body) as ReviewResponse;
          assert.equal(review.response.allowed, false);
          assert.match(review.response.status!.message, message);
        });
      }

      it('quotes a long key in a denial only up to a short bound', async function () {
        const key = `${'x'.repeat(900)}/..`;
        const res = await send(
          protocol,
          admissionReview(flytePod({ secrets: [secret({ group: 'g', key, mountRequirement: 'FILE' })] })),
        );
        const review = JSON.parse(res.body) as ReviewResponse;
        assert.equal(review.response.allowed, false);
        const message = review.response.status!.message;
        assert.match(message, /… \(903 characters\)/);
        assert.ok(!message.includes('x'.repeat(100)), 'the key is not quoted in full');
        assert.ok(message.length < 600, message);
      });

      it('answers a body that never completes with 408 within WEBHOOK_REQUEST_TIMEOUT_SECONDS', async function () {
        const res = await slowBody(protocol);
        assert.equal(res.status, 408);
        assert.match(res.body, /WEBHOOK_REQUEST_TIMEOUT_SECONDS/);
      });
    });
  }

  it('HTTP/2: advertises WEBHOOK_MAX_CONCURRENT_STREAMS', async function () {
    const session = http2Connect(`https://127.0.0.1:${server.running.port}`, { ca: server.ca });
    try {
      const settings = await new Promise<Settings>((resolve, reject) =>
        session.once('remoteSettings', resolve).once('error', reject),
      );
      assert.equal(settings.maxConcurrentStreams, 7);
    } finally {
      session.destroy();
    }
  });

  it('HTTP/2: after a 413 the stream is reset (NO_ERROR), the rest of the upload is not read, and the session stays usable', async function () {
    const session = await h2Session();
    try {
      const req = session.request({
        [h2.HTTP2_HEADER_METHOD]: 'POST',
        [h2.HTTP2_HEADER_PATH]: '/mutate',
        'content-type': 'application/json',
      });
      req.on('error', () => {});
      req.resume();
      const status = new Promise<number>((resolve) =>
        req.once('response', (h) => resolve(Number(h[h2.HTTP2_HEADER_STATUS]))),
      );
      req.write(Buffer.alloc(96 * 1024, 'x')); // over the 64 KiB test limit, and the stream is never ended
      assert.equal(await status, 413);
      await new Promise<void>((resolve) => (req.closed ? resolve() : req.once('close', () => resolve())));
      assert.equal(req.rstCode, h2.NGHTTP2_NO_ERROR, 'the server reset the stream');
      assert.equal(session.destroyed, false, 'the session survives');
      const next = await sessionPost(session, JSON.stringify(admissionReview(flytePod({ labelled: false }))));
      assert.equal(next, 200);
    } finally {
      session.destroy();
    }
  });

  it('HTTP/1.1: headers that never finish get 408 and the connection is closed (WEBHOOK_HEADERS_TIMEOUT_SECONDS)', async function () {
    const socket = await tlsSocket(['http/1.1']);
    socket.write('POST /mutate HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n');
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString()));
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    assert.match(received, /^HTTP\/1\.1 408/);
  });

  it('HTTP/2: a session that opens no stream is closed (WEBHOOK_HEADERS_TIMEOUT_SECONDS), long before it would count as idle', async function () {
    // Its own server: idle timeout at its default (120 s, past this test's time limit), so only the headers timeout can close it.
    const own = await startTestServer({ WEBHOOK_HEADERS_TIMEOUT_SECONDS: '1' });
    try {
      const session = http2Connect(`https://127.0.0.1:${own.running.port}`, { ca: own.ca });
      session.on('error', () => {});
      await new Promise<void>((resolve) => session.once('close', () => resolve()));
      assert.ok(session.destroyed);
    } finally {
      await own.stop();
    }
  });

  it('HTTP/2: an idle session is closed after a request (WEBHOOK_IDLE_TIMEOUT_SECONDS)', async function () {
    this.timeout(10_000);
    const session = await h2Session();
    assert.equal(await sessionPost(session, JSON.stringify(admissionReview(flytePod({ labelled: false })))), 200);
    await new Promise<void>((resolve) => (session.closed ? resolve() : session.once('close', () => resolve())));
  });

  it('closes connections beyond WEBHOOK_MAX_CONNECTIONS at accept', async function () {
    // Its own server with the default (long) timeouts, so no connection is closed for being idle meanwhile.
    const capped = await startTestServer({ WEBHOOK_MAX_CONNECTIONS: '2' });
    const connect = () =>
      tlsConnect({ host: '127.0.0.1', port: capped.running.port, ca: capped.ca, ALPNProtocols: ['http/1.1'] });
    const open: TLSSocket[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const socket = connect();
        await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
        open.push(socket);
      }
      const extra = connect();
      const outcome = await new Promise<string>((resolve) => {
        extra.once('secureConnect', () => resolve('connected'));
        extra.once('error', () => resolve('refused'));
        extra.once('close', () => resolve('refused'));
      });
      extra.destroy();
      assert.equal(outcome, 'refused');
      for (const s of open.splice(0)) s.destroy();
      // Below the cap again: a new connection is served.
      await waitFor('a connection under the cap to be served', async () =>
        (
          await post('http2', {
            port: capped.running.port,
            ca: capped.ca,
            body: JSON.stringify(admissionReview(flytePod({ labelled: false }))),
          })
        ).status === 200
          ? true
          : undefined,
      );
    } finally {
      for (const s of open) s.destroy();
      await capped.stop();
    }
  });

  function tlsSocket(alpn: string[]): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect(
        { host: '127.0.0.1', port: server.running.port, ca: server.ca, ALPNProtocols: alpn },
        () => resolve(socket),
      );
      socket.once('error', reject);
    });
  }

  it('HTTP/2: bodies past WEBHOOK_MAX_INFLIGHT_BODY_BYTES are refused with 503 and Retry-After until the held ones end', async function () {
    this.timeout(20_000);
    // Room for two bodies of unknown length (each counts as WEBHOOK_MAX_BODY_BYTES = 64 KiB here).
    const own = await startTestServer({ WEBHOOK_MAX_INFLIGHT_BODY_BYTES: String(2 * 64 * 1024) });
    const session = http2Connect(`https://127.0.0.1:${own.running.port}`, { ca: own.ca });
    session.on('error', () => {});
    const open = (): ClientHttp2Stream =>
      session.request({
        [h2.HTTP2_HEADER_METHOD]: 'POST',
        [h2.HTTP2_HEADER_PATH]: '/mutate',
        'content-type': 'application/json',
      });
    const answer = (req: ClientHttp2Stream) =>
      new Promise<{ status: number; retryAfter: string | undefined; body: string }>((resolve, reject) => {
        let head: IncomingHttpHeaders = {};
        let body = '';
        req.on('response', (h) => (head = h));
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () =>
          resolve({ status: Number(head[h2.HTTP2_HEADER_STATUS]), retryAfter: head['retry-after'] as string, body }),
        );
        req.on('error', reject);
      });
    const review = JSON.stringify(admissionReview(flytePod()));
    try {
      // Two uploads that stall half-way hold the whole budget (same session: their headers arrive first).
      const held = [open(), open()];
      for (const h of held) {
        h.on('error', () => {});
        h.write(review.slice(0, 100));
      }
      const third = open();
      third.end(review);
      const refused = await answer(third);
      assert.equal(refused.status, 503, refused.body);
      assert.equal(refused.retryAfter, '1');
      assert.match(refused.body, /already reading 131072 bytes .*WEBHOOK_MAX_INFLIGHT_BODY_BYTES.*retry/);
      // Once the stalled uploads are gone, their share is free again.
      for (const h of held) h.close(h2.NGHTTP2_CANCEL);
      await waitFor('a request to be admitted again', async () => {
        const next = open();
        next.end(review);
        return (await answer(next)).status === 200 ? true : undefined;
      });
      const metrics = await getHealth(own.running.healthPort, '/metrics');
      assert.match(metrics.body, /^dap_secret_webhook_admission_requests_total\{outcome="overloaded"\} [1-9]/m);
    } finally {
      session.destroy();
      await own.stop();
    }
  });

  function h2Session(): Promise<ClientHttp2Session> {
    return new Promise((resolve, reject) => {
      const session = http2Connect(`https://127.0.0.1:${server.running.port}`, { ca: server.ca });
      session.once('connect', () => resolve(session));
      session.once('error', reject);
    });
  }

  function sessionPost(session: ClientHttp2Session, body: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const req: ClientHttp2Stream = session.request({
        [h2.HTTP2_HEADER_METHOD]: 'POST',
        [h2.HTTP2_HEADER_PATH]: '/mutate',
        'content-type': 'application/json',
      });
      let status = 0;
      req.on('response', (h) => (status = Number(h[h2.HTTP2_HEADER_STATUS])));
      req.on('data', () => {});
      req.on('end', () => resolve(status));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Sends headers and half a body, then nothing: the answer the server gives on its own. */
  async function slowBody(protocol: (typeof PROTOCOLS)[number]): Promise<{ status: number; body: string }> {
    const half = JSON.stringify(admissionReview(flytePod())).slice(0, 100);
    if (protocol === 'http2') {
      const session = await h2Session();
      try {
        return await new Promise((resolve, reject) => {
          const req = session.request({
            [h2.HTTP2_HEADER_METHOD]: 'POST',
            [h2.HTTP2_HEADER_PATH]: '/mutate',
            'content-type': 'application/json',
            'content-length': '10000',
          });
          let status = 0;
          let body = '';
          req.on('response', (h) => (status = Number(h[h2.HTTP2_HEADER_STATUS])));
          req.on('data', (d: Buffer) => (body += d.toString()));
          req.on('close', () => resolve({ status, body }));
          req.on('error', reject);
          req.write(half);
        });
      } finally {
        session.destroy();
      }
    }
    const socket = await tlsSocket(['http/1.1']);
    socket.write(
      `POST /mutate HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 10000\r\n\r\n${half}`,
    );
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString()));
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const status = Number(/^HTTP\/1\.1 (\d+)/.exec(received)?.[1] ?? 0);
    return { status, body: received.slice(received.indexOf('\r\n\r\n') + 4) };
  }
});
