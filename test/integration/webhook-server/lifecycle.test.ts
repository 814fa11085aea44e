/**
 * The server as a process (`dap-secret-webhook serve` through webhook/cli.ts): invalid config
 * exits non-zero before listening with one line per problem; SIGTERM drains in-flight requests
 * and exits 0; a port that is taken is a clear start-up error.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { request as httpsRequest } from 'node:https';
import { createServer, connect as tcpConnect } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCertBundle } from '../../../webhook/certs.js';
import { admissionReview, flytePod, freePort, getHealth, secret, testEnv, waitFor } from './support.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startServe(env: Record<string, string>): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'webhook/cli.ts', 'serve'], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exit = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  return { child, stdout: () => out, stderr: () => err, exit };
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
    for (const v of vars) assert.equal(lines.filter((l) => l.includes(v)).length, 1, `one line names ${v}:\n${run.stderr()}`);
    assert.equal(run.stdout(), '', 'nothing started, nothing logged');
  });

  it('on SIGTERM: not ready, no new connections, the in-flight request completes, exit 0', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'dap-webhook-lifecycle-'));
    const tls = await generateCertBundle({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    await writeFile(join(dir, 'tls.crt'), tls.certPem);
    await writeFile(join(dir, 'tls.key'), tls.keyPem);
    const env = await testEnv({ HEALTH_PORT: String(await freePort()), TLS_SERVER_CERT_FILE: join(dir, 'tls.crt'), TLS_SERVER_KEY_FILE: join(dir, 'tls.key') });
    run = startServe(env);
    const r = run;
    const health = Number(env.HEALTH_PORT);
    await waitFor('/readyz 200', async () => ((await getHealth(health, '/readyz')).status === 200 ? true : undefined), 30_000);

    // A request whose headers the server has seen (100 Continue proves it) and whose body is still coming.
    const body = Buffer.from(JSON.stringify(admissionReview(flytePod({ secrets: [secret({ group: 'g', key: 'k', mountRequirement: 'FILE' })] }), { uid: 'in-flight' })));
    const req = httpsRequest({
      host: '127.0.0.1',
      port: Number(env.WEBHOOK_PORT),
      path: '/mutate',
      method: 'POST',
      ca: tls.caCertPem,
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': String(body.length), expect: '100-continue' },
    });
    const response = new Promise<{ status: number; connection: string | undefined; text: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, text }));
      });
      req.on('error', reject);
    });
    await once(req, 'continue');
    req.write(body.subarray(0, 100));

    r.child.kill('SIGTERM');
    await waitFor('/readyz to turn 503', async () => {
      const res = await getHealth(health, '/readyz');
      return res.status === 503 && res.body.includes('shutting down') ? true : undefined;
    });
    await waitFor('new HTTPS connections to be refused', () => connectRefused(Number(env.WEBHOOK_PORT)));
    assert.equal(r.child.exitCode, null, 'still running while a request is in flight');

    req.end(body.subarray(100));
    const res = await response;
    assert.equal(res.status, 200);
    assert.equal(res.connection, 'close');
    assert.equal((JSON.parse(res.text) as { response: { uid: string } }).response.uid, 'in-flight');

    const { code } = await r.exit;
    assert.equal(code, 0);
    const msgs = r.stdout().trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg);
    assert.ok(msgs.includes('received signal') && msgs.at(-1) === 'stopped', msgs.join(' | '));
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
