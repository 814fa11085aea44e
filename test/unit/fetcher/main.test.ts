import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sinon from 'sinon';
import { FETCHER_ENV } from '../../../contract/fetcher-env.js';
import type { HttpTransport } from '../../../fetcher/http.js';
import { HELP, main, VERSION } from '../../../fetcher/main.js';
import { jsonResponse } from './helpers.js';

const TOKEN = 'projected-sa-token-5f4e3d2c1b';

describe('fetcher/main', function () {
  let dir: string;
  let out: string[];
  let err: string[];

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'dap-main-'));
    await mkdir(join(dir, 'volume'));
    await writeFile(join(dir, 'token'), TOKEN);
    out = [];
    err = [];
  });

  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  /** One FILE secret, no per-pod Secret; `over` replaces fields. */
  function plan(over: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      version: 1,
      project: 'ads',
      fileRoot: join(dir, 'volume'),
      files: [{ mlpSecret: 'pw', path: 'db/pw' }],
      fileMode: 0o440,
      dirMode: 0o750,
      secret: null,
      ...over,
    };
  }

  function env(over: Record<string, string | undefined> = {}): Record<string, string | undefined> {
    return {
      DAP_PLAN: JSON.stringify(plan()),
      POD_NAME: 'wf-n0-0',
      POD_NAMESPACE: 'ads',
      POD_UID: '6f1b2a44-58f1-4a43-9d7a-0c6e2b9c1f10',
      POD_SERVICE_ACCOUNT: 'runner',
      MLP_API_HOST: 'https://mlp:8080',
      MLP_TOKEN_FILE: join(dir, 'token'),
      DAP_TERMINATION_LOG: join(dir, 'termination-log'),
      ...over,
    };
  }

  function run(argv: string[], e: Record<string, string | undefined>, requestStub?: sinon.SinonStub) {
    return main(argv, {
      env: e,
      stdout: { write: (l) => out.push(l) },
      stderr: { write: (l) => err.push(l) },
      ...(requestStub ? { request: requestStub as unknown as HttpTransport } : {}),
    });
  }

  function mlp(secretsAnswer: () => Response): sinon.SinonStub {
    return sinon
      .stub()
      .callsFake(async (url: URL) =>
        url.pathname === '/v1/projects' ? jsonResponse(200, [{ id: 7, name: 'ads' }]) : secretsAnswer(),
      );
  }

  it('--version and --help print and exit 0 without reading the environment', async function () {
    assert.equal(await run(['--version'], {}), 0);
    assert.equal(out.join(''), `dap-secret-fetcher ${VERSION}\n`);
    out = [];
    assert.equal(await run(['--help'], {}), 0);
    assert.equal(out.join(''), HELP);
    assert.match(HELP, /MLP_AUTH_MODE/);
  });

  it('--help lines the descriptions up in one column and names every variable', function () {
    const lines = HELP.split('\n');
    const section = lines.slice(lines.indexOf('Environment:') + 1, lines.indexOf('', lines.indexOf('Environment:')));
    assert.ok(section.length > 10, 'an Environment section');
    const starts = new Set<number>();
    for (const line of section) {
      const names = /^ {2}[A-Z][A-Z0-9_]*(, [A-Z][A-Z0-9_]*)*$/.test(line);
      if (names) continue; // a name too long for the column: its description is on the next line
      const described = /^( {2}[A-Z][A-Z0-9_]*(?:, [A-Z][A-Z0-9_]*)* {2,}|\s+)\S/.exec(line);
      assert.ok(described, `not a help row: ${JSON.stringify(line)}`);
      starts.add((described[1] as string).length);
    }
    assert.deepEqual(
      [...starts],
      [[...starts][0]],
      `descriptions start in different columns: ${[...starts].join(', ')}`,
    );
    assert.ok(
      lines.every((l) => l.length <= 100),
      'no line is wider than 100 columns',
    );
    for (const name of Object.values(FETCHER_ENV)) assert.match(HELP, new RegExp(`\\b${name}\\b`), name);
  });

  it('refuses unknown arguments with exit code 2', async function () {
    assert.equal(await run(['--bogus'], env()), 2);
    assert.match(err.join(''), /unknown argument "--bogus"/);
  });

  it('writes an invalid configuration to stderr and the termination message, exit code 2', async function () {
    const code = await run([], env({ MLP_API_HOST: undefined, POD_UID: undefined }));
    assert.equal(code, 2);
    const report = err.join('').trim();
    assert.match(
      report,
      /^dap-secret-fetcher failed \(pod `ads\/wf-n0-0`, MLP project `ads`, secret `pw`\): the fetcher's configuration is invalid: \(1\) POD_UID is not set .* \(2\) MLP_API_HOST is not set/,
    );
    assert.equal(await readFile(join(dir, 'termination-log'), 'utf8'), report);
    const last = JSON.parse(out.at(-1) as string);
    assert.equal(last.msg, 'failed');
    assert.equal(last.exitCode, 2);
  });

  it('delivers the files and logs start, calls and done', async function () {
    const code = await run(
      [],
      env(),
      mlp(() => jsonResponse(200, [{ id: 1, name: 'pw', data: 'pw-value-123' }])),
    );
    assert.equal(code, 0, err.join(''));
    assert.equal(await readFile(join(dir, 'volume/db/pw'), 'utf8'), 'pw-value-123');
    const msgs = out.map((l) => JSON.parse(l).msg);
    assert.deepEqual(msgs, [
      'start',
      'http call',
      'http call',
      'fetched secrets from MLP',
      'wrote secret files',
      'done',
    ]);
    assert.equal(err.length, 0);
  });

  it('reports an unreadable cluster CA file (read while MLP answers) where the Secret is created, after the files', async function () {
    const withSecret = plan({
      secret: { name: 'wf-n0-0-flyte-secrets-1a2b3c', keys: [{ mlpSecret: 'api', key: 'API' }] },
    });
    await writeFile(join(dir, 'kube-token'), 'kube-token-value');
    const code = await run(
      [],
      env({
        DAP_PLAN: JSON.stringify(withSecret),
        DAP_KUBE_API_URL: 'https://127.0.0.1:1',
        DAP_KUBE_TOKEN_FILE: join(dir, 'kube-token'),
        DAP_KUBE_CA_FILE: join(dir, 'no-ca.crt'),
      }),
      mlp(() =>
        jsonResponse(200, [
          { id: 1, name: 'pw', data: 'pw-value-123' },
          { id: 2, name: 'api', data: 'api-value-456' },
        ]),
      ),
    );
    assert.equal(code, 1, err.join(''));
    assert.match(err.join(''), /CA certificate file .*no-ca\.crt \(DAP_KUBE_CA_FILE\) cannot be read \(ENOENT\)/);
    assert.equal(await readFile(join(dir, 'volume/db/pw'), 'utf8'), 'pw-value-123', 'the files came first, as before');
    assert.deepEqual(
      out.map((l) => JSON.parse(l).msg),
      ['start', 'http call', 'http call', 'fetched secrets from MLP', 'wrote secret files', 'failed'],
    );
  });

  it('warns once when MLP_API_HOST is plain http (the token crosses the network in clear), not for https or loopback', async function () {
    const answer = () => jsonResponse(200, [{ id: 1, name: 'pw', data: 'pw-value-123' }]);
    const warnings = () =>
      out
        .map((l) => JSON.parse(l))
        .filter((l) => l.level === 'warn')
        .map((l) => l.msg as string);
    assert.equal(await run([], env({ MLP_API_HOST: 'http://mlp.caraml.svc:8080' }), mlp(answer)), 0, err.join(''));
    assert.equal(warnings().length, 1);
    assert.match(
      warnings()[0]!,
      /^MLP_API_HOST is plain http: the pod's bearer token and the secret values cross the network unencrypted; use an https:\/\/ URL/,
    );
    for (const host of ['https://mlp.caraml.svc:8080', 'http://127.0.0.1:8080', 'http://localhost:8080']) {
      out = [];
      assert.equal(await run([], env({ MLP_API_HOST: host }), mlp(answer)), 0, err.join(''));
      assert.deepEqual(warnings(), [], host);
    }
  });

  it("keeps every log line's level and message when secret values look like them (`info`, an event name)", async function () {
    const twoFiles = plan({
      files: [
        { mlpSecret: 'pw', path: 'db/pw' },
        { mlpSecret: 'ev', path: 'db/ev' },
      ],
    });
    const answer = () =>
      jsonResponse(200, [
        { id: 1, name: 'pw', data: 'info' },
        { id: 2, name: 'ev', data: 'wrote secret files' },
      ]);
    const code = await run([], env({ DAP_PLAN: JSON.stringify(twoFiles) }), mlp(answer));
    assert.equal(code, 0, err.join(''));
    const lines = out.map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => l.level),
      ['info', 'info', 'info', 'info', 'info', 'info'],
    );
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['start', 'http call', 'http call', 'fetched secrets from MLP', 'wrote secret files', 'done'],
    );
    assert.doesNotMatch(out.join(''), /redacted/);
  });

  it('redacts a token a peer echoes back in its error body', async function () {
    const code = await run(
      [],
      env(),
      mlp(() => jsonResponse(401, { error: `token ${TOKEN} is not welcome` })),
    );
    assert.equal(code, 1);
    const report = err.join('');
    assert.match(
      report,
      /MLP denied project `ads` to identity `system:serviceaccount:ads:runner` \(MLP said: token \[redacted\] is not welcome\) \(HTTP 401\)/,
    );
    assert.ok(!out.join('').includes(TOKEN) && !report.includes(TOKEN));
    assert.ok(!(await readFile(join(dir, 'termination-log'), 'utf8')).includes(TOKEN));
  });

  it('cuts the run off shortly after the deadline even if a call ignores its signal (exit code 3)', async function () {
    const hanging = sinon.stub().returns(new Promise(() => {}));
    const code = await run([], env({ DAP_DEADLINE_SECONDS: '0.05' }), hanging);
    assert.equal(code, 3);
    assert.match(err.join(''), /deadline passed/);
  });

  it('still reports when the termination message cannot be written', async function () {
    const code = await run([], env({ DAP_TERMINATION_LOG: join(dir, 'no/such/dir/log'), MLP_API_HOST: 'nope' }));
    assert.equal(code, 2);
    assert.match(err.join(''), /MLP_API_HOST="nope"/);
    assert.ok(out.some((l) => JSON.parse(l).msg === 'could not write the termination message'));
  });
});
