import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import sinon from 'sinon';
import { FetcherError } from '../../../fetcher/errors.js';
import type { HttpContext, HttpTransport } from '../../../fetcher/http.js';
import { Redactor } from '../../../fetcher/redact.js';
import { gcpWorkloadIdentityTokenSource, identityTokenUrl } from '../../../fetcher/token/gcp-workload-identity.js';
import { serviceAccountTokenSource } from '../../../fetcher/token/serviceaccount.js';
import { jwtIdentity } from '../../../fetcher/token/source.js';
import { describeOidcError, tokenExchangeTokenSource } from '../../../fetcher/token/token-exchange.js';
import { FakeClock, fakeDeadline, fakeJwt, jsonResponse, RecordingLogger } from './helpers.js';

const pod = { name: 'wf-n0-0', namespace: 'ads', uid: 'u-1', serviceAccount: 'runner' };

describe('fetcher/token', function () {
  let dir: string;
  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'dap-token-'));
  });
  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  function deps(fetchStub: sinon.SinonStub = sinon.stub()): { http: HttpContext; redactor: Redactor } {
    const clock = new FakeClock();
    // One stub answers both ways out: node:http (the metadata server) and fetch (openid-client).
    const http: HttpContext = {
      request: fetchStub as unknown as HttpTransport,
      fetch: fetchStub as unknown as typeof fetch,
      clock,
      deadline: fakeDeadline(clock, 60_000),
      log: new RecordingLogger(),
    };
    return { http, redactor: new Redactor() };
  }

  describe('jwtIdentity', function () {
    it('prefers email, then sub, and tolerates non-JWTs', function () {
      assert.equal(
        jwtIdentity(fakeJwt({ sub: '1234', email: 'svc@p.iam.gserviceaccount.com' })),
        'svc@p.iam.gserviceaccount.com',
      );
      assert.equal(
        jwtIdentity(fakeJwt({ sub: 'system:serviceaccount:ads:runner' })),
        'system:serviceaccount:ads:runner',
      );
      assert.equal(jwtIdentity('opaque-token'), null);
    });
  });

  describe('serviceaccount', function () {
    it('re-reads the projected token on every call (the kubelet rotates it)', async function () {
      const file = join(dir, 'token');
      const d = deps();
      const source = serviceAccountTokenSource(file, pod, d);
      await writeFile(file, 'first-token\n');
      assert.equal(await source.token(0), 'first-token');
      await writeFile(file, 'rotated-token');
      assert.equal(await source.token(1), 'rotated-token');
      assert.equal(d.redactor.apply('first-token rotated-token'), '[redacted] [redacted]');
    });

    it('names MLP_TOKEN_FILE when the file is missing or empty', async function () {
      const source = serviceAccountTokenSource(join(dir, 'missing'), pod, deps());
      await assert.rejects(
        source.token(0),
        (e: FetcherError) => /token file .*missing \(MLP_TOKEN_FILE\) does not exist/.test(e.problem) && !e.retryable,
      );
      await writeFile(join(dir, 'empty'), ' \n');
      await assert.rejects(
        serviceAccountTokenSource(join(dir, 'empty'), pod, deps()).token(0),
        /\(MLP_TOKEN_FILE\) is empty/,
      );
    });

    it("names the pod's service account as the identity", function () {
      assert.equal(serviceAccountTokenSource('x', pod, deps()).identity(null), 'system:serviceaccount:ads:runner');
      const noSa = serviceAccountTokenSource('x', { ...pod, serviceAccount: null }, deps());
      assert.equal(
        noSa.identity(fakeJwt({ sub: 'system:serviceaccount:ads:other' })),
        'system:serviceaccount:ads:other',
      );
    });
  });

  describe('gcp-workload-identity', function () {
    it('asks the metadata server for a full-format ID token for the audience', async function () {
      const idToken = fakeJwt({ sub: '1', email: 'task@proj.iam.gserviceaccount.com', aud: 'api.caraml' });
      const fetchStub = sinon.stub().resolves(new Response(idToken, { status: 200 }));
      const source = gcpWorkloadIdentityTokenSource('metadata.google.internal', 'api.caraml', 'ads', deps(fetchStub));
      assert.equal(await source.token(0), idToken);
      assert.equal(
        String(fetchStub.firstCall.args[0]),
        'http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/identity?audience=api.caraml&format=full',
      );
      assert.deepEqual(fetchStub.firstCall.args[1].headers, { 'Metadata-Flavor': 'Google' });
      assert.equal(source.identity(idToken), 'task@proj.iam.gserviceaccount.com');
    });

    it('explains a refusal and retries a 5xx', async function () {
      const refused = gcpWorkloadIdentityTokenSource(
        '127.0.0.1:1',
        'api.caraml',
        'ads',
        deps(sinon.stub().resolves(new Response('not annotated', { status: 404 }))),
      );
      await assert.rejects(
        refused.token(0),
        (e: FetcherError) => e.status === 404 && !e.retryable && /iam\.gke\.io\/gcp-service-account/.test(e.fix),
      );
      const down = gcpWorkloadIdentityTokenSource(
        '127.0.0.1:1',
        'api.caraml',
        'ads',
        deps(sinon.stub().resolves(new Response('', { status: 503 }))),
      );
      await assert.rejects(down.token(0), (e: FetcherError) => e.status === 503 && e.retryable);
    });

    it('refuses an answer that is not a token', async function () {
      const source = gcpWorkloadIdentityTokenSource(
        '127.0.0.1:1',
        'api.caraml',
        'ads',
        deps(sinon.stub().resolves(new Response('<html>', { status: 200 }))),
      );
      await assert.rejects(source.token(0), /not an ID token/);
    });

    it('builds the URL with an escaped audience', function () {
      assert.equal(identityTokenUrl('h:8080', 'a b&c').search, '?audience=a+b%26c&format=full');
    });
  });

  describe('token-exchange', function () {
    const issuer = new URL('https://issuer.example.com/');
    const settings = (over: object = {}) => ({
      mode: 'token-exchange' as const,
      tokenFile: join(dir, 'subject'),
      issuer,
      audience: 'api.caraml',
      scope: null,
      clientCredentialsFile: null,
      clientId: 'dap-secret-fetcher',
      ...over,
    });
    const discovery = {
      issuer: issuer.href,
      token_endpoint: 'https://issuer.example.com/token',
      grant_types_supported: ['urn:ietf:params:oauth:grant-type:token-exchange'],
    };

    it('discovers once and exchanges the freshly read subject token on every call', async function () {
      await writeFile(join(dir, 'subject'), 'subject-1');
      const fetchStub = sinon.stub();
      fetchStub
        .withArgs(sinon.match((u: unknown) => String(u).includes('.well-known')))
        .resolves(jsonResponse(200, discovery));
      let n = 0;
      fetchStub.withArgs(sinon.match((u: unknown) => String(u).endsWith('/token'))).callsFake(async () =>
        jsonResponse(200, {
          access_token: `exchanged-${n++}`,
          token_type: 'Bearer',
          issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        }),
      );
      const d = deps(fetchStub);
      const source = tokenExchangeTokenSource(settings(), pod, d);
      assert.equal(await source.token(0), 'exchanged-0');
      await writeFile(join(dir, 'subject'), 'subject-2');
      assert.equal(await source.token(1), 'exchanged-1');
      const tokenCalls = fetchStub.getCalls().filter((c) => String(c.args[0]).endsWith('/token'));
      assert.equal(fetchStub.getCalls().length - tokenCalls.length, 1, 'one discovery');
      const form = new URLSearchParams(String(tokenCalls[1]?.args[1].body));
      assert.equal(form.get('grant_type'), 'urn:ietf:params:oauth:grant-type:token-exchange');
      assert.equal(form.get('subject_token'), 'subject-2');
      assert.equal(form.get('subject_token_type'), 'urn:ietf:params:oauth:token-type:jwt');
      assert.equal(form.get('audience'), 'api.caraml');
      assert.equal(form.get('client_id'), 'dap-secret-fetcher', 'a public client sends its id');
      assert.equal(d.redactor.apply('subject-2 exchanged-1'), '[redacted] [redacted]');
    });

    it('uses client_secret_basic with a credentials file, and never quotes a broken one', async function () {
      await writeFile(join(dir, 'subject'), 'subject-1');
      const credentials = join(dir, 'creds.json');
      await writeFile(credentials, JSON.stringify({ client_id: 'fetcher', client_secret: 's3cret-value' }));
      const fetchStub = sinon.stub();
      fetchStub.onFirstCall().resolves(jsonResponse(200, discovery));
      fetchStub.onSecondCall().resolves(jsonResponse(200, { access_token: 'at', token_type: 'Bearer' }));
      await tokenExchangeTokenSource(settings({ clientCredentialsFile: credentials }), pod, deps(fetchStub)).token(0);
      const headers = new Headers(fetchStub.secondCall.args[1].headers as HeadersInit);
      // RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
      const basic = Buffer.from(String(headers.get('authorization')).replace(/^Basic /, ''), 'base64').toString('utf8');
      assert.deepEqual(basic.split(':').map(decodeURIComponent), ['fetcher', 's3cret-value']);

      await writeFile(credentials, '{"client_id": "fetcher", "client_secret": "s3cret-value"');
      await assert.rejects(
        tokenExchangeTokenSource(settings({ clientCredentialsFile: credentials }), pod, deps(sinon.stub())).token(0),
        (e: FetcherError) => {
          assert.match(
            e.problem,
            /client credentials file .*creds\.json \(MLP_TOKEN_EXCHANGE_CLIENT_CREDENTIALS_FILE\) is not valid JSON/,
          );
          assert.doesNotMatch(`${e.problem} ${e.fix}`, /s3cret/);
          return true;
        },
      );
    });

    it('forgets a failed discovery so the next attempt retries it', async function () {
      await writeFile(join(dir, 'subject'), 'subject-1');
      const fetchStub = sinon.stub();
      fetchStub.onCall(0).resolves(jsonResponse(503, { error: 'down' }));
      fetchStub.onCall(1).resolves(jsonResponse(200, discovery));
      fetchStub.onCall(2).resolves(jsonResponse(200, { access_token: 'at-after-retry', token_type: 'Bearer' }));
      const source = tokenExchangeTokenSource(settings(), pod, deps(fetchStub));
      await assert.rejects(source.token(0), (e: FetcherError) => e.retryable && e.status === 503);
      assert.equal(await source.token(1), 'at-after-retry');
    });

    it('maps issuer answers: invalid_grant is final, 5xx retryable, a foreign issuer named', function () {
      const response = new Response(null, { status: 400 });
      const invalid = new oidc.ResponseBodyError('server responded with an error in the response body', {
        cause: { error: 'invalid_grant', error_description: 'subject_token is not valid' },
        response,
      });
      const mapped = describeOidcError(invalid, 'exchange the service-account token', issuer);
      assert.equal(mapped.status, 400);
      assert.equal(mapped.retryable, false);
      assert.match(
        mapped.problem,
        /refused to exchange the service-account token \(invalid_grant: subject_token is not valid\)/,
      );
      const busy = describeOidcError(
        Object.assign(new Error('unexpected HTTP response status code'), {
          cause: new Response(null, { status: 502 }),
        }),
        'x',
        issuer,
      );
      assert.ok(busy.retryable && busy.status === 502);
      const foreign = describeOidcError(
        Object.assign(new Error('issuer mismatch'), { code: 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' }),
        'discover its configuration',
        issuer,
      );
      assert.match(foreign.fix, /set MLP_TOKEN_EXCHANGE_ISSUER to exactly the issuer URL/);
      const hostile = new oidc.ResponseBodyError('server responded with an error in the response body', {
        cause: { error: 'invalid_grant', error_description: `no\u001b[2J\n{"level":"info"}${'x'.repeat(5000)}` },
        response: new Response(null, { status: 400 }),
      });
      const quoted = /\((.*)\)$/.exec(
        describeOidcError(hostile, 'exchange the service-account token', issuer).problem,
      )![1]!;
      assert.ok(
        quoted.startsWith('invalid_grant: no [2J {"level":"info"}xxx') && quoted.length === 203,
        quoted.slice(0, 80),
      );
      const ours = new FetcherError({ problem: 'could not reach', fix: 'x', retryable: true });
      assert.equal(describeOidcError(Object.assign(new Error('wrapped'), { cause: ours }), 'x', issuer), ours);
    });
  });
});
