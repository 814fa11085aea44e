/**
 * The built fetcher against peers that try to exhaust its memory: a 2 GiB body streamed as fast
 * as the loopback takes it, a gzip body of about 1 MB that inflates to 1 GiB, an endless value
 * for a requested secret, an endless error body, an endless ID token. Each run must end with a
 * clear message naming the cap, without retrying, and with a peak RSS far below the fetcher's
 * 256Mi limit (GNU time's maximum resident set size: a bound, not a timing).
 *
 * Before the caps these runs reached 3-6 GB and were OOM-killed under the limit with no message.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DEFAULT_BYTE_CAPS } from '../../../contract/fetcher-env.js';
import { skipFor } from '../../support/skips.js';
import { EXECUTABLE, ensureExecutable, planJson } from './world.js';

const GNU_TIME = '/usr/bin/time';
/** Well below the 256Mi limit; a normal run peaks near 60-100 MiB. */
const RSS_BOUND_MIB = 160;
const TWO_GIB = 2 * 1024 * 1024 * 1024;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Writes `chunk` until `total` bytes are sent or the client goes away, respecting backpressure. */
function stream(res: ServerResponse, chunk: Buffer, total: number, prefix = ''): void {
  let sent = 0;
  if (prefix) res.write(prefix);
  const pump = (): void => {
    while (sent < total && !res.destroyed) {
      sent += chunk.length;
      if (!res.write(chunk)) return void res.once('drain', pump);
    }
    if (!res.destroyed) res.end();
  };
  res.on('error', () => {});
  pump();
}

describe('dap-secret-fetcher against hostile peers (byte caps, bounded memory)', function () {
  this.timeout(120_000);
  let server: Server;
  let base: string;
  let handler: Handler;
  let requests: string[];
  let dir: string;

  before(async function () {
    if (!existsSync(GNU_TIME))
      skipFor(this, `${GNU_TIME} (Debian package \`time\`, installed by .ci/run) is missing: it measures the peak RSS`);
    this.timeout(240_000);
    ensureExecutable();
    dir = await mkdtemp(join(tmpdir(), 'dap-fetcher-hostile-'));
    await writeFile(join(dir, 'token'), 'header.payload.signature-of-a-projected-token');
    server = createServer((req, res) => {
      requests.push(new URL(req.url ?? '/', 'http://x').pathname);
      handler(req, res);
    });
    server.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async function () {
    server?.closeAllConnections();
    server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  beforeEach(function () {
    requests = [];
  });

  async function runMeasured(
    extra: Record<string, string> = {},
  ): Promise<{ code: number | null; stderr: string; termination: string; rssMiB: number }> {
    const volume = await mkdtemp(join(dir, 'volume-'));
    await mkdir(volume, { recursive: true });
    const termination = join(volume, '..', `${volume.split('/').pop()}.termination`);
    const env = {
      DAP_PLAN: planJson({ project: 'ads', files: [['pw', 'db/pw']] }, volume),
      POD_NAME: 'wf-hostile-n0-0',
      POD_NAMESPACE: 'ads',
      POD_UID: '0d6f6a8e-1c2b-4d5e-9f00-000000000001',
      MLP_API_HOST: base,
      MLP_TOKEN_FILE: join(dir, 'token'),
      DAP_DEADLINE_SECONDS: '60',
      DAP_TERMINATION_LOG: termination,
      ...extra,
    };
    const timeFile = `${termination}.time`;
    const child = spawn(GNU_TIME, ['-v', '-o', timeFile, EXECUTABLE], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    const stats = await readFile(timeFile, 'utf8');
    const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stats);
    assert.ok(rss, `GNU time printed no peak RSS:\n${stats}`);
    return {
      code,
      stderr: stderr.trim(),
      termination: await readFile(termination, 'utf8').catch(() => ''),
      rssMiB: Number(rss[1]) / 1024,
    };
  }

  function assertBounded(
    run: { code: number | null; stderr: string; termination: string; rssMiB: number },
    message: RegExp,
  ): void {
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, message);
    assert.equal(run.termination, run.stderr, 'the same paragraph is the termination message');
    assert.ok(run.rssMiB < RSS_BOUND_MIB, `peak RSS ${run.rssMiB.toFixed(0)} MiB, bound ${RSS_BOUND_MIB} MiB`);
  }

  const projects = JSON.stringify([{ id: 7, name: 'ads' }]);

  it('a 2 GiB project list: stops at DAP_MAX_PROJECTS_BYTES, no retry', async function () {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      stream(res, Buffer.alloc(64 * 1024, 0x20), TWO_GIB, '[');
    };
    const run = await runMeasured();
    assertBounded(
      run,
      /MLP sent more than 4 MiB in its answer to list projects \(counted after decompression\); the fetcher stopped reading\. .*raise DAP_MAX_PROJECTS_BYTES/,
    );
    assert.deepEqual(requests, ['/v1/projects']);
  });

  it('a 2 GiB secrets list: stops at DAP_MAX_SECRETS_BYTES (set lower here), no retry', async function () {
    const item = Buffer.from(`${JSON.stringify({ id: 1, name: 'other', data: 'x'.repeat(1000) })},`);
    handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url?.startsWith('/v1/projects?')) return void res.end(projects);
      stream(res, Buffer.concat(Array.from({ length: 64 }, () => item)), TWO_GIB, '[');
    };
    const run = await runMeasured({ DAP_MAX_SECRETS_BYTES: String(16 * 1024 * 1024) });
    assertBounded(run, /MLP sent more than 16 MiB in its answer to list secrets .*raise DAP_MAX_SECRETS_BYTES/);
    assert.deepEqual(requests, ['/v1/projects', '/v1/projects/7/secrets']);
  });

  it('the default secrets-list cap holds too (64 MiB streamed, memory stays flat)', async function () {
    const item = Buffer.from(`${JSON.stringify({ id: 1, name: 'other', data: 'x'.repeat(1000) })},`);
    handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url?.startsWith('/v1/projects?')) return void res.end(projects);
      stream(res, Buffer.concat(Array.from({ length: 64 }, () => item)), TWO_GIB, '[');
    };
    const run = await runMeasured();
    assertBounded(
      run,
      new RegExp(
        `MLP sent more than ${DEFAULT_BYTE_CAPS.secretsBytes / 1024 / 1024} MiB in its answer to list secrets`,
      ),
    );
  });

  it('about 1 MB of gzip inflating to 1 GiB: stopped as it inflates', async function () {
    // 1024 gzip members of 1 MiB of spaces each; gunzip reads concatenated members as one stream.
    const member = gzipSync(Buffer.alloc(1024 * 1024, 0x20), { level: 9 });
    const bomb = Buffer.concat(Array.from({ length: 1024 }, () => member));
    assert.ok(bomb.length < 1.5 * 1024 * 1024, `the bomb is ${bomb.length} bytes`);
    handler = (_req, res) => {
      res.on('error', () => {});
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(bomb);
    };
    const run = await runMeasured();
    assertBounded(run, /MLP sent more than 4 MiB in its answer to list projects \(counted after decompression\)/);
    assert.deepEqual(requests, ['/v1/projects']);
  });

  it('an endless value for a requested secret: stops at DAP_MAX_SECRET_BYTES', async function () {
    handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url?.startsWith('/v1/projects?')) return void res.end(projects);
      stream(res, Buffer.alloc(64 * 1024, 0x78), TWO_GIB, '[{"id":1,"name":"pw","data":"');
    };
    const run = await runMeasured();
    assertBounded(
      run,
      /MLP sent more than 1 MiB in one secret of the list to list secrets .*raise DAP_MAX_SECRET_BYTES/,
    );
    assert.deepEqual(requests, ['/v1/projects', '/v1/projects/7/secrets']);
  });

  it('a list repeating a requested secret with a different value each time: memory stays flat (only the value kept is registered for redaction)', async function () {
    // 1.2 million items of ~52 bytes, just under the 64 MiB list cap, each naming the requested
    // secret with another value. Registering each for redaction took ~290-340 MiB (OOM under 256Mi).
    const items = 1_200_000;
    handler = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url?.startsWith('/v1/projects?')) return void res.end(projects);
      res.on('error', () => {});
      let i = 0;
      const pump = (): void => {
        while (i < items && !res.destroyed) {
          const batch: string[] = [];
          for (let n = 0; n < 4096 && i < items; n++, i++)
            batch.push(`{"id":${i},"name":"pw","data":"value-${String(i).padStart(9, '0')}"}`);
          if (!res.write(`${i <= 4096 ? '[' : ','}${batch.join(',')}`)) return void res.once('drain', pump);
        }
        if (!res.destroyed) res.end(']');
      };
      pump();
    };
    const run = await runMeasured();
    assert.equal(run.code, 0, run.stderr);
    assert.ok(
      run.rssMiB < RSS_BOUND_MIB,
      `peak RSS ${run.rssMiB.toFixed(0)} MiB, bound ${RSS_BOUND_MIB} MiB\n${run.stderr}`,
    );
    assert.deepEqual(requests, ['/v1/projects', '/v1/projects/7/secrets']);
  });

  it('a 2 GiB error body: quoted short and clean, the status decides', async function () {
    handler = (_req, res) => {
      res.writeHead(403, { 'content-type': 'text/plain' });
      stream(res, Buffer.from('denied \u001b[2J\n{"level":"info","msg":"forged"} '.repeat(1000)), TWO_GIB);
    };
    const run = await runMeasured();
    assertBounded(
      run,
      /MLP denied project `ads` to identity .* \(MLP said: denied \[2J \{"level":"info","msg":"forged"\} denied/,
    );
    // biome-ignore lint/suspicious/noControlCharactersInRegex: looking for a raw ESC is the point
    assert.doesNotMatch(run.stderr, /\u001b|\n./, 'no escape sequences or extra lines');
    assert.ok(run.stderr.length < 1500, `${run.stderr.length} characters`);
    assert.deepEqual(requests, ['/v1/projects']);
  });

  it('an endless ID token from the metadata server (gcp-workload-identity)', async function () {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      stream(res, Buffer.alloc(64 * 1024, 0x61), TWO_GIB);
    };
    const port = (server.address() as AddressInfo).port;
    const run = await runMeasured({ MLP_AUTH_MODE: 'gcp-workload-identity', GCE_METADATA_HOST: `127.0.0.1:${port}` });
    assertBounded(
      run,
      /the GKE metadata server sent more than 64 KiB in its answer to get an ID token for audience api\.caraml/,
    );
    assert.deepEqual(requests, ['/computeMetadata/v1/instance/service-accounts/default/identity']);
  });
});
