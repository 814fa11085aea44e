/**
 * The built executable (dist/dap-secret-fetcher) as a child process, with no Node on PATH,
 * against real HTTP peers: MLP behind its gateway, an oidc-provider token exchange, the GKE
 * metadata server, and a Kubernetes Secrets API. Each test is one pod's init container run.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { lstat, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createCertificateAuthority } from '../../support/k8s/pki.js';
import {
  describeRun,
  EXCHANGE_CLIENT,
  EXCHANGE_SUBJECT_AUDIENCE,
  EXECUTABLE,
  ensureExecutable,
  GOOGLE_SA_EMAIL,
  makePod,
  type Pod,
  podEnv,
  type RunResult,
  runFetcher,
  startWorld,
  type World,
} from './world.js';

const EXIT = { ok: 0, failed: 1, config: 2, deadline: 3 };

describe('dap-secret-fetcher (built executable)', function () {
  this.timeout(60_000);
  let world: World;

  before(async function () {
    this.timeout(240_000);
    ensureExecutable();
    world = await startWorld();
  });

  after(async function () {
    await world?.close();
  });

  afterEach(function () {
    world.mlp.faults.clear();
  });

  /** A pod whose namespace is an MLP project it may read, holding `secrets`. */
  async function readablePod(
    secrets: Record<string, string>,
    options: Parameters<typeof makePod>[1] = {},
  ): Promise<Pod> {
    const pod = await makePod(world, options);
    world.mlp.data.addProject({ name: pod.namespace, readers: [pod.identity], secrets });
    return pod;
  }

  /** The fetcher's env for token-exchange at the test issuer (its CA trusted). */
  function tokenExchange(): Record<string, string> {
    return {
      MLP_AUTH_MODE: 'token-exchange',
      MLP_TOKEN_EXCHANGE_ISSUER: world.oidc.issuer,
      NODE_EXTRA_CA_CERTS: world.caFile,
    };
  }

  function secretCalls(pod: Pod): number {
    const id = world.mlp.data.projects.find((p) => p.name === pod.namespace)?.id;
    return world.mlp.faults.requests.filter((r) => r.path === `/v1/projects/${id}/secrets`).length;
  }

  function assertFailed(run: RunResult, code: number, ...patterns: RegExp[]): void {
    assert.equal(run.code, code, describeRun(run));
    const report = run.stderr.trim();
    assert.ok(report.length > 0, 'a report on stderr');
    assert.equal(report.split('\n').length, 1, 'the report is one paragraph');
    assert.equal(run.termination, report, 'the termination message is the stderr report');
    for (const p of patterns) assert.match(report, p);
  }

  async function mode(path: string): Promise<number> {
    return (await stat(path)).mode & 0o777;
  }

  describe('delivers secrets', function () {
    it("FILE only: writes each file with the plan's modes, with one secrets list call for three secrets", async function () {
      const pod = await readablePod({
        'db-password': 'pw-7f3a9c',
        'api-token': 'tok-51de0b',
        other: 'unused-value',
        cert: 'line1\nline2\n',
      });
      const run = await runFetcher(
        podEnv(world, pod, {
          project: pod.namespace,
          files: [
            ['db-password', 'db/password'],
            ['api-token', 'api/token'],
            ['cert', 'tls/v2/cert.pem'],
          ],
          fileMode: 0o440,
          dirMode: 0o750,
        }),
      );
      assert.equal(run.code, EXIT.ok, describeRun(run));
      assert.equal(await readFile(join(pod.volume, 'db/password'), 'utf8'), 'pw-7f3a9c');
      assert.equal(await readFile(join(pod.volume, 'api/token'), 'utf8'), 'tok-51de0b');
      assert.equal(await readFile(join(pod.volume, 'tls/v2/cert.pem'), 'utf8'), 'line1\nline2\n');
      assert.equal(await mode(join(pod.volume, 'db/password')), 0o440);
      assert.equal(await mode(join(pod.volume, 'tls/v2')), 0o750);
      assert.equal(await mode(join(pod.volume, 'tls')), 0o750);
      assert.deepEqual((await readdir(join(pod.volume, 'db'))).sort(), ['password'], 'no temp files left behind');
      assert.equal(secretCalls(pod), 1);
      assert.equal(run.termination, '', 'no termination message on success');
      const msgs = run.logs.map((l) => l.msg);
      assert.deepEqual([msgs[0], msgs.at(-1)], ['start', 'done']);
      const calls = run.logs.filter((l) => l.msg === 'http call');
      assert.deepEqual(
        calls.map((c) => [c.operation, c.status]),
        [
          ['list projects', 200],
          ['list secrets', 200],
        ],
      );
      for (const c of calls) assert.equal(typeof c.durationMs, 'number');
    });

    it('a log reader that is gone (stdout closed: EPIPE) neither kills the run nor changes its exit code', async function () {
      const pod = await readablePod({ 'db-password': 'pw-7f3a9c' });
      const env = podEnv(world, pod, { project: pod.namespace, files: [['db-password', 'db/password']] });
      const child = spawn(EXECUTABLE, [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.destroy(); // every JSON log line now meets a closed pipe
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const [code] = (await once(child, 'close')) as [number | null];
      assert.equal(code, EXIT.ok, stderr);
      assert.doesNotMatch(stderr, /EPIPE|Unhandled/);
      assert.equal(await readFile(join(pod.volume, 'db/password'), 'utf8'), 'pw-7f3a9c');
    });

    it('ENV_VAR only: creates the immutable per-pod Secret owned by the pod', async function () {
      const pod = await readablePod({ api_token: 'tok-env-0a1b2c', 'api-key': 'key-env-3d4e5f' });
      const run = await runFetcher(
        podEnv(world, pod, {
          project: pod.namespace,
          secret: {
            name: `${pod.name}-flyte-secrets`,
            keys: [
              ['api_token', 'api_token'],
              ['api-key', 'api-key'],
            ],
          },
        }),
      );
      assert.equal(run.code, EXIT.ok, describeRun(run));
      const stored = world.kube.secrets.get(`${pod.namespace}/${pod.name}-flyte-secrets`);
      assert.ok(stored, 'the Secret was created');
      const { body } = stored;
      assert.equal(body.type, 'Opaque');
      assert.equal(body.immutable, true);
      assert.deepEqual(body.metadata.ownerReferences, [
        { apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid, controller: false, blockOwnerDeletion: false },
      ]);
      assert.deepEqual(body.metadata.labels, {
        'app.kubernetes.io/managed-by': 'dap-secret-webhook',
        'dap-secret-webhook/pod': pod.name,
      });
      assert.deepEqual(
        Object.fromEntries(
          Object.entries(body.data as Record<string, string>).map(([k, v]) => [
            k,
            Buffer.from(v, 'base64').toString('utf8'),
          ]),
        ),
        { api_token: 'tok-env-0a1b2c', 'api-key': 'key-env-3d4e5f' },
      );
      assert.deepEqual(await readdir(pod.volume), [], 'no files for an ENV_VAR-only plan');
    });

    it('mixed FILE and ENV_VAR, one MLP secret used both ways', async function () {
      const pod = await readablePod({ password: 'mixed-pw-99', api_token: 'mixed-tok-88' });
      const run = await runFetcher(
        podEnv(world, pod, {
          project: pod.namespace,
          files: [['password', 'db-creds/password']],
          secret: {
            name: 'mixed-secret',
            keys: [
              ['api_token', 'api_token'],
              ['password', 'password'],
            ],
          },
        }),
      );
      assert.equal(run.code, EXIT.ok, describeRun(run));
      assert.equal(await readFile(join(pod.volume, 'db-creds/password'), 'utf8'), 'mixed-pw-99');
      const data = world.kube.secrets.get(`${pod.namespace}/mixed-secret`)?.body.data;
      assert.deepEqual(Object.keys(data).sort(), ['api_token', 'password']);
      assert.equal(secretCalls(pod), 1);
    });

    it('a restarted init container finds its Secret already there and succeeds (409 AlreadyExists)', async function () {
      const pod = await readablePod({ k: 'restart-value-1' });
      const env = podEnv(world, pod, {
        project: pod.namespace,
        files: [['k', 'k']],
        secret: { name: 'restart-secret', keys: [['k', 'k']] },
      });
      const first = await runFetcher(env);
      assert.equal(first.code, EXIT.ok, describeRun(first));
      const second = await runFetcher(env);
      assert.equal(second.code, EXIT.ok, describeRun(second));
      const creates = world.kube.requests.filter((r) => r.path === `/api/v1/namespaces/${pod.namespace}/secrets`);
      assert.deepEqual(
        creates.map((r) => r.status),
        [201, 409],
      );
      assert.ok(
        second.logs.some(
          (l) =>
            l.level === 'warn' &&
            String(l.msg).includes('found the pod secret already there') &&
            String(l.msg).includes('expected when the kubelet runs this init container again'),
        ),
      );
      assert.equal(await readFile(join(pod.volume, 'k'), 'utf8'), 'restart-value-1', 'files are rewritten in place');
    });

    it('picks the exact project although MLP matches by prefix (and `_` is a LIKE wildcard)', async function () {
      const pod = await makePod(world);
      // Created first, so MLP lists them before the real project.
      world.mlp.data.addProject({
        name: `${pod.namespace}-staging`,
        readers: [pod.identity],
        secrets: { s: 'wrong-project-value' },
      });
      world.mlp.data.addProject({
        name: pod.namespace.replace('-', '_'),
        readers: [pod.identity],
        secrets: { s: 'wrong-project-value' },
      });
      world.mlp.data.addProject({
        name: pod.namespace,
        readers: [pod.identity],
        secrets: { s: 'right-project-value' },
      });
      const run = await runFetcher(podEnv(world, pod, { project: pod.namespace, files: [['s', 's']] }));
      assert.equal(run.code, EXIT.ok, describeRun(run));
      assert.equal(await readFile(join(pod.volume, 's'), 'utf8'), 'right-project-value');
    });
  });

  describe('auth modes', function () {
    it("serviceaccount: MLP sees the pod's service account (sub of the projected token)", async function () {
      const pod = await readablePod({ s: 'sa-mode-value' });
      const run = await runFetcher(
        podEnv(world, pod, { project: pod.namespace, files: [['s', 's']] }, { MLP_AUTH_MODE: 'serviceaccount' }),
      );
      assert.equal(run.code, EXIT.ok, describeRun(run));
      const seen = world.mlp.decisions.filter((d) => d.outcome === 'forwarded').at(-1);
      assert.equal(seen?.identity, pod.identity);
    });

    it('token-exchange with client credentials: exchanges the projected token at the OIDC issuer', async function () {
      const pod = await makePod(world, { mlpTokenAudience: EXCHANGE_SUBJECT_AUDIENCE });
      const email = `${pod.serviceAccount}@${pod.namespace}.serviceaccounts.test`;
      world.mlp.data.addProject({ name: pod.namespace, readers: [email], secrets: { s: 'exchange-mode-value' } });
      const credentials = join(pod.dir, 'client-credentials.json');
      await writeFile(credentials, JSON.stringify(EXCHANGE_CLIENT));
      const before = world.oidc.exchanges.length;
      const run = await runFetcher(
        podEnv(
          world,
          pod,
          { project: pod.namespace, files: [['s', 's']] },
          {
            ...tokenExchange(),
            MLP_TOKEN_EXCHANGE_AUDIENCE: 'api.caraml',
            MLP_TOKEN_EXCHANGE_CLIENT_CREDENTIALS_FILE: credentials,
          },
        ),
      );
      assert.equal(run.code, EXIT.ok, describeRun(run));
      assert.equal(await readFile(join(pod.volume, 's'), 'utf8'), 'exchange-mode-value');
      const exchanges = world.oidc.exchanges.slice(before);
      assert.ok(exchanges.length >= 1);
      assert.deepEqual(exchanges[0], {
        clientId: EXCHANGE_CLIENT.client_id,
        subject: pod.identity,
        email,
        audience: 'api.caraml',
        scope: undefined,
      });
      assert.equal(world.mlp.decisions.filter((d) => d.outcome === 'forwarded').at(-1)?.identity, email);
    });

    it('token-exchange as a public client (no credentials file)', async function () {
      const pod = await makePod(world, { mlpTokenAudience: EXCHANGE_SUBJECT_AUDIENCE });
      const email = `${pod.serviceAccount}@${pod.namespace}.serviceaccounts.test`;
      world.mlp.data.addProject({ name: pod.namespace, readers: [email], secrets: { s: 'public-client-value' } });
      const run = await runFetcher(
        podEnv(world, pod, { project: pod.namespace, files: [['s', 's']] }, tokenExchange()),
      );
      assert.equal(run.code, EXIT.ok, describeRun(run));
      assert.equal(world.oidc.exchanges.at(-1)?.clientId, 'dap-secret-fetcher');
    });

    it('token-exchange: the issuer refuses a subject token it does not trust, and the report names the issuer', async function () {
      const pod = await readablePod({ s: 'never-delivered-1' }); // token audience api.caraml, not the exchange's
      const run = await runFetcher(
        podEnv(world, pod, { project: pod.namespace, files: [['s', 's']] }, tokenExchange()),
      );
      assertFailed(
        run,
        EXIT.failed,
        /OIDC issuer https:\/\/127\.0\.0\.1:\d+\/ refused to exchange/,
        /invalid_grant/,
        /HTTP 400/,
      );
    });

    it("gcp-workload-identity: sends the metadata server's Google ID token; MLP sees the Google service account", async function () {
      const pod = await makePod(world);
      world.mlp.data.addProject({ name: pod.namespace, readers: [GOOGLE_SA_EMAIL], secrets: { s: 'gcp-mode-value' } });
      const run = await runFetcher(
        podEnv(
          world,
          pod,
          { project: pod.namespace, files: [['s', 's']] },
          { MLP_AUTH_MODE: 'gcp-workload-identity', GCE_METADATA_HOST: world.metadata.host },
        ),
      );
      assert.equal(run.code, EXIT.ok, describeRun(run));
      assert.equal(world.mlp.decisions.filter((d) => d.outcome === 'forwarded').at(-1)?.identity, GOOGLE_SA_EMAIL);
      assert.equal(world.metadata.issued.at(-1), 'api.caraml');
    });

    it('gcp-workload-identity: an unbound service account is a clear error', async function () {
      const pod = await readablePod({ s: 'never-delivered-2' });
      world.metadata.boundEmail = null;
      try {
        const run = await runFetcher(
          podEnv(
            world,
            pod,
            { project: pod.namespace, files: [['s', 's']] },
            { MLP_AUTH_MODE: 'gcp-workload-identity', GCE_METADATA_HOST: world.metadata.host },
          ),
        );
        assertFailed(
          run,
          EXIT.failed,
          /GKE metadata server refused an ID token/,
          /HTTP 404/,
          /iam\.gke\.io\/gcp-service-account/,
        );
      } finally {
        world.metadata.boundEmail = GOOGLE_SA_EMAIL;
      }
    });
  });

  describe('MLP refusals (no retry)', function () {
    it('reports every missing secret at once', async function () {
      const pod = await readablePod({ present: 'present-value' });
      const run = await runFetcher(
        podEnv(world, pod, {
          project: pod.namespace,
          files: [
            ['present', 'p'],
            ['missing-a', 'a'],
          ],
          secret: { name: 'x', keys: [['missing-b', 'b']] },
        }),
      );
      assertFailed(
        run,
        EXIT.failed,
        /secrets `missing-a`, `missing-b` not found in MLP project `team-\d+`/,
        /Create them in MLP project/,
      );
      assert.equal(secretCalls(pod), 1, 'one list, no retries');
      assert.deepEqual(await readdir(pod.volume), [], 'nothing written');
      assert.equal(world.kube.secrets.has(`${pod.namespace}/x`), false);
    });

    it('no project of that name (only a longer one matches the prefix)', async function () {
      const pod = await makePod(world);
      world.mlp.data.addProject({ name: `${pod.namespace}-other`, readers: [pod.identity], secrets: { s: 'v-other' } });
      const run = await runFetcher(podEnv(world, pod, { project: pod.namespace, files: [['s', 's']] }));
      assertFailed(run, EXIT.failed, new RegExp(`no MLP project named \`${pod.namespace}\``), /pod `team-\d+\/wf-/);
    });

    it('identity not a reader: names the identity and says to add it to the readers', async function () {
      const pod = await makePod(world);
      world.mlp.data.addProject({
        name: pod.namespace,
        readers: ['someone@example.com'],
        administrators: ['admin@example.com'],
        secrets: { s: 'denied-value' },
      });
      const run = await runFetcher(podEnv(world, pod, { project: pod.namespace, files: [['s', 's']] }));
      assertFailed(
        run,
        EXIT.failed,
        new RegExp(
          `MLP denied project \`${pod.namespace}\` to identity \`system:serviceaccount:${pod.namespace}:flyte-task\``,
        ),
        /HTTP 403/,
        new RegExp(`add \`system:serviceaccount:${pod.namespace}:flyte-task\` to the readers of MLP project`, 'i'),
        /secret `s`/,
      );
      assert.equal(secretCalls(pod), 1, 'a 403 is not retried');
    });

    it('a token the gateway does not trust (wrong audience) is a 401 naming the identity', async function () {
      const pod = await readablePod({ s: 'aud-value' }, { mlpTokenAudience: 'not-mlp' });
      const run = await runFetcher(podEnv(world, pod, { project: pod.namespace, files: [['s', 's']] }));
      assertFailed(run, EXIT.failed, /MLP denied project/, /HTTP 401/, /trusts this token's issuer and audience/);
    });
  });

  describe('transient failures and the deadline', function () {
    it('MLP answers 500 twice, then succeeds', async function () {
      const pod = await readablePod({ s: 'after-500-value' });
      world.mlp.faults.failNext(2, 500);
      const run = await runFetcher(podEnv(world, pod, { project: pod.namespace, files: [['s', 's']] }));
      assert.equal(run.code, EXIT.ok, describeRun(run));
      assert.deepEqual(
        world.mlp.faults.requests.slice(-4).map((r) => r.fault),
        ['failed', 'failed', null, null],
      );
      assert.equal(run.logs.filter((l) => l.msg === 'retrying').length, 2);
      assert.equal(await readFile(join(pod.volume, 's'), 'utf8'), 'after-500-value');
    });

    it('429 with Retry-After: waits at least that long before the next attempt', async function () {
      const pod = await readablePod({ s: 'after-429-value' });
      world.mlp.faults.rateLimitNext(1, '1');
      const run = await runFetcher(podEnv(world, pod, { project: pod.namespace, files: [['s', 's']] }));
      assert.equal(run.code, EXIT.ok, describeRun(run));
      const retry = run.logs.find((l) => l.msg === 'retrying');
      assert.equal(retry?.status, 429);
      assert.ok(Number(retry?.delayMs) >= 1000, `delay ${retry?.delayMs} honours Retry-After: 1`);
    });

    it('429 with an HTTP-date Retry-After past the deadline: gives up at once, saying why', async function () {
      const pod = await readablePod({ s: 'never-delivered-3' });
      world.mlp.faults.rateLimitNext(1, new Date(Date.now() + 10 * 60_000).toUTCString());
      const run = await runFetcher(
        podEnv(world, pod, { project: pod.namespace, files: [['s', 's']] }, { DAP_DEADLINE_SECONDS: '30' }),
      );
      assertFailed(
        run,
        EXIT.deadline,
        /asked to retry after \d+(\.\d)? s, past the 30 s deadline/,
        /rate-limiting/,
        /HTTP 429/,
      );
    });

    it('a reset connection is retried', async function () {
      const pod = await readablePod({ s: 'after-reset-value' });
      world.mlp.faults.resetNext(1);
      const run = await runFetcher(podEnv(world, pod, { project: pod.namespace, files: [['s', 's']] }));
      assert.equal(run.code, EXIT.ok, describeRun(run));
      assert.equal(world.mlp.faults.requests.filter((r) => r.fault === 'reset').length >= 1, true);
      assert.ok(run.logs.some((l) => l.msg === 'http call failed'));
    });

    it('MLP that never answers: exits when the deadline passes, with exit code 3', async function () {
      const pod = await readablePod({ s: 'never-delivered-4' });
      world.mlp.faults.latencyMs = 10 * 60_000;
      const run = await runFetcher(
        podEnv(world, pod, { project: pod.namespace, files: [['s', 's']] }, { DAP_DEADLINE_SECONDS: '1.5' }),
      );
      assertFailed(run, EXIT.deadline, /1\.5 s deadline/, /could not reach MLP/, /DAP_DEADLINE_SECONDS/);
    });

    it('MLP failing with 503 until the deadline: gives up naming the status', async function () {
      const pod = await readablePod({ s: 'never-delivered-5' });
      world.mlp.faults.failNext(1000, 503);
      const run = await runFetcher(
        podEnv(world, pod, { project: pod.namespace, files: [['s', 's']] }, { DAP_DEADLINE_SECONDS: '2' }),
      );
      assertFailed(run, EXIT.deadline, /gave up/, /MLP failed to list projects/, /HTTP 503/);
    });
  });

  describe('MLP over HTTPS under a path prefix (node:http client)', function () {
    // An HTTPS reverse proxy at /mlp/ in front of the MLP gateway, with a certificate from a CA
    // only NODE_EXTRA_CA_CERTS names; it gzips answers when asked and can cut a secrets list off.
    let proxy: HttpsServer;
    let proxyUrl: string;
    let proxyCaFile: string;
    let cutNextList = false;
    const seen: { url: string; acceptEncoding: string | undefined }[] = [];

    before(async function () {
      const ca = await createCertificateAuthority('fetcher https MLP test CA');
      proxyCaFile = join(world.dir, 'proxy-ca.crt');
      await writeFile(proxyCaFile, ca.certPem);
      const tls = await ca.issueServer('127.0.0.1', ['127.0.0.1']);
      const upstream = new URL(world.mlp.url);
      proxy = createHttpsServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
        const url = req.url ?? '/';
        seen.push({ url, acceptEncoding: req.headers['accept-encoding'] });
        if (!url.startsWith('/mlp/')) {
          res.writeHead(404).end('404 page not found');
          return;
        }
        const { 'accept-encoding': _encoding, host: _host, ...headers } = req.headers;
        const forward = httpRequest(
          new URL(url.slice('/mlp'.length), upstream),
          { method: req.method, headers },
          (answer) => {
            const chunks: Buffer[] = [];
            answer.on('data', (c: Buffer) => chunks.push(c));
            answer.on('end', () => {
              const body = Buffer.concat(chunks);
              if (cutNextList && url.endsWith('/secrets')) {
                cutNextList = false;
                res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(body.length) });
                res.write(body.subarray(0, body.length >> 1), () => res.socket?.destroy());
                return;
              }
              const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding']));
              res.writeHead(answer.statusCode ?? 502, {
                'content-type': answer.headers['content-type'] ?? 'application/json',
                ...(gzip ? { 'content-encoding': 'gzip' } : {}),
              });
              res.end(gzip ? gzipSync(body) : body);
            });
          },
        );
        forward.on('error', () => res.destroy());
        req.pipe(forward);
      });
      proxy.listen(0, '127.0.0.1');
      await once(proxy, 'listening');
      proxyUrl = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}/mlp`;
    });

    after(async function () {
      proxy?.closeAllConnections();
      proxy?.close();
    });

    function httpsEnv(pod: Pod, extra: Record<string, string> = {}): Record<string, string> {
      return podEnv(
        world,
        pod,
        { project: pod.namespace, files: [['s', 's']] },
        { MLP_API_HOST: proxyUrl, NODE_EXTRA_CA_CERTS: proxyCaFile, ...extra },
      );
    }

    it('keeps the prefix, trusts the NODE_EXTRA_CA_CERTS CA and reads gzipped answers', async function () {
      const pod = await readablePod({ s: 'https-prefix-value' });
      const from = seen.length;
      const run = await runFetcher(httpsEnv(pod));
      assert.equal(run.code, EXIT.ok, describeRun(run));
      assert.equal(await readFile(join(pod.volume, 's'), 'utf8'), 'https-prefix-value');
      const id = world.mlp.data.projects.find((p) => p.name === pod.namespace)?.id;
      assert.deepEqual(seen.slice(from), [
        { url: `/mlp/v1/projects?name=${pod.namespace}`, acceptEncoding: 'gzip' },
        { url: `/mlp/v1/projects/${id}/secrets`, acceptEncoding: 'gzip' },
      ]);
    });

    it('retries a secrets list that breaks off mid-body', async function () {
      const pod = await readablePod({ s: 'after-cut-value', other: 'x'.repeat(4096) });
      cutNextList = true;
      const run = await runFetcher(httpsEnv(pod));
      assert.equal(run.code, EXIT.ok, describeRun(run));
      assert.equal(cutNextList, false, 'the proxy cut one list off');
      assert.equal(secretCalls(pod), 2);
      const retry = run.logs.find((l) => l.msg === 'retrying');
      assert.match(
        String(retry?.reason),
        /could not read the answer of MLP at https:\/\/127\.0\.0\.1:\d+ to list secrets \(ECONNRESET\)/,
      );
      assert.equal(await readFile(join(pod.volume, 's'), 'utf8'), 'after-cut-value');
    });

    it('refuses a certificate from a CA it was not given, sending nothing and not retrying', async function () {
      const pod = await readablePod({ s: 'never-delivered-https' });
      const from = seen.length;
      // A whole deadline to retry in: exit 1 (not 3, the deadline's) shows it did not.
      const { NODE_EXTRA_CA_CERTS: _ca, ...env } = httpsEnv(pod, { DAP_DEADLINE_SECONDS: '60' });
      const run = await runFetcher(env);
      assertFailed(
        run,
        EXIT.failed,
        /MLP at https:\/\/127\.0\.0\.1:\d+ presented a TLS certificate the fetcher does not accept \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\), so it did not send the request to list projects/,
        /FETCHER_CA_CONFIGMAP, Helm fetcher\.caBundle/,
      );
      assert.equal(run.logs.filter((l) => l.msg === 'http call failed').length, 1, 'one attempt');
      assert.equal(seen.length, from, 'no request reached the proxy');
    });
  });

  describe('local failures', function () {
    it('token file missing: names MLP_TOKEN_FILE and the path', async function () {
      const pod = await readablePod({ s: 'never-delivered-6' });
      const missing = join(pod.dir, 'no-such-token');
      const run = await runFetcher(
        podEnv(world, pod, { project: pod.namespace, files: [['s', 's']] }, { MLP_TOKEN_FILE: missing }),
      );
      assertFailed(run, EXIT.failed, new RegExp(`token file ${missing} \\(MLP_TOKEN_FILE\\) does not exist`));
      assert.equal(
        world.mlp.faults.requests.filter((r) => r.path.includes(pod.namespace)).length,
        0,
        'MLP was not called',
      );
    });

    it('configuration problems are all named at once, exit code 2', async function () {
      const pod = await makePod(world);
      const env = podEnv(
        world,
        pod,
        { project: pod.namespace, files: [['s', 's']] },
        { MLP_AUTH_MODE: 'kerberos', DAP_DEADLINE_SECONDS: '-1' },
      );
      delete (env as Record<string, string | undefined>).POD_UID;
      const run = await runFetcher(env);
      assertFailed(
        run,
        EXIT.config,
        /POD_UID is not set/,
        /MLP_AUTH_MODE="kerberos" is not an auth mode/,
        /DAP_DEADLINE_SECONDS="-1"/,
      );
    });

    for (const [label, path] of [
      ['`..` escape', '../escaped'],
      ['absolute path', '/tmp/absolute'],
      ['very long name', `g/${'k'.repeat(300)}`],
    ] as const) {
      it(`hostile path (${label}) in the plan is refused before anything is fetched`, async function () {
        const pod = await readablePod({ s: 'never-delivered-7' });
        const run = await runFetcher(podEnv(world, pod, { project: pod.namespace, files: [['s', path]] }));
        assertFailed(run, EXIT.config, /must stay inside the volume/);
        assert.deepEqual(await readdir(pod.volume), []);
        assert.deepEqual((await readdir(pod.dir)).sort(), ['kube-token', 'mlp-token', 'termination-log', 'volume']);
      });
    }

    it('a symbolic link inside the volume is not followed', async function () {
      const pod = await readablePod({ s: 'never-delivered-8' });
      const outside = join(pod.dir, 'outside');
      await mkdir(outside);
      await symlink(outside, join(pod.volume, 'group'));
      const run = await runFetcher(podEnv(world, pod, { project: pod.namespace, files: [['s', 'group/key']] }));
      assertFailed(
        run,
        EXIT.failed,
        /refused to write secret file `group\/key`/,
        /`group`, which is a symbolic link/,
        /secret `s`/,
      );
      assert.deepEqual(await readdir(outside), [], 'nothing written through the link');
      assert.ok((await lstat(join(pod.volume, 'group'))).isSymbolicLink());
    });

    it('a long but valid name (255 bytes) and a long pod name work; the pod label is shortened', async function () {
      const longPodName = `${'p'.repeat(70)}.${'q'.repeat(40)}`;
      const pod = await readablePod({ s: 'long-name-value' }, { name: longPodName });
      const name = 'k'.repeat(255);
      const run = await runFetcher(
        podEnv(world, pod, {
          project: pod.namespace,
          files: [['s', `g/${name}`]],
          secret: { name: 'long-pod-secret', keys: [['s', 's']] },
        }),
      );
      assert.equal(run.code, EXIT.ok, describeRun(run));
      assert.equal(await readFile(join(pod.volume, 'g', name), 'utf8'), 'long-name-value');
      const label = world.kube.secrets.get(`${pod.namespace}/long-pod-secret`)?.body.metadata.labels[
        'dap-secret-webhook/pod'
      ];
      assert.ok(label.length <= 63 && label.startsWith('ppp'), label);
    });

    it('oversized env-var data: a clear error before anything is written or created', async function () {
      const pod = await readablePod({
        big: 'x'.repeat(700 * 1024),
        big2: 'y'.repeat(400 * 1024),
        small: 'small-value',
      });
      const run = await runFetcher(
        podEnv(world, pod, {
          project: pod.namespace,
          files: [['small', 'small']],
          secret: {
            name: 'too-big',
            keys: [
              ['big', 'big'],
              ['big2', 'big2'],
            ],
          },
        }),
      );
      assertFailed(
        run,
        EXIT.failed,
        /add up to 1126400 bytes/,
        /over the 1048576-byte limit/,
        /`big` 716800 bytes/,
        /as files \(mount_requirement FILE\)/,
      );
      assert.equal(
        world.kube.requests.filter((r) => r.path.includes(pod.namespace)).length,
        0,
        'the API was not called',
      );
      assert.deepEqual(await readdir(pod.volume), [], 'no files written');
    });

    it('Kubernetes forbids creating the Secret: says which permission is missing', async function () {
      const pod = await readablePod({ s: 'forbidden-value' });
      world.kube.forbiddenNamespaces.add(pod.namespace);
      const run = await runFetcher(
        podEnv(world, pod, { project: pod.namespace, secret: { name: 'forbidden', keys: [['s', 's']] } }),
      );
      assertFailed(
        run,
        EXIT.failed,
        /Kubernetes denied creating Secret `team-\d+\/forbidden`/,
        /HTTP 403/,
        /"create" on "secrets"/,
      );
    });
  });

  describe('no leaks', function () {
    it('no secret value, token or client secret appears in stdout, stderr or the termination message', async function () {
      const values = {
        alpha: 'leak-check-alpha-7c1e2d9f',
        beta: 'leak-check-beta-{"json":"quoted"}',
        gamma: 'leak-check-gamma\nsecond line',
        delta: 'leak-check-delta-ünïcødé',
      };
      const runs: RunResult[] = [];
      const sensitive: string[] = [...Object.values(values), EXCHANGE_CLIENT.client_secret, world.kubeToken];

      // Success in every mode, through files and the Secret.
      const plan = (pod: Pod) => ({
        project: pod.namespace,
        files: [
          ['alpha', 'a/alpha'],
          ['gamma', 'g/gamma'],
        ] as [string, string][],
        secret: {
          name: 'leak-check',
          keys: [
            ['beta', 'beta'],
            ['delta', 'delta'],
          ] as [string, string][],
        },
      });
      const saPod = await readablePod(values);
      sensitive.push((await readFile(saPod.mlpTokenFile, 'utf8')).trim());
      runs.push(await runFetcher(podEnv(world, saPod, plan(saPod))));

      const exPod = await makePod(world, { mlpTokenAudience: EXCHANGE_SUBJECT_AUDIENCE });
      world.mlp.data.addProject({
        name: exPod.namespace,
        readers: [`flyte-task@${exPod.namespace}.serviceaccounts.test`],
        secrets: values,
      });
      sensitive.push((await readFile(exPod.mlpTokenFile, 'utf8')).trim());
      const credentials = join(exPod.dir, 'client-credentials.json');
      await writeFile(credentials, JSON.stringify(EXCHANGE_CLIENT));
      const exchangeEnv = { ...tokenExchange(), MLP_TOKEN_EXCHANGE_CLIENT_CREDENTIALS_FILE: credentials };
      runs.push(await runFetcher(podEnv(world, exPod, plan(exPod), exchangeEnv)));

      const gcpPod = await makePod(world);
      world.mlp.data.addProject({ name: gcpPod.namespace, readers: [GOOGLE_SA_EMAIL], secrets: values });
      runs.push(
        await runFetcher(
          podEnv(world, gcpPod, plan(gcpPod), {
            MLP_AUTH_MODE: 'gcp-workload-identity',
            GCE_METADATA_HOST: world.metadata.host,
          }),
        ),
      );
      for (const run of runs) assert.equal(run.code, EXIT.ok, describeRun(run));

      // Failures after values were fetched or tokens obtained: missing secret, oversized, forbidden, 5xx exhaustion, Secret exists.
      const failPod = await readablePod({ ...values, huge: `${values.alpha}${'z'.repeat(1024 * 1024)}` });
      sensitive.push((await readFile(failPod.mlpTokenFile, 'utf8')).trim());
      runs.push(
        await runFetcher(
          podEnv(world, failPod, {
            project: failPod.namespace,
            files: [['alpha', 'a']],
            secret: { name: 'big', keys: [['huge', 'huge']] },
          }),
        ),
      );
      runs.push(
        await runFetcher(
          podEnv(world, failPod, {
            project: failPod.namespace,
            files: [
              ['alpha', 'a'],
              ['nope', 'n'],
            ],
          }),
        ),
      );
      world.kube.forbiddenNamespaces.add(failPod.namespace);
      runs.push(
        await runFetcher(
          podEnv(world, failPod, { project: failPod.namespace, secret: { name: 'denied', keys: [['beta', 'beta']] } }),
        ),
      );
      world.mlp.faults.failNext(1000, 500);
      runs.push(await runFetcher(podEnv(world, failPod, plan(failPod), { DAP_DEADLINE_SECONDS: '1' })));
      world.mlp.faults.clear();
      runs.push(await runFetcher(podEnv(world, exPod, plan(exPod), exchangeEnv)));
      // The exchanged access tokens and the Google ID tokens never touch the disk, so the check
      // for them is broader: no JWT-shaped string at all may appear in any output.
      for (const run of runs) {
        for (const [where, text] of [
          ['stdout', run.stdout],
          ['stderr', run.stderr],
          ['termination message', run.termination],
        ] as const) {
          for (const s of sensitive) {
            assert.ok(!text.includes(s), `${where} contains a sensitive string (${s.slice(0, 12)}…)`);
            assert.ok(!text.includes(Buffer.from(s).toString('base64')), `${where} contains a base64 sensitive string`);
            assert.ok(!text.includes(JSON.stringify(s).slice(1, -1)), `${where} contains an escaped sensitive string`);
          }
          assert.doesNotMatch(text, /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/, `${where} contains a JWT`);
        }
      }
      assert.deepEqual(
        runs.map((r) => r.code),
        [0, 0, 0, 1, 1, 1, 3, 0],
      );
    });

    it('secret values that look like log structure (`info`, an event name) leave every line intact', async function () {
      const pod = await readablePod({ short: 'info', event: 'http call', level: 'error' });
      const run = await runFetcher(
        podEnv(world, pod, {
          project: pod.namespace,
          files: [
            ['short', 's'],
            ['event', 'e'],
            ['level', 'l'],
          ],
        }),
      );
      assert.equal(run.code, EXIT.ok, describeRun(run));
      assert.doesNotMatch(run.stdout, /redacted/);
      for (const line of run.logs) {
        assert.ok(['info', 'warn', 'error'].includes(String(line.level)), JSON.stringify(line));
        assert.equal(typeof line.time, 'string');
      }
      assert.equal(run.logs.filter((l) => l.msg === 'http call').length, 2);
      assert.deepEqual([run.logs[0]?.msg, run.logs.at(-1)?.msg], ['start', 'done']);
    });
  });
});
