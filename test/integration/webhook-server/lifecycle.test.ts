/**
 * The server as a process (`dap-secret-webhook serve` through webhook/cli.ts): invalid config
 * exits non-zero before listening with one line per problem; SIGTERM turns /readyz 503, keeps
 * serving for the drain delay (the API server still sends requests until the endpoints drop the
 * pod), then refuses new connections, finishes in-flight requests and exits 0; a port that is
 * taken is a clear start-up error.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCertBundle } from '../../../webhook/certs.js';
import {
  admissionReview,
  flytePod,
  freePort,
  getHealth,
  PROTOCOLS,
  post,
  secret,
  testEnv,
  waitFor,
} from './support.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const CLI_SERVE = ['webhook/cli.ts', 'serve'];

function startServe(env: Record<string, string>, program: string[] = CLI_SERVE): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', ...program], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exit = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** A serving certificate in a fresh directory, and the env that points serve at it. */
async function withCertificate(): Promise<{ dir: string; ca: string; env: Record<string, string> }> {
  const dir = await mkdtemp(join(tmpdir(), 'dap-webhook-lifecycle-'));
  const tls = await generateCertBundle({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  await writeFile(join(dir, 'tls.crt'), tls.certPem);
  await writeFile(join(dir, 'tls.key'), tls.keyPem);
  const env = await testEnv({
    HEALTH_PORT: String(await freePort()),
    TLS_SERVER_CERT_FILE: join(dir, 'tls.crt'),
    TLS_SERVER_KEY_FILE: join(dir, 'tls.key'),
  });
  return { dir, ca: tls.caCertPem, env };
}

interface LogLine {
  msg: string;
  pod?: string;
}

function logLines(run: Run): LogLine[] {
  return run
    .stdout()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as LogLine);
}

describe('webhook server: process lifecycle', function () {
  this.timeout(60_000);
  let run: Run | undefined;

  afterEach(async function () {
    if (run && run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill('SIGKILL');
      await run.exit;
    }
    run = undefined;
  });

  it('exits non-zero before listening, with one line per configuration problem', async function () {
    const healthPort = await freePort();
    run = startServe({
      MLP_API_HOST: 'not a url',
      WEBHOOK_PORT: 'https',
      HEALTH_PORT: String(healthPort),
      TLS_SERVER_CERT_FILE: '/etc/tls/tls.crt',
      WEBHOOK_FAILURE_POLICY: 'Sometimes',
    });
    const { code } = await run.exit;
    assert.equal(code, 2);
    // One line per problem, each naming its variable (the wording is config.ts's business).
    const lines = run.stderr().trimEnd().split('\n');
    const vars = ['FETCHER_IMAGE', 'MLP_API_HOST', 'WEBHOOK_FAILURE_POLICY', 'WEBHOOK_PORT', 'TLS_SERVER_CERT_FILE'];
    assert.equal(lines.length, vars.length, run.stderr());
    for (const line of lines) assert.match(line, /^dap-secret-webhook: invalid configuration: \S/);
    for (const v of vars)
      assert.equal(lines.filter((l) => l.includes(v)).length, 1, `one line names ${v}:\n${run.stderr()}`);
    assert.equal(run.stdout(), '', 'nothing started, nothing logged');
  });

  it('on SIGTERM: not ready, and once the default drain delay is over no new connections; the in-flight request completes, exit 0', async function () {
    const { dir, ca, env } = await withCertificate();
    run = startServe(env);
    const r = run;
    const health = Number(env.HEALTH_PORT);
    await waitFor(
      '/readyz 200',
      async () => ((await getHealth(health, '/readyz')).status === 200 ? true : undefined),
      30_000,
    );

    // A request whose headers the server has seen (100 Continue proves it) and whose body is still coming.
    const body = Buffer.from(
      JSON.stringify(
        admissionReview(flytePod({ secrets: [secret({ group: 'g', key: 'k', mountRequirement: 'FILE' })] }), {
          uid: 'in-flight',
        }),
      ),
    );
    const req = httpsRequest({
      host: '127.0.0.1',
      port: Number(env.WEBHOOK_PORT),
      path: '/mutate',
      method: 'POST',
      ca,
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': String(body.length), expect: '100-continue' },
    });
    const response = new Promise<{ status: number; connection: string | undefined; text: string }>(
      (resolve, reject) => {
        req.on('response', (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, text }));
        });
        req.on('error', reject);
      },
    );
    await once(req, 'continue');
    req.write(body.subarray(0, 100));

    r.child.kill('SIGTERM');
    await waitFor('/readyz to turn 503', async () => {
      const res = await getHealth(health, '/readyz');
      return res.status === 503 && res.body.includes('shutting down') ? true : undefined;
    });
    // The drain delay (5 s by default from the CLI) ends by itself; then the port closes.
    await waitFor('new HTTPS connections to be refused', () => connectRefused(Number(env.WEBHOOK_PORT)), 30_000);
    assert.equal(r.child.exitCode, null, 'still running while a request is in flight');

    req.end(body.subarray(100));
    const res = await response;
    assert.equal(res.status, 200);
    assert.equal(res.connection, 'close');
    assert.equal((JSON.parse(res.text) as { response: { uid: string } }).response.uid, 'in-flight');

    const { code } = await r.exit;
    assert.equal(code, 0);
    const msgs = logLines(r).map((l) => l.msg);
    // The in-flight request's own line may land after 'stopped' (seen once under heavy load; the
    // order of those two lines is not what this test is about): the shutdown sequence must end
    // with 'stopped', and the in-flight request must have been logged.
    const lifecycle = msgs.filter((m) => m !== 'admission');
    assert.ok(msgs.includes('received signal') && lifecycle.at(-1) === 'stopped', msgs.join(' | '));
    assert.ok(msgs.includes('admission'), `the in-flight request is logged: ${msgs.join(' | ')}`);
    assert.ok(
      msgs.some((m) => m.startsWith('shutting down: not ready; still serving')),
      'the CLI drains by default',
    );
    await rm(dir, { recursive: true, force: true });
  });

  it('during the drain delay: /readyz is 503 and requests sent after SIGTERM still succeed (HTTP/1.1 and HTTP/2); then exit 0', async function () {
    const { dir, ca, env } = await withCertificate();
    // Long enough that no request can race its end: a second SIGTERM ends it when the test is done.
    run = startServe(env, [
      'test/integration/webhook-server/serve-process.ts',
      JSON.stringify({ drainDelayMs: 600_000 }),
    ]);
    const r = run;
    const health = Number(env.HEALTH_PORT);
    await waitFor(
      '/readyz 200',
      async () => ((await getHealth(health, '/readyz')).status === 200 ? true : undefined),
      30_000,
    );

    r.child.kill('SIGTERM');
    await waitFor('/readyz to turn 503', async () => {
      const res = await getHealth(health, '/readyz');
      return res.status === 503 && res.body.includes('shutting down') ? true : undefined;
    });
    for (const protocol of PROTOCOLS) {
      const uid = `after-sigterm-${protocol}`;
      const review = admissionReview(
        flytePod({ name: uid, secrets: [secret({ group: 'g', key: 'k', mountRequirement: 'FILE' })] }),
        { uid },
      );
      const res = await post(protocol, { port: Number(env.WEBHOOK_PORT), ca, body: JSON.stringify(review) });
      assert.equal(res.status, 200, `${protocol}: ${res.body}`);
      const response = (JSON.parse(res.body) as { response: { uid: string; allowed: boolean; patchType?: string } })
        .response;
      assert.deepEqual(
        { uid: response.uid, allowed: response.allowed, patchType: response.patchType },
        { uid, allowed: true, patchType: 'JSONPatch' },
        protocol,
      );
      if (protocol === 'http1')
        assert.equal(
          res.headers.connection,
          'close',
          'HTTP/1.1 clients are asked to reconnect (elsewhere, once the endpoints drop this pod)',
        );
    }
    assert.equal((await getHealth(health, '/readyz')).status, 503, 'still not ready');
    assert.equal(r.child.exitCode, null, 'still running: the drain delay is not over');

    r.child.kill('SIGTERM');
    const { code } = await r.exit;
    assert.equal(code, 0, r.stderr());
    const lines = logLines(r);
    const at = (pred: (l: LogLine) => boolean) => lines.findIndex(pred);
    const signalled = at((l) => l.msg === 'received signal');
    assert.ok(signalled >= 0);
    for (const protocol of PROTOCOLS)
      assert.ok(
        at((l) => l.msg === 'admission' && l.pod === `ml-team/after-sigterm-${protocol}`) > signalled,
        `the ${protocol} admission was served after SIGTERM`,
      );
    assert.ok(at((l) => l.msg === 'second signal: ending the drain delay now') > signalled);
    assert.equal(lines.at(-1)?.msg, 'stopped');
    await rm(dir, { recursive: true, force: true });
  });

  it('fails to start with a clear message when the HTTPS port is taken', async function () {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    try {
      const port = (blocker.address() as { port: number }).port;
      run = startServe(await testEnv({ WEBHOOK_PORT: String(port) }));
      const { code } = await run.exit;
      assert.equal(code, 1);
      assert.match(run.stderr(), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} for HTTPS: .*EADDRINUSE`));
      assert.ok(!/\n\s+at /.test(run.stderr()), 'no stack trace');
    } finally {
      blocker.close();
    }
  });
});

function connectRefused(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED' ? true : undefined));
  });
}
