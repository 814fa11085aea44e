/**
 * The golden cases again, through the two other doors: the built `render` CLI
 * (dist/webhook/dap-secret-webhook.mjs, as an admin runs it) and the HTTPS admission endpoint of a
 * running server (HTTP/1.1 and HTTP/2), the patch applied to the input as the API server would.
 * Each case runs with its own admin settings (config.yaml `env`): the CLI gets them as its
 * environment; one server is started per distinct setting.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { Writable } from 'node:stream';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { parse } from 'yaml';
import { podReview } from '../../../webhook/render.js';
import { type RunningServer, serve } from '../../../webhook/server/serve.js';
import { GOLDEN_ENV, goldenCaseNames, goldenUid, loadGolden } from '../../support/goldens.js';

const BUNDLE = 'dist/webhook/dap-secret-webhook.mjs';
/** The admission warnings `render` prints on stderr, one `warning: ` line each. */
const warningLines = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => l.startsWith('warning: '))
    .map((l) => l.slice('warning: '.length));

describe('golden pods through the built render CLI', function () {
  this.timeout(60_000);
  before(function () {
    if (!existsSync(BUNDLE)) assert.fail(`${BUNDLE} is missing: run npm run build (npm test does)`);
  });

  for (const name of goldenCaseNames()) {
    it(name, () => {
      const golden = loadGolden(name);
      const run = spawnSync(process.execPath, [BUNDLE, 'render', '-', '--uid', goldenUid(name), '-o', 'yaml'], {
        input: golden.inputText,
        env: { PATH: process.env.PATH, ...golden.env },
        encoding: 'utf8',
      });
      if (golden.expected.kind === 'denied') {
        assert.equal(run.status, 1, run.stderr);
        assert.equal(run.stderr, `denied: ${golden.expected.message}\n`);
        assert.equal(run.stdout, '');
      } else {
        assert.equal(run.status, 0, run.stderr);
        assert.deepEqual(parse(run.stdout), golden.expected.pod);
        assert.deepEqual(warningLines(run.stderr), golden.warnings);
      }
    });
  }

  it('works offline with no env at all: development values for the two required settings, said on stderr; stdout is only the pod', () => {
    const golden = loadGolden('file-single');
    const run = spawnSync(process.execPath, [BUNDLE, 'render', '-', '-o', 'yaml'], {
      input: golden.inputText,
      env: { PATH: process.env.PATH },
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(
      run.stderr,
      'render: FETCHER_IMAGE not set, using the development value dap-secret-fetcher:dev\nrender: MLP_API_HOST not set, using the development value http://127.0.0.1:8081\n',
    );
    const pod = parse(run.stdout) as {
      spec: { initContainers: { name: string; image: string; env: { name: string; value?: string }[] }[] };
    };
    const fetcher = pod.spec.initContainers.find((c) => c.name === 'fetcher')!;
    assert.equal(fetcher.image, 'dap-secret-fetcher:dev');
    assert.equal(fetcher.env.find((e) => e.name === 'MLP_API_HOST')?.value, 'http://127.0.0.1:8081');
  });

  it('exits 2 with one line per config problem when the admin config is wrong', () => {
    const run = spawnSync(process.execPath, [BUNDLE, 'render', '-'], {
      input: '{}',
      env: { PATH: process.env.PATH, ...GOLDEN_ENV, FETCHER_IMAGE_PULL_POLICY: 'Sometimes', MLP_AUTH_MODE: 'kerberos' },
      encoding: 'utf8',
    });
    assert.equal(run.status, 2);
    assert.equal(
      run.stderr,
      'config: FETCHER_IMAGE_PULL_POLICY="Sometimes" must be one of IfNotPresent, Always, Never\nconfig: MLP_AUTH_MODE="kerberos" must be one of serviceaccount, token-exchange, gcp-workload-identity\n',
    );
  });

  it('encodes a secret into the annotation value Flyte writes (the Go vectors), and decode reads it back', () => {
    const vectors = JSON.parse(readFileSync('test/fixtures/flyte-secret-vectors.json', 'utf8')) as {
      name: string;
      annotation_value: string;
      secret: Record<string, string | undefined>;
    }[];
    const v = vectors.find((x) => x.name === 'group+key ENV_VAR')!;
    const run = spawnSync(
      process.execPath,
      [BUNDLE, 'encode', '--group', v.secret.group!, '--key', v.secret.key!, '--mount', 'ENV_VAR'],
      { encoding: 'utf8' },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, `${v.annotation_value}\n`);
    const back = spawnSync(process.execPath, [BUNDLE, 'decode', run.stdout.trim()], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(back.stdout).secret, {
      group: 'my-secrets',
      groupVersion: '',
      key: 'api_token',
      mountRequirement: 'ENV_VAR',
      envVar: '',
    });
    const bad = spawnSync(process.execPath, [BUNDLE, 'encode', '--group', 'g', '--mount', 'FILE'], {
      encoding: 'utf8',
    });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--key is required: it is the MLP secret's name/);
  });

  it('decodes one annotation', () => {
    const run = spawnSync(
      process.execPath,
      [
        BUNDLE,
        'decode',
        'm4zg54lqhiqcezdcfvrxezleomrau12fpe4caitqmfzxg42pojscectnn41w34c6ojsxc4ljojsw1zlooq4carsjjrcqu',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout).flytekit_lookup, {
      env_var: '_FSEC_DB-CREDS_PASSWORD',
      file_path: '/etc/flyte/secrets/db-creds/password',
    });
  });
});

type Post = (body: string) => Promise<{ status: number; body: string }>;

function http1Post(port: number, ca: string, path: string): Post {
  return (body) =>
    new Promise((resolve, reject) => {
      const req = https.request(
        {
          host: '127.0.0.1',
          port,
          path,
          method: 'POST',
          ca,
          servername: 'localhost',
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          let data = '';
          res.on('data', (c: Buffer) => (data += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
}

function http2Post(session: http2.ClientHttp2Session, path: string): Post {
  return (body) =>
    new Promise((resolve, reject) => {
      const req = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/json' });
      let status = 0;
      let data = '';
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (c: Buffer) => (data += c.toString()));
      req.on('end', () => resolve({ status, body: data }));
      req.on('error', reject);
      req.end(body);
    });
}

describe('golden pods through the HTTPS admission endpoint', function () {
  this.timeout(60_000);
  const cases = goldenCaseNames().map(loadGolden);
  /** One server per distinct admin setting, keyed by its env as JSON. */
  const servers = new Map<
    string,
    { server: RunningServer; session: http2.ClientHttp2Session; doors: Record<string, Post> }
  >();
  const keyOf = (env: Record<string, string>) => JSON.stringify(Object.entries(env).sort());

  before(async () => {
    const quiet = new Writable({ write: (_c, _e, cb) => cb() });
    for (const golden of cases) {
      const key = keyOf(golden.env);
      if (servers.has(key)) continue;
      const server = await serve(
        { ...golden.env, WEBHOOK_HOST: '127.0.0.1', WEBHOOK_PORT: '0', HEALTH_PORT: '0', WEBHOOK_REGISTER: 'false' },
        { handleSignals: false, logDestination: quiet, drainDelayMs: 0 },
      );
      const ca = server.generatedCaPem!;
      const session = http2.connect(`https://127.0.0.1:${server.port}`, { ca, servername: 'localhost' });
      servers.set(key, {
        server,
        session,
        doors: { 'HTTP/1.1': http1Post(server.port, ca, '/mutate'), 'HTTP/2': http2Post(session, '/mutate') },
      });
    }
  });
  after(async () => {
    for (const { server, session } of servers.values()) {
      session.close();
      await server.stop();
    }
  });

  it('runs the cases with their own settings (more than one server)', () => {
    assert.ok(servers.size > 1, `${servers.size} distinct settings`);
  });

  for (const protocol of ['HTTP/1.1', 'HTTP/2']) {
    for (const golden of cases) {
      const name = golden.name;
      it(`${protocol} ${name}`, async () => {
        const review = podReview(golden.input, { uid: goldenUid(name) });
        const res = await servers.get(keyOf(golden.env))!.doors[protocol]!(JSON.stringify(review));
        assert.equal(res.status, 200);
        const response = JSON.parse(res.body).response as {
          uid: string;
          allowed: boolean;
          patch?: string;
          status?: { message: string };
          warnings?: string[];
        };
        assert.equal(response.uid, goldenUid(name));
        if (golden.expected.kind === 'denied') {
          assert.equal(response.allowed, false);
          assert.equal(response.status!.message, golden.expected.message);
          return;
        }
        assert.equal(response.allowed, true);
        const ops = response.patch ? (JSON.parse(Buffer.from(response.patch, 'base64').toString()) as Operation[]) : [];
        const mutated = fastJsonPatch.applyPatch(structuredClone(golden.input), ops, true, false).newDocument;
        assert.deepEqual(mutated, golden.expected.pod);
        assert.deepEqual(response.warnings ?? [], golden.warnings);
      });
    }
  }
});
