/**
 * The one path the integration tests cannot reach: a bug inside admit(). The client gets a 500
 * with a generic sentence and an error id; the log line with that id holds the details.
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../../webhook/config.js';
import { createAdmissionHandler } from '../../../webhook/server/app.js';
import { createLogger } from '../../../webhook/server/log.js';
import { createMetrics } from '../../../webhook/server/metrics.js';
import { LogCapture } from '../../integration/webhook-server/support.js';

describe('webhook server app: internal errors', function () {
  let server: Server;
  let log: LogCapture;
  let metrics: ReturnType<typeof createMetrics>;

  before(async function () {
    const loaded = loadConfig({ FETCHER_IMAGE: 'f:1', MLP_API_HOST: 'http://mlp' });
    assert.ok(loaded.ok);
    log = new LogCapture();
    metrics = createMetrics();
    const handler = createAdmissionHandler({
      injection: loaded.config.injection,
      mutatePath: '/mutate',
      maxBodyBytes: 4096,
      metrics,
      logger: createLogger('info', log),
      admit: () => {
        throw new TypeError("Cannot read properties of undefined (reading 'containers')");
      },
    });
    server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  });
  after(function (done) {
    server.close(() => done());
  });

  it('answers 500 with a generic message and an error id that the log line carries', async function () {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: (server.address() as AddressInfo).port,
          path: '/mutate',
          method: 'POST',
          headers: { 'content-type': 'application/json' },
        },
        (r) => {
          let body = '';
          r.on('data', (c: Buffer) => (body += c.toString()));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end('{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u"}}');
    });
    assert.equal(res.status, 500);
    const id = /error id ([0-9a-f-]{36})/.exec(res.body)?.[1];
    assert.ok(id, res.body);
    assert.ok(!res.body.includes('containers') && !res.body.includes(' at '), 'no internals in the answer');
    const line = log.lines.find((l) => l.errorId === id);
    assert.ok(line);
    assert.equal(line.level, 'error');
    assert.match(String((line.err as { message: string }).message), /reading 'containers'/);
    const exposed = await metrics.registry.metrics();
    assert.match(exposed, /^dap_secret_webhook_admission_requests_total\{outcome="error"\} 1$/m);
  });
});
