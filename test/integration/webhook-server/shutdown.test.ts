/**
 * stop() in-process, over HTTP/2 (the API server's protocol): an in-flight stream is finished,
 * and a stream that never finishes is cut once the grace period is over, so shutdown is bounded.
 * (The SIGTERM path over HTTP/1.1 is in lifecycle.test.ts.)
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type ClientHttp2Session, type ClientHttp2Stream, connect as http2Connect } from 'node:http2';
import { admissionReview, flytePod, getHealth, startTestServer, type TestServer, waitFor } from './support.js';

/** A POST whose headers the server has seen (100 Continue) and whose body is not complete yet. */
async function openStream(
  server: TestServer,
): Promise<{ session: ClientHttp2Session; stream: ClientHttp2Stream; body: Buffer }> {
  const session = http2Connect(`https://127.0.0.1:${server.running.port}`, { ca: server.ca });
  session.on('error', () => undefined);
  const body = Buffer.from(JSON.stringify(admissionReview(flytePod({ labelled: false }), { uid: 'h2-in-flight' })));
  const stream = session.request({
    ':method': 'POST',
    ':path': '/mutate',
    'content-type': 'application/json',
    'content-length': String(body.length),
    expect: '100-continue',
  });
  stream.on('error', () => undefined);
  await once(stream, 'continue');
  stream.write(body.subarray(0, 10));
  return { session, stream, body };
}

describe('webhook server: graceful stop over HTTP/2', function () {
  let server: TestServer | undefined;
  afterEach(async function () {
    await server?.stop();
    server = undefined;
  });

  it('finishes an in-flight stream, then stops', async function () {
    server = await startTestServer({}, { shutdownGraceMs: 30_000 });
    const s = server;
    const { session, stream, body } = await openStream(s);
    const response = new Promise<{ status: number; text: string }>((resolve) => {
      let status = 0;
      let text = '';
      stream.on('response', (h) => (status = Number(h[':status'])));
      stream.on('data', (c: Buffer) => (text += c.toString()));
      stream.on('end', () => resolve({ status, text }));
    });

    let stopped = false;
    const stopping = s.stop().then(() => (stopped = true));
    await waitFor('/readyz to turn 503', async () =>
      (await getHealth(s.running.healthPort, '/readyz')).status === 503 ? true : undefined,
    );
    assert.equal(stopped, false, 'stop() waits for the in-flight stream');

    stream.end(body.subarray(10));
    const res = await response;
    assert.equal(res.status, 200);
    assert.equal((JSON.parse(res.text) as { response: { uid: string } }).response.uid, 'h2-in-flight');
    await stopping;
    session.destroy();
    assert.ok(!s.log.lines.some((l) => String(l.msg).startsWith('shutdown grace period over')));
  });

  it('cuts a stream that never finishes once the grace period is over', async function () {
    server = await startTestServer({}, { shutdownGraceMs: 200 });
    const { session, stream } = await openStream(server);
    const closed = once(stream, 'close');
    await server.stop();
    await closed;
    session.destroy();
    const line = server.log.lines.find((l) => String(l.msg).startsWith('shutdown grace period over'));
    assert.ok(line);
    assert.equal(line.inFlight, 1);
  });
});
