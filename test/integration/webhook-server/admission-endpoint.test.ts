/**
 * The admission endpoint over real TLS, once per protocol (HTTP/1.1 via node:https, HTTP/2 via
 * node:http2): answers for good reviews, and short 4xx answers for every kind of bad input.
 */
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
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
} from './support.js';

interface ReviewResponse {
  apiVersion: string;
  kind: string;
  response: {
    uid: string;
    allowed: boolean;
    patch?: string;
    patchType?: string;
    warnings?: string[];
    status?: { code: number; message: string };
  };
}

describe('webhook server: admission endpoint over HTTPS', function () {
  let server: TestServer;

  before(async function () {
    server = await startTestServer();
  });
  after(async function () {
    await server?.stop();
  });

  const send = (protocol: (typeof PROTOCOLS)[number], body: unknown, extra: Partial<Parameters<typeof post>[1]> = {}) =>
    post(protocol, {
      port: server.running.port,
      ca: server.ca,
      body: typeof body === 'string' ? body : JSON.stringify(body),
      ...extra,
    });

  for (const protocol of PROTOCOLS) {
    describe(`over ${protocol}`, function () {
      it('negotiates the expected protocol', async function () {
        const res = await send(protocol, admissionReview(flytePod({ labelled: false })));
        assert.equal(res.protocol, protocol === 'http2' ? 'h2' : 'http/1.1');
      });

      it('injects into a labelled Flyte pod: 200, base64 JSONPatch, patchType JSONPatch, uid echoed', async function () {
        const uid = `uid-${protocol}-inject`;
        const pod = flytePod({
          secrets: [
            secret({ group: 'db-creds', key: 'password', mountRequirement: 'FILE' }),
            secret({ group: 'my-secrets', key: 'api_token', mountRequirement: 'ENV_VAR' }),
          ],
        });
        const res = await send(protocol, admissionReview(pod, { uid }));
        assert.equal(res.status, 200, res.body);
        assert.match(String(res.headers['content-type']), /^application\/json/);
        const review = JSON.parse(res.body) as ReviewResponse;
        assert.equal(review.apiVersion, 'admission.k8s.io/v1');
        assert.equal(review.kind, 'AdmissionReview');
        assert.equal(review.response.uid, uid);
        assert.equal(review.response.allowed, true);
        assert.equal(review.response.patchType, 'JSONPatch');
        const ops = JSON.parse(Buffer.from(review.response.patch!, 'base64').toString('utf8')) as {
          op: string;
          path: string;
          value?: unknown;
        }[];
        assert.ok(Array.isArray(ops) && ops.length > 0);
        for (const op of ops)
          assert.ok(['add', 'replace', 'remove'].includes(op.op) && op.path.startsWith('/'), JSON.stringify(op));
        // The fetcher init container is part of the patch.
        assert.ok(
          ops.some(
            (op) =>
              op.path.startsWith('/spec/initContainers') &&
              JSON.stringify(op.value).includes('registry.example/dap-secret-fetcher:test'),
          ),
          'a patch op adds the fetcher',
        );
      });

      it('answers a dry-run request like any other', async function () {
        const pod = flytePod({ secrets: [secret({ group: 'g', key: 'k', mountRequirement: 'FILE' })] });
        const res = await send(protocol, admissionReview(pod, { uid: 'dry', dryRun: true }));
        const review = JSON.parse(res.body) as ReviewResponse;
        assert.equal(res.status, 200);
        assert.equal(review.response.patchType, 'JSONPatch');
      });

      const unchanged: [string, () => unknown][] = [
        [
          'an unlabelled pod',
          () => admissionReview(flytePod({ labelled: false, secrets: [secret({ group: 'g', key: 'k' })] })),
        ],
        [
          'an UPDATE of a labelled pod',
          () => admissionReview(flytePod({ secrets: [secret({ group: 'g', key: 'k' })] }), { operation: 'UPDATE' }),
        ],
        [
          'a non-pod object',
          () =>
            admissionReview(
              { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } },
              { resource: { group: '', version: 'v1', resource: 'configmaps' } },
            ),
        ],
      ];
      for (const [what, review] of unchanged) {
        it(`allows ${what} unchanged: no patch, no patchType`, async function () {
          const res = await send(protocol, review(), {});
          assert.equal(res.status, 200, res.body);
          const body = JSON.parse(res.body) as ReviewResponse;
          assert.equal(body.response.allowed, true);
          assert.equal(body.response.uid, '705ab4f5-6393-11e8-b7cc-42010a800002');
          assert.ok(!('patch' in body.response), res.body);
          assert.ok(!('patchType' in body.response), res.body);
        });
      }

      it('denies a malformed secret annotation with a message naming it (still HTTP 200)', async function () {
        const pod = flytePod({ annotations: { 'flyte.secrets/s0': 'not base32 at all!' } });
        const res = await send(protocol, admissionReview(pod, { uid: 'deny' }));
        assert.equal(res.status, 200, res.body);
        const review = JSON.parse(res.body) as ReviewResponse;
        assert.equal(review.response.uid, 'deny');
        assert.equal(review.response.allowed, false);
        assert.match(review.response.status!.message, /flyte\.secrets\/s0/);
        assert.ok(!('patch' in review.response));
      });

      const bad: [string, number, Partial<Parameters<typeof post>[1]>, RegExp][] = [
        [
          'a wrong content type',
          415,
          { body: JSON.stringify(admissionReview(flytePod())), contentType: 'text/plain' },
          /application\/json/,
        ],
        [
          'no content type',
          415,
          { body: JSON.stringify(admissionReview(flytePod())), contentType: null },
          /application\/json/,
        ],
        [
          'a body over the limit (with content-length)',
          413,
          { body: JSON.stringify({ pad: 'x'.repeat(100 * 1024) }) },
          /larger than the limit of 65536 bytes/,
        ],
        [
          'a body over the limit (streamed, no content-length)',
          413,
          { body: JSON.stringify({ pad: 'x'.repeat(100 * 1024) }), omitLength: true },
          /larger than the limit/,
        ],
        ['malformed JSON', 400, { body: '{"apiVersion": "admission.k8s.io/v1", "kind": ' }, /not valid JSON/],
        ['an empty body', 400, { body: '' }, /not valid JSON/],
        [
          'JSON that is not an AdmissionReview',
          400,
          { body: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: {} }) },
          /AdmissionReview/,
        ],
        [
          'an AdmissionReview without request.uid',
          400,
          { body: JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: {} }) },
          /uid/,
        ],
        ['a JSON array', 400, { body: '[1,2,3]' }, /AdmissionReview/],
      ];
      for (const [what, status, extra, message] of bad) {
        it(`answers ${what} with ${status} and a short plain message, no stack trace`, async function () {
          const res = await send(protocol, extra.body ?? '', extra);
          assert.equal(res.status, status, res.body);
          assert.match(String(res.headers['content-type']), /^text\/plain/);
          assert.match(res.body, message);
          assert.ok(res.body.length < 300, res.body);
          assert.ok(!looksLikeStackTrace(res.body), res.body);
        });
      }

      it('answers 404 for another path and 405 for GET on the mutate path', async function () {
        const other = await send(protocol, '{}', { path: '/other' });
        assert.equal(other.status, 404);
        const get = await send(protocol, '', { method: 'GET', omitLength: true, contentType: null });
        assert.equal(get.status, 405);
      });
    });
  }

  it('refuses TLS older than 1.2', async function () {
    const err = await new Promise<Error | null>((resolve) => {
      const socket = tlsConnect(
        { host: '127.0.0.1', port: server.running.port, ca: server.ca, minVersion: 'TLSv1', maxVersion: 'TLSv1.1' },
        () => {
          socket.destroy();
          resolve(null);
        },
      );
      socket.on('error', resolve);
    });
    assert.ok(err, 'a TLS 1.1 handshake must fail');
  });

  // Runs after the per-protocol suites above (mocha runs a suite's own tests before its children).
  describe('after those requests', function () {
    it('never logged a stack trace for bad input, and never a 500', function () {
      const lines = server.log.lines;
      assert.ok(
        lines.every((l) => l.outcome !== 'error'),
        'no request ended as an internal error',
      );
      assert.ok(!/\n\s+at\s/.test(server.log.text()) && !server.log.text().includes('"stack"'));
    });

    it('exposes the counters on /metrics after the requests above', async function () {
      const res = await getHealth(server.running.healthPort, '/metrics');
      assert.equal(res.status, 200);
      const value = (series: string) => {
        const line = res.body.split('\n').find((l) => l.startsWith(`${series} `));
        assert.ok(line, `${series} is exposed`);
        return Number(line.split(' ')[1]);
      };
      // Per protocol: 2 injected (inject, dry-run), 2 unchanged (negotiation, unlabelled), 2 ignored,
      // 1 denied, 9 invalid; 404/405 never reach the handler.
      assert.equal(value('dap_secret_webhook_admission_requests_total{outcome="injected"}'), 4);
      assert.equal(value('dap_secret_webhook_admission_requests_total{outcome="unchanged"}'), 4);
      assert.equal(value('dap_secret_webhook_admission_requests_total{outcome="ignored"}'), 4);
      assert.equal(value('dap_secret_webhook_admission_requests_total{outcome="denied"}'), 2);
      assert.equal(value('dap_secret_webhook_admission_requests_total{outcome="invalid"}'), 18);
      assert.equal(value('dap_secret_webhook_admission_requests_total{outcome="error"}'), 0);
      assert.equal(value('dap_secret_webhook_injected_secrets_total{mount="FILE"}'), 4);
      assert.equal(value('dap_secret_webhook_injected_secrets_total{mount="ENV_VAR"}'), 2);
      assert.equal(value('dap_secret_webhook_denials_total{reason="malformed-annotation"}'), 2);
      assert.equal(value('dap_secret_webhook_admission_duration_seconds_count{outcome="injected"}'), 4);
      assert.ok(
        res.body.includes('dap_secret_webhook_admission_duration_seconds_bucket{le="0.0001",outcome="injected"}'),
      );
      assert.ok(res.body.includes('dap_secret_webhook_registration_attempts_total{result="skipped"} 1'));
      assert.ok(res.body.includes('dap_secret_webhook_process_cpu_user_seconds_total'), 'default process metrics');
    });
  });
});
