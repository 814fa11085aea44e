import assert from 'node:assert/strict';
import sinon from 'sinon';
import type { FetcherError } from '../../../fetcher/errors.js';
import {
  attemptRequest,
  type HttpContext,
  type HttpTransport,
  MAX_ERROR_BODY_BYTES,
  peerErrorText,
  sanitisePeerText,
  throwIfRetryableStatus,
} from '../../../fetcher/http.js';
import { FakeClock, fakeDeadline, jsonResponse, RecordingLogger } from './helpers.js';

describe('fetcher/http', function () {
  function context(request: sinon.SinonStub): { http: HttpContext; log: RecordingLogger } {
    const clock = new FakeClock();
    const log = new RecordingLogger();
    return {
      http: { request: request as unknown as HttpTransport, clock, deadline: fakeDeadline(clock, 60_000), log },
      log,
    };
  }
  const info = { peer: 'MLP', operation: 'list projects', attempt: 2 };

  it('logs one line per call with status and duration, never headers', async function () {
    const requestStub = sinon.stub().resolves(jsonResponse(200, []));
    const { http, log } = context(requestStub);
    const response = await attemptRequest(http, info, new URL('http://mlp:8080/v1/projects?name=ads'), {
      headers: { Authorization: 'Bearer t0ken-value' },
    });
    assert.equal(response.status, 200);
    assert.deepEqual(log.lines, [
      {
        level: 'info',
        msg: 'http call',
        peer: 'MLP',
        operation: 'list projects',
        method: 'GET',
        url: 'http://mlp:8080/v1/projects?name=ads',
        status: 200,
        durationMs: 0,
        attempt: 2,
      },
    ]);
    const request = requestStub.firstCall.args[1] as Parameters<HttpTransport>[1];
    assert.ok(request.signal instanceof AbortSignal, 'bounded by a signal');
    assert.deepEqual(request.headers, { Authorization: 'Bearer t0ken-value' });
  });

  it('turns a transport failure into a retryable error naming the peer and the cause', async function () {
    // node:http's errors carry the code themselves; fetch's on their cause: both name it.
    const failures = [
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      new TypeError('fetch failed', { cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }) }),
    ];
    for (const failure of failures) {
      const { http, log } = context(sinon.stub().rejects(failure));
      await assert.rejects(attemptRequest(http, info, new URL('http://mlp:8080/v1/projects')), (err: FetcherError) => {
        assert.equal(err.retryable, true);
        assert.equal(err.problem, 'could not reach MLP at http://mlp:8080 to list projects (ECONNRESET)');
        return true;
      });
      assert.equal(log.lines[0]?.msg, 'http call failed');
      assert.equal(log.lines[0]?.error, 'ECONNRESET');
    }
  });

  it('does not retry a TLS certificate the fetcher does not trust, and says what to do', async function () {
    for (const code of [
      'SELF_SIGNED_CERT_IN_CHAIN',
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'CERT_HAS_EXPIRED',
      'ERR_TLS_CERT_ALTNAME_INVALID',
    ]) {
      const { http } = context(sinon.stub().rejects(Object.assign(new Error('certificate problem'), { code })));
      await assert.rejects(attemptRequest(http, info, new URL('https://mlp:8443/v1/projects')), (err: FetcherError) => {
        assert.equal(err.retryable, false, code);
        assert.match(
          err.problem,
          new RegExp(`^MLP at https://mlp:8443 presented a TLS certificate the fetcher does not accept \\(${code}\\)`),
        );
        assert.match(err.fix, /CA that signed MLP's certificate/);
        return true;
      });
    }
  });

  it('calls a timeout a timeout', async function () {
    const { http } = context(sinon.stub().rejects(new DOMException('aborted', 'TimeoutError')));
    await assert.rejects(attemptRequest(http, info, new URL('http://mlp:8080/')), /\(timed out\)/);
  });

  describe('throwIfRetryableStatus', function () {
    const clock = new FakeClock();
    it('passes 2xx and 4xx through', function () {
      for (const status of [200, 400, 401, 403, 404])
        throwIfRetryableStatus(new Response(null, { status }), info, clock);
    });
    it('makes 5xx and 429 retryable, with Retry-After', function () {
      assert.throws(
        () => throwIfRetryableStatus(new Response(null, { status: 502 }), info, clock),
        (e: FetcherError) => e.retryable && e.status === 502 && e.retryAfterMs === undefined,
      );
      assert.throws(
        () => throwIfRetryableStatus(new Response(null, { status: 429, headers: { 'retry-after': '4' } }), info, clock),
        (e: FetcherError) =>
          e.retryable && e.status === 429 && e.retryAfterMs === 4000 && /rate-limiting/.test(e.problem),
      );
    });
  });

  describe('peerErrorText', function () {
    it('reads MLP, Oathkeeper and OAuth error bodies, and plain text', async function () {
      assert.equal(
        await peerErrorText(jsonResponse(404, { error: 'project with ID 9 not found' })),
        'project with ID 9 not found',
      );
      assert.equal(
        await peerErrorText(
          jsonResponse(403, {
            error: { code: 403, status: 'Forbidden', message: 'Access credentials are not sufficient' },
          }),
        ),
        'Access credentials are not sufficient',
      );
      assert.equal(
        await peerErrorText(jsonResponse(400, { error: 'invalid_grant', error_description: 'bad subject' })),
        'invalid_grant: bad subject',
      );
      assert.equal(await peerErrorText(new Response('404 page not found\n', { status: 404 })), '404 page not found');
    });
    it('reads at most MAX_ERROR_BODY_BYTES of an endless body', async function () {
      let sent = 0;
      async function* endless(): AsyncGenerator<Uint8Array> {
        for (;;) {
          sent += 4096;
          yield Buffer.alloc(4096, 0x61);
        }
      }
      const text = await peerErrorText({ body: endless() });
      assert.equal(text, `${'a'.repeat(200)}...`);
      assert.ok(sent <= MAX_ERROR_BODY_BYTES + 4096, `read ${sent} bytes`);
    });
    it('quotes peer text without control characters, escapes or bidi overrides', function () {
      assert.equal(
        sanitisePeerText('denied\u001b[31m\r\n{"level":"info"}\u202etxt.exe\u0000'),
        'denied [31m {"level":"info"} txt.exe',
      );
      assert.equal(sanitisePeerText('é'.repeat(300)).length, 203);
    });
    it('shortens long bodies to one line', async function () {
      const text = await peerErrorText(new Response(`a\n${'b'.repeat(500)}`, { status: 500 }));
      assert.equal(text.length, 203);
      assert.ok(!text.includes('\n'));
    });
  });
});
