/**
 * The plain-HTTP side port: liveness, readiness and its explicit reasons for registration
 * being disabled or skipped (no cluster: `npm start` on a laptop), and shutdown turning /readyz
 * to 503. Waiting for a registration that has not happened yet is in registration.test.ts.
 */
import assert from 'node:assert/strict';
import { getHealth, startTestServer, type TestServer } from './support.js';

describe('webhook server: health port', function () {
  let server: TestServer | undefined;
  afterEach(async function () {
    await server?.stop();
    server = undefined;
  });

  it('is ready with registration disabled (WEBHOOK_REGISTER=false), without asking any cluster', async function () {
    // A KUBECONFIG that does not exist would be reported if it were read.
    server = await startTestServer({ WEBHOOK_REGISTER: 'false', KUBECONFIG: '/nonexistent/kubeconfig' });
    const port = server.running.healthPort;
    assert.deepEqual(await getHealth(port, '/healthz'), { status: 200, body: 'ok\n' });
    assert.deepEqual(await getHealth(port, '/readyz'), { status: 200, body: 'ready (registration: disabled)\n' });
    assert.ok(server.log.lines.some((l) => String(l.msg).startsWith('WEBHOOK_REGISTER=false: not registering')));
    assert.ok(!server.log.text().includes('/nonexistent/kubeconfig'));
  });

  it('is ready, and says why, when no cluster is reachable (no KUBECONFIG, no ~/.kube/config, not a pod)', async function () {
    server = await startTestServer();
    assert.deepEqual(await getHealth(server.running.healthPort, '/readyz'), {
      status: 200,
      body: 'ready (registration: skipped)\n',
    });
    const line = server.log.lines.find((l) =>
      String(l.msg).startsWith('no Kubernetes cluster reachable: registration skipped'),
    );
    assert.ok(line, server.log.text());
    assert.equal(line.level, 'warn');
    assert.match(String(line.why), /KUBECONFIG is not set.*no ~\/\.kube\/config.*not a pod/);
  });

  it('names the KUBECONFIG that points nowhere', async function () {
    server = await startTestServer({ KUBECONFIG: '/nonexistent/kubeconfig' });
    assert.equal((await getHealth(server.running.healthPort, '/readyz')).status, 200);
    const line = server.log.lines.find((l) => String(l.msg).startsWith('no Kubernetes cluster reachable'));
    assert.equal(line?.why, 'KUBECONFIG=/nonexistent/kubeconfig names no existing file');
  });

  it('turns /readyz to 503 as soon as shutdown begins', async function () {
    server = await startTestServer();
    const { running } = server;
    assert.equal((await getHealth(running.healthPort, '/readyz')).status, 200);
    running.readiness.shuttingDown = true; // what stop() does first; stop() then closes this port too
    assert.deepEqual(await getHealth(running.healthPort, '/readyz'), {
      status: 503,
      body: 'not ready: shutting down\n',
    });
  });

  it('answers other paths with 404, and serves metrics in Prometheus text format', async function () {
    server = await startTestServer();
    const port = server.running.healthPort;
    assert.equal((await getHealth(port, '/nope')).status, 404);
    const metrics = await getHealth(port, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^# HELP dap_secret_webhook_/m);
    for (const name of [
      'admission_requests_total',
      'admission_duration_seconds',
      'injected_secrets_total',
      'denials_total',
      'registration_attempts_total',
      'certificate_reloads_total',
    ]) {
      assert.match(metrics.body, new RegExp(`^# TYPE dap_secret_webhook_${name} (counter|histogram)$`, 'm'));
    }
  });
});
