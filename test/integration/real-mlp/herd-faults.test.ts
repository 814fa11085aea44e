/**
 * A map task's fetchers riding out an MLP outage (issue 16): ten built fetchers of one project
 * start together against the real MLP behind the gateway; the gateway first answers 503 with
 * `Retry-After: 2`, then MLP itself is stopped (the gateway answers 502) until the fetchers have
 * met the outage and a few seconds have passed, then MLP comes back on the same URL.
 * Every fetcher must deliver its files after the recovery, every refused request must be followed
 * by a logged retry (none gives up silently), and no fetcher may come back sooner than the
 * gateway's Retry-After asked.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { RequestListener, Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FETCHER_ENV } from '../../../contract/fetcher-env.js';
import { closeServer, createGateway, Faults, listen } from '../../support/mlp/index.js';
import { createJwtIssuer, type JwtIssuer, serviceAccountClaims } from '../../support/oidc/jwt-issuer.js';
import { projectAccessFromMlp } from '../../support/real-mlp/gateway.js';
import { type RealMlp, startRealMlp } from '../../support/real-mlp/index.js';
import { describeRun, ensureExecutable, planJson, type RunResult, runFetcher } from '../fetcher/world.js';

const START_TIMEOUT_MS = 20 * 60 * 1000;
const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const AUDIENCE = 'api.caraml';
const PROJECT = 'herd';
const FETCHERS = 10;
const RETRY_AFTER_SECONDS = 2;
/** The gateway's 503s: about two per fetcher, so most meet one before the outage. */
const GATEWAY_503S = 2 * FETCHERS;
const OUTAGE_MIN_MS = 3_000;
const DEADLINE_SECONDS = 40;

interface Seen {
  at: number;
  identity: string;
  path: string;
  status?: number;
  retryAfter?: string;
  answeredAt?: number;
}

/** Who asked what and what they got, from the bearer token's (unverified) `sub`: the gateway verifies it. */
function recording(inner: RequestListener, seen: Seen[]): RequestListener {
  return (req, res) => {
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
    let identity = '';
    try {
      identity =
        (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub?: string }).sub ??
        '';
    } catch {
      // not a JWT: recorded without identity
    }
    const entry: Seen = { at: Date.now(), identity, path: new URL(req.url ?? '/', 'http://x').pathname };
    seen.push(entry);
    // Headers given to writeHead() are not readable with getHeader(): note them on the way out.
    const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => typeof res;
    res.writeHead = ((status: number, ...rest: unknown[]) => {
      const headers = rest.find((r) => typeof r === 'object' && r !== null) as Record<string, unknown> | undefined;
      const retryAfter = headers && Object.entries(headers).find(([k]) => k.toLowerCase() === 'retry-after')?.[1];
      if (retryAfter !== undefined) entry.retryAfter = String(retryAfter);
      return writeHead(status, ...rest);
    }) as typeof res.writeHead;
    res.on('finish', () => {
      entry.status = res.statusCode;
      entry.answeredAt = Date.now();
    });
    inner(req, res);
  };
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a herd of fetchers through a 503 burst and an MLP outage (real MLP)', function () {
  this.timeout(120_000);
  let mlp: RealMlp;
  let cluster: JwtIssuer;
  let gateway: { server: Server; url: string };
  const faults = new Faults();
  const seen: Seen[] = [];
  let dir: string;
  const values = new Map<string, string>();

  before(async function () {
    this.timeout(START_TIMEOUT_MS);
    ensureExecutable();
    dir = await mkdtemp(join(tmpdir(), 'dap-herd-faults-'));
    cluster = await createJwtIssuer(ISSUER);
    mlp = await startRealMlp();
    gateway = await listen(
      recording(
        faults.wrap(
          createGateway({
            jwks: cluster.jwks,
            issuer: ISSUER,
            audience: AUDIENCE,
            authorize: projectAccessFromMlp(mlp.client),
            upstream: mlp.url,
          }),
        ),
        seen,
      ),
    );
    const secrets: Record<string, string> = {};
    for (let i = 0; i < 20; i++) secrets[`s${i}`] = `herd-value-${i}-${randomUUID()}`;
    for (const [k, v] of Object.entries(secrets)) values.set(k, v);
    const readers = Array.from({ length: FETCHERS }, (_, i) => `system:serviceaccount:${PROJECT}:runner-${i}`);
    await (async () => {
      const project = await mlp.createProject({ name: PROJECT, readers });
      for (const [name, data] of Object.entries(secrets)) await mlp.createSecret(project.id, { name, data });
    })();
  });

  after(async function () {
    this.timeout(30_000);
    faults.close();
    if (gateway) await closeServer(gateway.server);
    await mlp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function runPod(i: number): Promise<{ run: RunResult; volume: string; identity: string }> {
    const serviceAccount = `runner-${i}`;
    const name = `wf-herd-n0-${i}`;
    const uid = randomUUID();
    const podDir = join(dir, name);
    const volume = join(podDir, 'volume');
    await mkdir(volume, { recursive: true });
    const tokenFile = join(podDir, 'token');
    await writeFile(tokenFile, await cluster.sign(serviceAccountClaims(PROJECT, serviceAccount, AUDIENCE, name, uid)));
    const run = await runFetcher(
      {
        [FETCHER_ENV.plan]: planJson(
          {
            project: PROJECT,
            files: [
              ['s1', 'a/s1'],
              [`s${2 + (i % 10)}`, 'b/s'],
            ],
          },
          volume,
        ),
        [FETCHER_ENV.podName]: name,
        [FETCHER_ENV.podNamespace]: PROJECT,
        [FETCHER_ENV.podUid]: uid,
        [FETCHER_ENV.podServiceAccount]: serviceAccount,
        [FETCHER_ENV.mlpApiHost]: gateway.url,
        [FETCHER_ENV.authMode]: 'serviceaccount',
        [FETCHER_ENV.mlpTokenFile]: tokenFile,
        [FETCHER_ENV.tokenAudience]: AUDIENCE,
        [FETCHER_ENV.deadlineSeconds]: String(DEADLINE_SECONDS),
        [FETCHER_ENV.terminationLog]: join(podDir, 'termination-log'),
      },
      // The fetcher's own deadline ends it; this only catches one that would not end.
      (DEADLINE_SECONDS + 15) * 1000,
    );
    return { run, volume, identity: `system:serviceaccount:${PROJECT}:${serviceAccount}` };
  }

  it('every fetcher delivers after the recovery, retries every refusal and waits as long as Retry-After says', async function () {
    faults.failNext(GATEWAY_503S, 503, String(RETRY_AFTER_SECONDS));
    const pods = Promise.all(Array.from({ length: FETCHERS }, (_, i) => runPod(i)));
    // The outage: once the 503s are used up, MLP goes away until fetchers have met it (502s) and a few seconds passed.
    await until(
      'the gateway to hand out its 503s',
      () => seen.filter((s) => s.status === 503).length >= GATEWAY_503S,
      60_000,
    );
    await mlp.stopServer();
    const down = Date.now();
    await until('a fetcher to meet the outage', () => seen.some((s) => s.at >= down && s.status === 502), 60_000);
    await new Promise((r) => setTimeout(r, Math.max(0, down + OUTAGE_MIN_MS - Date.now())));
    await mlp.startServer();
    const results = await pods;

    for (const [i, { run, volume, identity }] of results.entries()) {
      assert.equal(run.code, 0, `fetcher ${i}: ${describeRun(run)}`);
      assert.equal(await readFile(join(volume, 'a/s1'), 'utf8'), values.get('s1'));
      assert.equal(await readFile(join(volume, 'b/s'), 'utf8'), values.get(`s${2 + (i % 10)}`));
      // None gives up silently: each refused request is followed by a logged retry.
      const refused = seen.filter((s) => s.identity === identity && s.status !== 200);
      const retries = run.logs.filter((l) => l.msg === 'retrying');
      assert.equal(
        retries.length,
        refused.length,
        `fetcher ${i}: ${refused.length} refused requests, ${retries.length} retries logged\n${describeRun(run)}`,
      );
      // Retry-After honoured: its next request comes no sooner than the gateway asked.
      const mine = seen.filter((s) => s.identity === identity);
      for (const [k, s] of mine.entries()) {
        if (s.retryAfter === undefined || k + 1 >= mine.length) continue;
        const waitedMs = mine[k + 1]!.at - s.answeredAt!;
        // 100 ms below for timer rounding; a backoff without Retry-After would be < 500 ms here.
        assert.ok(
          waitedMs >= RETRY_AFTER_SECONDS * 1000 - 100,
          `fetcher ${i} came back ${waitedMs} ms after a Retry-After: ${RETRY_AFTER_SECONDS}`,
        );
      }
    }
    // The faults really happened under load: every 503 handed out with its Retry-After, and the outage met.
    assert.equal(
      seen.filter((s) => s.status === 503 && s.retryAfter === String(RETRY_AFTER_SECONDS)).length,
      GATEWAY_503S,
    );
    assert.ok(
      seen.some((s) => s.status === 502),
      'some fetcher met the outage',
    );
  });
});
