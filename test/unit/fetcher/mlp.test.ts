import assert from 'node:assert/strict';
import fc from 'fast-check';
import sinon from 'sinon';
import { DEFAULT_BYTE_CAPS } from '../../../contract/fetcher-env.js';
import { EXIT_CODES, type FetcherError } from '../../../fetcher/errors.js';
import type { HttpContext, HttpTransport } from '../../../fetcher/http.js';
import { fetchMlpSecrets, type MlpDeps } from '../../../fetcher/mlp.js';
import { Redactor } from '../../../fetcher/redact.js';
import type { TokenSource } from '../../../fetcher/token/index.js';
import { FakeClock, fakeDeadline, jsonResponse, RecordingLogger } from './helpers.js';

const BASE = new URL('http://mlp:8080/');
const ADS = { id: 7, name: 'ads', readers: ['system:serviceaccount:ads:runner'], administrators: null };

describe('fetcher/mlp', function () {
  let requestStub: sinon.SinonStub;
  let tokens: sinon.SinonStubbedInstance<TokenSource> & TokenSource;
  let deps: MlpDeps;
  let clock: FakeClock;
  let redactor: Redactor;

  beforeEach(function () {
    requestStub = sinon.stub();
    clock = new FakeClock();
    redactor = new Redactor();
    let n = 0;
    tokens = {
      token: sinon.stub().callsFake(async () => `token-${n++}-abcdef`),
      identity: sinon.stub().returns('system:serviceaccount:ads:runner'),
    } as never;
    const http: HttpContext = {
      request: requestStub as unknown as HttpTransport,
      clock,
      deadline: fakeDeadline(clock, 60_000),
      log: new RecordingLogger(),
    };
    deps = { http, tokens, redactor };
  });

  function route(projects: unknown, secrets: unknown): void {
    requestStub.callsFake(async (url: URL) => {
      if (url.pathname === '/v1/projects') return jsonResponse(200, projects);
      if (url.pathname === '/v1/projects/7/secrets') return jsonResponse(200, secrets);
      return new Response('404 page not found', { status: 404 });
    });
  }

  it('picks the exact project from the prefix matches and makes one secrets call', async function () {
    route(
      [{ id: 3, name: 'ads-ranking' }, ADS, { id: 9, name: 'adsx' }],
      [
        { id: 1, name: 'token', data: 'tok-value', project_id: 7, secret_storage_id: 1 },
        { id: 2, name: 'password', data: 'pw-value', project_id: 7, secret_storage_id: 1 },
        { id: 3, name: 'unused', data: 'other-value', project_id: 7, secret_storage_id: 1 },
      ],
    );
    const values = await fetchMlpSecrets(deps, { baseUrl: BASE, project: 'ads', secrets: ['password', 'token'] });
    assert.deepEqual(
      [...values],
      [
        ['password', 'pw-value'],
        ['token', 'tok-value'],
      ],
    );
    const urls = requestStub.getCalls().map((c) => String(c.args[0]));
    assert.deepEqual(urls, ['http://mlp:8080/v1/projects?name=ads', 'http://mlp:8080/v1/projects/7/secrets']);
    const headers = requestStub.firstCall.args[1].headers as Record<string, string>;
    assert.equal(headers.Authorization, 'Bearer token-0-abcdef');
    assert.equal(tokens.token.callCount, 2, 'a fresh token per call');
    assert.equal(
      redactor.apply('pw-value tok-value'),
      '[redacted] [redacted]',
      'every requested value is registered for redaction',
    );
  });

  it('keeps and registers only the requested values, although MLP sends every secret of the project', async function () {
    route(
      [ADS],
      [
        { id: 1, name: 'wanted', data: 'wanted-value', project_id: 7, secret_storage_id: 1 },
        ...Array.from({ length: 50 }, (_, i) => ({
          id: i + 2,
          name: `other-${i}`,
          data: `unrequested-value-${i}`,
          project_id: 7,
          secret_storage_id: 1,
        })),
      ],
    );
    const values = await fetchMlpSecrets(deps, { baseUrl: BASE, project: 'ads', secrets: ['wanted'] });
    assert.deepEqual([...values], [['wanted', 'wanted-value']]);
    assert.equal(redactor.apply('wanted-value'), '[redacted]');
    assert.equal(
      redactor.apply('unrequested-value-0 unrequested-value-49'),
      'unrequested-value-0 unrequested-value-49',
      'values nobody asked for are not held by the redactor',
    );
  });

  it('names every missing secret at once', async function () {
    route([ADS], [{ id: 1, name: 'token', data: 'tok-value' }]);
    await assert.rejects(
      fetchMlpSecrets(deps, { baseUrl: BASE, project: 'ads', secrets: ['token', 'a', 'b'] }),
      (err: FetcherError) => {
        assert.equal(err.problem, 'secrets `a`, `b` not found in MLP project `ads`');
        assert.deepEqual(err.secrets, ['a', 'b']);
        return true;
      },
    );
  });

  it('says when no project has exactly that name', async function () {
    route([{ id: 3, name: 'ads-ranking' }], []);
    await assert.rejects(
      fetchMlpSecrets(deps, { baseUrl: BASE, project: 'ads', secrets: ['x'] }),
      /there is no MLP project named `ads`/,
    );
  });

  it('names the identity MLP denied, without retrying', async function () {
    requestStub.onFirstCall().resolves(jsonResponse(200, [ADS]));
    requestStub.onSecondCall().resolves(
      jsonResponse(403, {
        error: { code: 403, message: 'Access credentials are not sufficient to access this resource' },
      }),
    );
    await assert.rejects(
      fetchMlpSecrets(deps, { baseUrl: BASE, project: 'ads', secrets: ['x'] }),
      (err: FetcherError) => {
        assert.equal(err.status, 403);
        assert.equal(err.retryable, false);
        assert.match(
          err.problem,
          /^MLP denied project `ads` to identity `system:serviceaccount:ads:runner` \(MLP said: Access credentials are not sufficient/,
        );
        assert.equal(err.fix, 'add `system:serviceaccount:ads:runner` to the readers of MLP project `ads`');
        return true;
      },
    );
    assert.equal(requestStub.callCount, 2);
    assert.equal(tokens.identity.firstCall.args[0], 'token-1-abcdef');
  });

  it('points at MLP_API_HOST when the projects endpoint is not there', async function () {
    requestStub.resolves(new Response('404 page not found', { status: 404 }));
    await assert.rejects(
      fetchMlpSecrets(deps, { baseUrl: BASE, project: 'ads', secrets: ['x'] }),
      (err: FetcherError) => err.status === 404 && /check MLP_API_HOST/.test(err.fix),
    );
  });

  it('retries 503 and resets, then succeeds', async function () {
    requestStub.onCall(0).resolves(jsonResponse(503, { error: 'down' }));
    requestStub.onCall(1).rejects(new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } }));
    requestStub.onCall(2).resolves(jsonResponse(200, [ADS]));
    requestStub.onCall(3).resolves(jsonResponse(200, [{ id: 1, name: 'x', data: 'x-value' }]));
    const values = await fetchMlpSecrets(deps, { baseUrl: BASE, project: 'ads', secrets: ['x'] });
    assert.equal(values.get('x'), 'x-value');
    assert.equal(clock.sleeps.length, 2);
  });

  it('gives up with exit code 3 when MLP keeps failing past the deadline', async function () {
    requestStub.callsFake(async () => jsonResponse(500, { error: 'boom' }));
    await assert.rejects(
      fetchMlpSecrets(deps, { baseUrl: BASE, project: 'ads', secrets: ['x'] }),
      (err: FetcherError) => err.exitCode === EXIT_CODES.deadline && err.status === 500,
    );
  });

  /** A 200 whose body arrives in `size`-byte chunks, then ends or breaks off with `error`. */
  function chunked(text: string, size: number, error?: Error): Response {
    const bytes = Buffer.from(text, 'utf8');
    let at = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at < bytes.length) {
          controller.enqueue(new Uint8Array(bytes.subarray(at, at + size)));
          at += size;
        } else if (error) controller.error(error);
        else controller.close();
      },
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'application/json' } });
  }

  /**
   * Both ways of reading the list: a small one is parsed whole; with a secret cap of 1 byte
   * nothing is small enough, so the same body goes through the streaming parser.
   */
  const READERS = [
    { how: 'parsed whole', caps: DEFAULT_BYTE_CAPS },
    { how: 'streamed', caps: { ...DEFAULT_BYTE_CAPS, secretBytes: 1 } },
  ];

  it('reads the list as it arrives, whatever the chunks (multi-byte characters split across them too)', async function () {
    const list = JSON.stringify([
      { id: 1, name: 'other', data: 'not-wanted-value', project_id: 7 },
      { id: 2, name: 'cert', data: 'ünïcødé "quoted" \\ line\nbreak 😀', project_id: 7 },
      { id: 3, name: 'empty', data: '', project_id: 7 },
    ]);
    for (const { how, caps } of READERS) {
      for (const size of [1, 3, 7, 4096]) {
        requestStub.reset();
        requestStub.onFirstCall().resolves(jsonResponse(200, [ADS]));
        requestStub.onSecondCall().resolves(chunked(`${list}\n`, size));
        const values = await fetchMlpSecrets(deps, {
          baseUrl: BASE,
          project: 'ads',
          secrets: ['cert', 'empty'],
          caps,
        });
        assert.deepEqual(
          [...values],
          [
            ['cert', 'ünïcødé "quoted" \\ line\nbreak 😀'],
            ['empty', ''],
          ],
          `${how}, chunks of ${size} bytes`,
        );
      }
    }
  });

  it('reads a list past the size it parses whole by streaming it, the chunks held so far included', async function () {
    const items = Array.from({ length: 600 }, (_, i) => ({ id: i, name: `s${i}`, data: `v${i}-${'x'.repeat(100)}` }));
    const list = JSON.stringify(items);
    assert.ok(list.length > 64 * 1024);
    requestStub.onFirstCall().resolves(jsonResponse(200, [ADS]));
    requestStub.onSecondCall().resolves(chunked(list, 1000));
    const values = await fetchMlpSecrets(deps, { baseUrl: BASE, project: 'ads', secrets: ['s0', 's64', 's599'] });
    assert.deepEqual(
      [...values],
      ['s0', 's64', 's599'].map((name) => [name, items.find((i) => i.name === name)?.data]),
    );
  });

  it('keeps the same values both ways, for any list and any chunking (property)', async function () {
    const name = fc.constantFrom('a', 'b', 'c', 'd', 'ä', 'e"');
    const item = fc.record({ id: fc.nat(), name, data: fc.string({ unit: 'binary', maxLength: 40 }) });
    await fc.assert(
      fc.asyncProperty(fc.array(item, { maxLength: 12 }), fc.integer({ min: 1, max: 64 }), async (list, size) => {
        const expected = new Map<string, string>();
        for (const i of list) expected.set(i.name, i.data);
        const wanted = [...expected.keys()];
        const got = [];
        for (const { caps } of READERS) {
          requestStub.reset();
          requestStub.onFirstCall().resolves(jsonResponse(200, [ADS]));
          requestStub.onSecondCall().resolves(chunked(JSON.stringify(list), size));
          got.push([...(await fetchMlpSecrets(deps, { baseUrl: BASE, project: 'ads', secrets: wanted, caps }))]);
        }
        assert.deepEqual(got[0], [...expected]);
        assert.deepEqual(got[1], [...expected]);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses a 200 that is not a list of secrets, without quoting it', async function () {
    const bodies = [
      '{"error":"no secrets-value-1"}',
      '"secrets-value-1"',
      'null',
      '',
      '  ',
      '[{"name":"x","data":"secrets-value-1"}] [1]',
      '[{"data":"secrets-value-1"}]',
      '["secrets-value-1"]',
      '<html>secrets-value-1</html>',
    ];
    for (const { how, caps } of READERS) {
      for (const text of bodies) {
        requestStub.reset();
        requestStub.onFirstCall().resolves(jsonResponse(200, [ADS]));
        requestStub.onSecondCall().resolves(chunked(text, 5));
        await assert.rejects(
          fetchMlpSecrets(deps, { baseUrl: BASE, project: 'ads', secrets: ['x'], caps }),
          (err: FetcherError) => {
            assert.match(
              err.problem,
              /MLP answered "list secrets" with a body that is not the JSON the MLP API describes/,
              `${how}: ${text}`,
            );
            assert.doesNotMatch(`${err.problem} ${err.fix}`, /secrets-value/);
            return true;
          },
        );
      }
    }
  });

  it('retries a list whose body breaks off, then succeeds', async function () {
    requestStub.onCall(0).resolves(jsonResponse(200, [ADS]));
    requestStub
      .onCall(1)
      .resolves(
        chunked('[{"id":1,"name":"x","data":"x-val', 8, new TypeError('terminated', { cause: { code: 'ECONNRESET' } })),
      );
    requestStub.onCall(2).resolves(jsonResponse(200, [{ id: 1, name: 'x', data: 'x-value-2' }]));
    const values = await fetchMlpSecrets(deps, { baseUrl: BASE, project: 'ads', secrets: ['x'] });
    assert.equal(values.get('x'), 'x-value-2');
    assert.equal(clock.sleeps.length, 1);
    const retried = (deps.http.log as RecordingLogger).lines.find((l) => l.msg === 'retrying');
    assert.match(
      String(retried?.reason),
      /could not read the answer of MLP at http:\/\/mlp:8080 to list secrets \(ECONNRESET\)/,
    );
  });

  it('never quotes a body it cannot parse (it may hold values)', async function () {
    requestStub.onFirstCall().resolves(jsonResponse(200, [ADS]));
    requestStub.onSecondCall().resolves(new Response('[{"name":"x","data":"half-a-secret-val', { status: 200 }));
    await assert.rejects(
      fetchMlpSecrets(deps, { baseUrl: BASE, project: 'ads', secrets: ['x'] }),
      (err: FetcherError) => {
        assert.match(err.problem, /not the JSON the MLP API describes/);
        assert.doesNotMatch(`${err.problem} ${err.fix}`, /half-a-secret/);
        return true;
      },
    );
  });
});
