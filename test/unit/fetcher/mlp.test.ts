import assert from 'node:assert/strict';
import sinon from 'sinon';
import { EXIT_CODES, FetcherError } from '../../../fetcher/errors.js';
import type { HttpContext } from '../../../fetcher/http.js';
import { fetchMlpSecrets, type MlpDeps } from '../../../fetcher/mlp.js';
import { Redactor } from '../../../fetcher/redact.js';
import type { TokenSource } from '../../../fetcher/token/index.js';
import { FakeClock, fakeDeadline, jsonResponse, RecordingLogger } from './helpers.js';

const BASE = new URL('http://mlp:8080/');
const ADS = { id: 7, name: 'ads', readers: ['system:serviceaccount:ads:runner'], administrators: null };

describe('fetcher/mlp', function () {
  let fetchStub: sinon.SinonStub;
  let tokens: sinon.SinonStubbedInstance<TokenSource> & TokenSource;
  let deps: MlpDeps;
  let clock: FakeClock;
  let redactor: Redactor;

  beforeEach(function () {
    fetchStub = sinon.stub();
    clock = new FakeClock();
    redactor = new Redactor();
    let n = 0;
    tokens = { token: sinon.stub().callsFake(async () => `token-${n++}-abcdef`), identity: sinon.stub().returns('system:serviceaccount:ads:runner') } as never;
    const http: HttpContext = { fetch: fetchStub as unknown as typeof fetch, clock, deadline: fakeDeadline(clock, 60_000), log: new RecordingLogger() };
    deps = { http, tokens, redactor };
  });

  function route(projects: unknown, secrets: unknown): void {
    fetchStub.callsFake(async (url: URL) => {
      if (url.pathname === '/v1/projects') return jsonResponse(200, projects);
      if (url.pathname === '/v1/projects/7/secrets') return jsonResponse(200, secrets);
      return new Response('404 page not found', { status: 404 });
    });
  }

  it('picks the exact project from the prefix matches and makes one secrets call', async function () {
    route([{ id: 3, name: 'ads-ranking' }, ADS, { id: 9, name: 'adsx' }], [
      { id: 1, name: 'token', data: 'tok-value', project_id: 7, secret_storage_id: 1 },
      { id: 2, name: 'password', data: 'pw-value', project_id: 7, secret_storage_id: 1 },
      { id: 3, name: 'unused', data: 'other-value', project_id: 7, secret_storage_id: 1 },
    ]);
    const values = await fetchMlpSecrets(deps, { baseUrl: BASE, project: 'ads', secrets: ['password', 'token'] });
    assert.deepEqual([...values], [['password', 'pw-value'], ['token', 'tok-value']]);
    const urls = fetchStub.getCalls().map((c) => String(c.args[0]));
    assert.deepEqual(urls, ['http://mlp:8080/v1/projects?name=ads', 'http://mlp:8080/v1/projects/7/secrets']);
    const headers = fetchStub.firstCall.args[1].headers as Record<string, string>;
    assert.equal(headers.Authorization, 'Bearer token-0-abcdef');
    assert.equal(tokens.token.callCount, 2, 'a fresh token per call');
    assert.equal(redactor.apply('pw-value other-value'), '[redacted] [redacted]', 'every value is registered for redaction');
  });

  it('names every missing secret at once', async function () {
    route([ADS], [{ id: 1, name: 'token', data: 'tok-value' }]);
    await assert.rejects(fetchMlpSecrets(deps, { baseUrl: BASE, project: 'ads', secrets: ['token', 'a', 'b'] }), (err: FetcherError) => {
      assert.equal(err.problem, 'secrets `a`, `b` not found in MLP project `ads`');
      assert.deepEqual(err.secrets, ['a', 'b']);
      return true;
    });
  });

  it('says when no project has exactly that name', async function () {
    route([{ id: 3, name: 'ads-ranking' }], []);
    await assert.rejects(fetchMlpSecrets(deps, { baseUrl: BASE, project: 'ads', secrets: ['x'] }), /there is no MLP project named `ads`/);
  });

  it('names the identity MLP denied, without retrying', async function () {
    fetchStub.onFirstCall().resolves(jsonResponse(200, [ADS]));
    fetchStub.onSecondCall().resolves(jsonResponse(403, { error: { code: 403, message: 'Access credentials are not sufficient to access this resource' } }));
    await assert.rejects(fetchMlpSecrets(deps, { baseUrl: BASE, project: 'ads', secrets: ['x'] }), (err: FetcherError) => {
      assert.equal(err.status, 403);
      assert.equal(err.retryable, false);
      assert.match(err.problem, /^MLP denied project `ads` to identity `system:serviceaccount:ads:runner` \(MLP said: Access credentials are not sufficient/);
      assert.equal(err.fix, 'add `system:serviceaccount:ads:runner` to the readers of MLP project `ads`');
      return true;
    });
    assert.equal(fetchStub.callCount, 2);
    assert.equal(tokens.identity.firstCall.args[0], 'token-1-abcdef');
  });

  it('points at MLP_API_HOST when the projects endpoint is not there', async function () {
    fetchStub.resolves(new Response('404 page not found', { status: 404 }));
    await assert.rejects(fetchMlpSecrets(deps, { baseUrl: BASE, project: 'ads', secrets: ['x'] }), (err: FetcherError) => err.status === 404 && /check MLP_API_HOST/.test(err.fix));
  });

  it('retries 503 and resets, then succeeds', async function () {
    fetchStub.onCall(0).resolves(jsonResponse(503, { error: 'down' }));
    fetchStub.onCall(1).rejects(new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } }));
    fetchStub.onCall(2).resolves(jsonResponse(200, [ADS]));
    fetchStub.onCall(3).resolves(jsonResponse(200, [{ id: 1, name: 'x', data: 'x-value' }]));
    const values = await fetchMlpSecrets(deps, { baseUrl: BASE, project: 'ads', secrets: ['x'] });
    assert.equal(values.get('x'), 'x-value');
    assert.equal(clock.sleeps.length, 2);
  });

  it('gives up with exit code 3 when MLP keeps failing past the deadline', async function () {
    fetchStub.callsFake(async () => jsonResponse(500, { error: 'boom' }));
    await assert.rejects(fetchMlpSecrets(deps, { baseUrl: BASE, project: 'ads', secrets: ['x'] }), (err: FetcherError) => err.exitCode === EXIT_CODES.deadline && err.status === 500);
  });

  it('never quotes a body it cannot parse (it may hold values)', async function () {
    fetchStub.onFirstCall().resolves(jsonResponse(200, [ADS]));
    fetchStub.onSecondCall().resolves(new Response('[{"name":"x","data":"half-a-secret-val', { status: 200 }));
    await assert.rejects(fetchMlpSecrets(deps, { baseUrl: BASE, project: 'ads', secrets: ['x'] }), (err: FetcherError) => {
      assert.match(err.problem, /not the JSON the MLP API describes/);
      assert.doesNotMatch(`${err.problem} ${err.fix}`, /half-a-secret/);
      return true;
    });
  });
});
