import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT_CODES, type FetcherError } from '../../../fetcher/errors.js';
import {
  buildPodSecret,
  createPodSecret,
  MAX_SECRET_BYTES,
  type PodSecretRequest,
  podNameLabel,
  prepareKubeTls,
} from '../../../fetcher/k8s-secret.js';
import { Redactor } from '../../../fetcher/redact.js';
import { createCertificateAuthority } from '../../support/k8s/pki.js';
import { FakeClock, fakeDeadline, RecordingLogger } from './helpers.js';

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const request: PodSecretRequest = {
  namespace: 'ads',
  name: 'wf-n0-0-flyte-secrets-1a2b3c',
  podName: 'wf-n0-0',
  podUid: '6f1b2a44-58f1-4a43-9d7a-0c6e2b9c1f10',
  entries: [
    { key: 'api_token', value: 'tök-ên', mlpSecret: 'api_token' },
    { key: 'api-key', value: 'k', mlpSecret: 'openai' },
  ],
};

describe('fetcher/k8s-secret', function () {
  describe('buildPodSecret', function () {
    it('is an immutable Opaque Secret owned by the pod, labelled, with base64 data', function () {
      assert.deepEqual(buildPodSecret(request), {
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'Opaque',
        immutable: true,
        metadata: {
          name: 'wf-n0-0-flyte-secrets-1a2b3c',
          namespace: 'ads',
          labels: { 'app.kubernetes.io/managed-by': 'dap-secret-webhook', 'dap-secret-webhook/pod': 'wf-n0-0' },
          ownerReferences: [
            {
              apiVersion: 'v1',
              kind: 'Pod',
              name: 'wf-n0-0',
              uid: request.podUid,
              controller: false,
              blockOwnerDeletion: false,
            },
          ],
        },
        data: { api_token: Buffer.from('tök-ên').toString('base64'), 'api-key': 'aw==' },
      });
    });

    it('accepts exactly 1 MiB and refuses one byte more, naming sizes but not values', function () {
      const at = (n: number) => ({ ...request, entries: [{ key: 'a', value: 'v'.repeat(n), mlpSecret: 'big' }] });
      buildPodSecret(at(MAX_SECRET_BYTES));
      assert.throws(
        () => buildPodSecret(at(MAX_SECRET_BYTES + 1)),
        (err: FetcherError) => {
          assert.match(err.problem, /add up to 1048577 bytes \(`big` 1048577 bytes\), over the 1048576-byte limit/);
          assert.ok(!err.problem.includes('vvvv'));
          return true;
        },
      );
    });
  });

  describe('podNameLabel', function () {
    it('keeps names that fit', function () {
      assert.equal(podNameLabel('a'.repeat(63)), 'a'.repeat(63));
    });
    it('shortens long names to a valid, distinct label', function () {
      const a = podNameLabel(`${'x'.repeat(51)}.-y${'z'.repeat(100)}`);
      const b = podNameLabel(`${'x'.repeat(51)}.-y${'z'.repeat(99)}`);
      for (const label of [a, b]) {
        assert.ok(label.length <= 63, label);
        assert.match(label, LABEL_VALUE);
      }
      assert.notEqual(a, b);
      assert.match(a, /^x{51}-[0-9a-f]{10}$/);
    });
  });

  describe('createPodSecret (against a local HTTP API)', function () {
    let server: Server;
    let url: URL;
    let dir: string;
    let answers: ((req: IncomingMessage, res: ServerResponse, body: string) => void)[];
    const seen: { auth: string | undefined; body: string }[] = [];

    before(async function () {
      dir = await mkdtemp(join(tmpdir(), 'dap-kube-'));
      server = createServer((req, res) => {
        let body = '';
        req
          .setEncoding('utf8')
          .on('data', (c: string) => (body += c))
          .on('end', () => {
            seen.push({ auth: req.headers.authorization, body });
            const answer = answers.shift() ?? ((_q, s) => status(s, 500, 'InternalError', 'no answer queued'));
            answer(req, res, body);
          });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    });

    after(async function () {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    });

    beforeEach(function () {
      answers = [];
      seen.length = 0;
    });

    function status(
      res: ServerResponse,
      code: number,
      reason: string,
      message: string,
      headers: Record<string, string> = {},
    ): void {
      res.writeHead(code, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code }));
    }

    async function run(token = 'kube-token-value', attemptTimeoutMs?: number) {
      const tokenFile = join(dir, 'token');
      await writeFile(tokenFile, `${token}\n`);
      const clock = new FakeClock();
      const log = new RecordingLogger();
      const redactor = new Redactor();
      const deps = {
        clock,
        deadline: fakeDeadline(clock, 60_000),
        log,
        redactor,
        ...(attemptTimeoutMs ? { attemptTimeoutMs } : {}),
      };
      const result = await createPodSecret(
        request,
        { apiUrl: url, tokenFile, caFile: join(dir, 'unused-for-http') },
        deps,
      );
      return { result, log, clock, redactor };
    }

    it("gives up on an attempt the API server never answers and retries, within the run's deadline", async function () {
      answers.push(() => {}); // the first request is held open and never answered
      answers.push((_q, res, body) => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(body);
      });
      // A short attempt timeout keeps the test quick; the run's deadline (60 s, never reached) is not what ends the attempt.
      const { result, log, clock } = await run('kube-token-value', 200);
      assert.equal(result, 'created');
      assert.equal(seen.length, 2);
      assert.equal(clock.sleeps.length, 1, 'one backoff between the attempts');
      const retried = log.lines.find((l) => l.msg === 'retrying');
      assert.match(
        String(retried?.reason),
        /could not reach the Kubernetes API to create Secret `ads\/wf-n0-0-flyte-secrets-1a2b3c` \(timed out\)/,
      );
    });

    it('POSTs the Secret with the token from the file and reports "created"', async function () {
      answers.push((_q, res, body) => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(body);
      });
      const { result, log, redactor } = await run();
      assert.equal(result, 'created');
      assert.equal(seen[0]?.auth, 'Bearer kube-token-value');
      assert.deepEqual(JSON.parse(seen[0]?.body ?? '{}'), JSON.parse(JSON.stringify(buildPodSecret(request))));
      assert.equal(log.lines[0]?.status, 201);
      assert.equal(redactor.apply('kube-token-value'), '[redacted]');
      assert.equal(
        redactor.apply(`data ${Buffer.from('tök-ên').toString('base64')}`),
        'data [redacted]',
        'the base64 data it sent is registered',
      );
    });

    it('treats 409 AlreadyExists as done', async function () {
      answers.push((_q, res) => status(res, 409, 'AlreadyExists', 'secrets "x" already exists'));
      assert.equal((await run()).result, 'exists');
    });

    it('retries 500 and 429 (honouring Retry-After), then succeeds', async function () {
      answers.push((_q, res) => status(res, 500, 'InternalError', 'etcd timeout'));
      answers.push((_q, res) => status(res, 429, 'TooManyRequests', 'slow down', { 'retry-after': '2' }));
      answers.push((_q, res, body) => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(body);
      });
      const { result, clock } = await run();
      assert.equal(result, 'created');
      assert.equal(clock.sleeps.length, 2);
      assert.ok((clock.sleeps[1] ?? 0) >= 2000);
    });

    it('explains a 403 with the permission to grant, and does not retry', async function () {
      answers.push((_q, res) =>
        status(
          res,
          403,
          'Forbidden',
          'secrets is forbidden: User "system:serviceaccount:ads:runner" cannot create resource "secrets"',
        ),
      );
      await assert.rejects(run(), (err: FetcherError) => {
        assert.equal(err.status, 403);
        assert.match(
          err.problem,
          /Kubernetes denied creating Secret `ads\/wf-n0-0-flyte-secrets-1a2b3c` to the fetcher's service account \(Kubernetes said: secrets is forbidden/,
        );
        assert.equal(
          err.fix,
          'grant the pod\'s service account "create" on "secrets" in namespace `ads` (the webhook\'s Helm chart ships that Role)',
        );
        return true;
      });
      assert.equal(seen.length, 1);
    });

    it("the run's deadline passing during a call ends it as a deadline, not as an HTTP status", async function () {
      const controller = new AbortController();
      answers.push(() => controller.abort(new Error('deadline passed'))); // never answered; the deadline passes meanwhile
      const tokenFile = join(dir, 'token');
      await writeFile(tokenFile, 'kube-token-value');
      const clock = new FakeClock();
      const log = new RecordingLogger();
      await assert.rejects(
        createPodSecret(
          request,
          { apiUrl: url, tokenFile, caFile: '' },
          { clock, deadline: fakeDeadline(clock, 60_000, controller), log, redactor: new Redactor() },
        ),
        (err: FetcherError) => {
          assert.equal(err.exitCode, EXIT_CODES.deadline);
          assert.equal(err.status, undefined);
          assert.match(err.problem, /could not reach the Kubernetes API to create Secret .* \(timed out\)/);
          return true;
        },
      );
      assert.equal(log.lines.find((l) => l.msg === 'kubernetes call')?.status, null, 'no HTTP status logged');
    });

    it('a 403 from the fetcher Secret policy says how the policy names Secrets, not to grant RBAC', async function () {
      const message =
        "secrets \"wf-n0-0-flyte-secrets-1a2b3c\" is forbidden: ValidatingAdmissionPolicy 'dsw-dap-secret-webhook-fetcher-secrets' with binding 'dsw-dap-secret-webhook-fetcher-secrets' denied request: " +
        'pod other-pod may create only its own per-pod Secret (other-pod-flyte-secrets-<10 hex>, or <its generateName>-flyte-secrets-<10 hex>, as the webhook names it), not wf-n0-0-flyte-secrets-1a2b3c';
      answers.push((_q, res) => status(res, 403, 'Forbidden', message));
      await assert.rejects(run(), (err: FetcherError) => {
        assert.equal(err.status, 403);
        assert.equal(
          err.problem,
          'the admission policy `dsw-dap-secret-webhook-fetcher-secrets` refused creating Secret `ads/wf-n0-0-flyte-secrets-1a2b3c`: pod other-pod may create only its own per-pod Secret (other-pod-flyte-secrets-<10 hex>, or <its generateName>-flyte-secrets-<10 hex>, as the webhook names it), not wf-n0-0-flyte-secrets-1a2b3c',
        );
        assert.match(err.fix, /fetcher\.secretPolicy\.enabled/);
        assert.match(err.fix, /`wf-n0-0-flyte-secrets-<10 hex>`/);
        assert.match(err.fix, /deploy\/README\.md/);
        assert.doesNotMatch(err.fix, /"create" on "secrets"|RBAC|ships that Role/);
        return true;
      });
      assert.equal(seen.length, 1, 'not retried');
    });

    it("a policy denial with reason Invalid (422) is still explained as the policy's", async function () {
      answers.push((_q, res) =>
        status(
          res,
          422,
          'Invalid',
          'secrets "x" is forbidden: ValidatingAdmissionPolicy \'p\' denied request: a pod may create only Opaque Secrets here, not kubernetes.io/tls',
        ),
      );
      await assert.rejects(run(), (err: FetcherError) => {
        assert.equal(err.status, 422);
        assert.match(
          err.problem,
          /^the admission policy `p` refused creating Secret .*: a pod may create only Opaque Secrets here/,
        );
        return true;
      });
    });

    it('a 403 from another admission webhook names it', async function () {
      answers.push((_q, res) =>
        status(
          res,
          403,
          'Forbidden',
          'admission webhook "validate.kyverno.svc" denied the request: Secrets need the label team',
        ),
      );
      await assert.rejects(run(), (err: FetcherError) => {
        assert.match(
          err.problem,
          /^the admission webhook `validate\.kyverno\.svc` refused creating Secret `ads\/wf-n0-0-flyte-secrets-1a2b3c`: Secrets need the label team$/,
        );
        assert.match(err.fix, /cluster's administrators/);
        return true;
      });
    });

    it("a refusal's text reaches the message without terminal escapes, bidi overrides or extra lines", async function () {
      // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters is the point
      const controlOrBidi = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e]/;
      // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters is the point
      const control = /[\u0000-\u001f]/;
      answers.push((_q, res) =>
        status(
          res,
          403,
          'Forbidden',
          'admission webhook "hostile.example.com" denied the request: \u001b[2J\u001b]0;owned\u0007cleared\u202eevil\r\n{"level":"info","msg":"forged"}',
        ),
      );
      await assert.rejects(run(), (err: FetcherError) => {
        assert.doesNotMatch(err.problem, controlOrBidi, JSON.stringify(err.problem));
        assert.match(
          err.problem,
          /refused creating Secret .*: \[2J ?\]0;owned ?cleared evil \{"level":"info","msg":"forged"\}$/,
        );
        return true;
      });
      answers.push((_q, res) => status(res, 422, 'Invalid', 'Secret is invalid: \u001b[31mred\u001b[0m'));
      await assert.rejects(run(), (err: FetcherError) => !control.test(err.problem));
    });

    it('a 403 nobody explains points at RBAC and at the message', async function () {
      answers.push((_q, res) => status(res, 403, 'Forbidden', 'forbidden'));
      await assert.rejects(run(), (err: FetcherError) => {
        assert.match(err.problem, /Kubernetes denied creating Secret .* \(Kubernetes said: forbidden\)/);
        assert.match(
          err.fix,
          /"create" on "secrets" in namespace `ads`.*; if an admission policy refused it, its message above says why/,
        );
        return true;
      });
    });

    it('a 409 for another reason is not "done"', async function () {
      answers.push((_q, res) => status(res, 409, 'Conflict', 'something else'));
      await assert.rejects(run(), (err: FetcherError) => err.status === 409);
    });

    it('explains a 401 and a 422', async function () {
      answers.push((_q, res) => status(res, 401, 'Unauthorized', 'Unauthorized'));
      await assert.rejects(run(), /did not accept the fetcher's token/);
      answers.push((_q, res) => status(res, 422, 'Invalid', 'Secret "x" is invalid: data[bad key]: Invalid value'));
      await assert.rejects(run(), /Kubernetes refused to create Secret .*Invalid value/);
    });

    it('names DAP_KUBE_TOKEN_FILE when the token is missing', async function () {
      const clock = new FakeClock();
      await assert.rejects(
        createPodSecret(
          request,
          { apiUrl: url, tokenFile: join(dir, 'missing'), caFile: '' },
          { clock, deadline: fakeDeadline(clock, 1000), log: new RecordingLogger(), redactor: new Redactor() },
        ),
        /Kubernetes token file .*missing \(DAP_KUBE_TOKEN_FILE\) cannot be read \(ENOENT\)/,
      );
    });

    it('names DAP_KUBE_CA_FILE when an https API has no CA file', async function () {
      const clock = new FakeClock();
      await assert.rejects(
        createPodSecret(
          request,
          { apiUrl: new URL('https://127.0.0.1:1/'), tokenFile: join(dir, 'token'), caFile: join(dir, 'no-ca') },
          { clock, deadline: fakeDeadline(clock, 1000), log: new RecordingLogger(), redactor: new Redactor() },
        ),
        /CA certificate file .*no-ca \(DAP_KUBE_CA_FILE\)/,
      );
    });

    it('an unreachable API is retried until the deadline (exit code 3)', async function () {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      const tokenFile = join(dir, 'token');
      await writeFile(tokenFile, 't0ken');
      const clock = new FakeClock();
      await assert.rejects(
        createPodSecret(
          request,
          { apiUrl: new URL(`http://127.0.0.1:${port}/`), tokenFile, caFile: '' },
          { clock, deadline: fakeDeadline(clock, 5000), log: new RecordingLogger(), redactor: new Redactor() },
        ),
        (err: FetcherError) =>
          err.exitCode === EXIT_CODES.deadline &&
          /could not reach the Kubernetes API .*\(ECONNREFUSED\)/.test(err.problem),
      );
    });
  });

  describe('over https: the cluster CA read and its TLS context made up front (prepareKubeTls)', function () {
    let server: HttpsServer;
    let url: URL;
    let dir: string;
    let caFile: string;
    let otherCaFile: string;
    let tokenFile: string;

    before(async function () {
      dir = await mkdtemp(join(tmpdir(), 'dap-kube-tls-'));
      const ca = await createCertificateAuthority('cluster CA');
      const other = await createCertificateAuthority('some other CA');
      caFile = join(dir, 'ca.crt');
      otherCaFile = join(dir, 'other-ca.crt');
      tokenFile = join(dir, 'token');
      await writeFile(otherCaFile, other.certPem);
      await writeFile(tokenFile, 'kube-token-value');
      const serving = await ca.issueServer('127.0.0.1', ['127.0.0.1']);
      server = createHttpsServer({ key: serving.keyPem, cert: serving.certPem }, (req, res) => {
        let body = '';
        req
          .setEncoding('utf8')
          .on('data', (c: string) => (body += c))
          .on('end', () => {
            res.writeHead(201, { 'content-type': 'application/json' });
            res.end(body);
          });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      await writeFile(caFile, ca.certPem);
    });

    after(async function () {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    });

    function deps(tls?: ReturnType<typeof prepareKubeTls>) {
      const clock = new FakeClock();
      return {
        clock,
        deadline: fakeDeadline(clock, 5000),
        log: new RecordingLogger(),
        redactor: new Redactor(),
        ...(tls ? { tls } : {}),
      };
    }

    it('creates the Secret through the context made beforehand, without reading the CA file again', async function () {
      const early = join(dir, 'ca-read-early.crt');
      await writeFile(early, await readFile(caFile, 'utf8'));
      const kube = { apiUrl: url, tokenFile, caFile: early };
      const tls = prepareKubeTls(kube);
      assert.ok((await tls)?.secureContext, 'a TLS context was made from the CA');
      await unlink(early); // gone by the time MLP has answered: the POST must not need it
      assert.equal(await createPodSecret(request, kube, deps(tls)), 'created');
    });

    it('trusts only the cluster CA: a server certificate from another CA is refused', async function () {
      const kube = { apiUrl: url, tokenFile, caFile: otherCaFile };
      await assert.rejects(createPodSecret(request, kube, deps(prepareKubeTls(kube))), (err: FetcherError) =>
        /could not reach the Kubernetes API .*\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN)\)/.test(
          err.problem,
        ),
      );
    });

    it('has nothing to prepare for a plain-http API, and names DAP_KUBE_CA_FILE for a missing CA file', async function () {
      assert.equal(await prepareKubeTls({ apiUrl: new URL('http://127.0.0.1:1/'), tokenFile, caFile: '' }), undefined);
      const missing = { apiUrl: url, tokenFile, caFile: join(dir, 'no-ca') };
      await assert.rejects(prepareKubeTls(missing), /CA certificate file .*no-ca \(DAP_KUBE_CA_FILE\)/);
      // Started early and failed: createPodSecret reports that same error when it gets to the Secret.
      const early = prepareKubeTls(missing);
      early.catch(() => {});
      await assert.rejects(createPodSecret(request, missing, deps(early)), /no-ca \(DAP_KUBE_CA_FILE\)/);
    });
  });
});
