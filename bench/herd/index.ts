/**
 * A map task's herd against the real MLP (issue 16): N pods of one project start at once, each
 * fetcher asks MLP for its 4 secrets, at most C at a time. Runs the built fetcher
 * (dist/dap-secret-fetcher) against the real MLP v1.12.0 + PostgreSQL behind the CaraML-like
 * gateway (test/support/real-mlp, MLP with its database pool), for a project holding S secrets.
 *
 * Baseline in the same run, interleaved round by round: the old Go webhook's call pattern for the
 * same pods — per secret, `GET /v1/projects?name=` then `GET /v1/projects/{id}/secrets`, inside
 * the admission request (no retry: an MLP error refused the pod), from a pooled keep-alive
 * client, through the same gateway.
 *
 * Per pod: MLP and PostgreSQL CPU (/proc, PostgreSQL's backends included), MLP requests (the
 * gateway's forwards plus its access checks, each one MLP call); per fetcher run: CPU (user +
 * system from /usr/bin/time, the kernel's rusage), retries (its "retrying" log lines), failures.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { FETCHER_ENV as E } from '../../contract/fetcher-env.js';
import type { Plan } from '../../contract/plan.js';
import { createJwtIssuer, type JwtIssuer, serviceAccountClaims } from '../../test/support/oidc/jwt-issuer.js';
import { type RealMlpGateway, startRealMlpGateway } from '../../test/support/real-mlp/gateway.js';
import { type RealMlp, startRealMlp } from '../../test/support/real-mlp/index.js';
import { MLP_DATABASE_POOL } from '../../test/support/real-mlp/mlp-server.js';
import { EXECUTABLE, TIME_MISSING } from '../fetcher/index.js';
import { processCpuMs, processTreeCpuMs } from '../lib/proc-cpu.js';
import { tempDir } from '../lib/processes.js';
import { median, percentile } from '../lib/stats.js';

const TIME = '/usr/bin/time';
const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const AUDIENCE = 'api.caraml';
const SERVICE_ACCOUNT = 'flyte-task';
/** What one task asks for. */
const SECRETS_PER_POD = 4;
/** A secret value about the size the issue measured (440 KB per pod at 1,000 secrets). */
const VALUE_BYTES = 400;
/** The chart's default fetcher deadline (deploy/helm values fetcher.deadlineSeconds). */
const DEADLINE_SECONDS = 60;
const OUTPUT_LIMIT = 16 * 1024;

type Design = 'fetcher' | 'old';

interface HerdCaseFigures {
  secrets: number;
  design: Design;
  pods: number;
  failed: number;
  /** fetcher: its "retrying" log lines; old design: none (an error refused the pod). */
  retries: number;
  /** One line per distinct failure (no values: fetcher messages never hold them). */
  failures: string[];
  wallSeconds: number;
  podsPerSecond: number;
  mlpCpuMsPerPod: number;
  postgresCpuMsPerPod: number;
  mlpRequestsPerPod: number;
  /** fetcher only: user + system CPU of each run. */
  fetcherCpuMs?: { median: number; p90: number; mean: number };
  fetcherWallMs?: { median: number; p90: number };
}

export interface HerdFigures {
  pods: number;
  concurrency: number;
  rounds: number;
  secretsPerPod: number;
  database: Record<string, unknown>;
  cases: HerdCaseFigures[];
  skipped?: string;
}

export interface HerdOptions {
  /** Pods per (S, design), split over `rounds`. */
  pods: number;
  concurrency: number;
  rounds: number;
  secretCounts: number[];
  progress(line: string): void;
}

interface Totals {
  pods: number;
  failed: number;
  retries: number;
  failures: Set<string>;
  wallMs: number;
  mlpCpuMs: number;
  postgresCpuMs: number;
  mlpRequests: number;
  fetcherCpuMs: number[];
  fetcherWallMs: number[];
}

const emptyTotals = (): Totals => ({
  pods: 0,
  failed: 0,
  retries: 0,
  failures: new Set(),
  wallMs: 0,
  mlpCpuMs: 0,
  postgresCpuMs: 0,
  mlpRequests: 0,
  fetcherCpuMs: [],
  fetcherWallMs: [],
});

/** Runs `task(i)` for i in [0, count) with at most `limit` in flight. */
async function pool(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

interface Herd {
  /** The fetcher executable under test (dist/dap-secret-fetcher). */
  executable: string;
  dir: string;
  mlp: RealMlp;
  gateway: RealMlpGateway;
  cluster: JwtIssuer;
  /** MLP calls so far: every gateway forward, plus its access check (one MLP read) for project paths. */
  mlpRequests(): number;
}

const secretName = (i: number) => `herd_secret_${i}`;
const projectName = (secrets: number) => `herd-s${secrets}`;

async function seed(mlp: RealMlp, secrets: number, readers: string[]): Promise<void> {
  const project = await mlp.createProject({ name: projectName(secrets), readers });
  const value = (i: number) => `v${i}-`.padEnd(VALUE_BYTES, 'x');
  await pool(secrets, 8, (i) =>
    mlp.createSecret(project.id, { name: secretName(i), data: value(i) }).then(() => undefined),
  );
}

interface FetcherRun {
  code: number | null;
  cpuMs: number;
  wallMs: number;
  retries: number;
  stderr: string;
}

/** One fetcher as its init container would run, under /usr/bin/time for its CPU (user + system). */
async function runFetcher(herd: Herd, secrets: number, index: number, round: number): Promise<FetcherRun> {
  const name = `herd-s${secrets}-r${round}-${index}`;
  const podDir = join(herd.dir, name);
  const volume = join(podDir, 'volume');
  mkdirSync(volume, { recursive: true });
  const namespace = projectName(secrets);
  const uid = `00000000-0000-4000-8000-${String(round * 100_000 + index).padStart(12, '0')}`;
  const tokenFile = join(podDir, 'token');
  writeFileSync(
    tokenFile,
    await herd.cluster.sign(serviceAccountClaims(namespace, SERVICE_ACCOUNT, AUDIENCE, name, uid)),
  );
  const plan: Plan = {
    version: 1,
    project: namespace,
    files: Array.from({ length: SECRETS_PER_POD }, (_, k) => ({
      mlpSecret: secretName(k),
      path: `creds/${secretName(k)}`,
    })),
    fileMode: 0o440,
    dirMode: 0o750,
    secret: null,
    fileRoot: volume,
  };
  const env = {
    [E.plan]: JSON.stringify(plan),
    [E.podName]: name,
    [E.podNamespace]: namespace,
    [E.podUid]: uid,
    [E.podServiceAccount]: SERVICE_ACCOUNT,
    [E.mlpApiHost]: herd.gateway.url,
    [E.authMode]: 'serviceaccount',
    [E.mlpTokenFile]: tokenFile,
    [E.tokenAudience]: AUDIENCE,
    [E.deadlineSeconds]: String(DEADLINE_SECONDS),
    [E.terminationLog]: join(podDir, 'termination-log'),
  };
  const timeFile = join(podDir, 'time');
  const started = performance.now();
  const child = spawn(TIME, ['-f', '%U %S', '-o', timeFile, herd.executable], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    if (stdout.length < OUTPUT_LIMIT * 8) stdout += c;
  });
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    if (stderr.length < OUTPUT_LIMIT) stderr += c;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  });
  const wallMs = performance.now() - started;
  // GNU time writes "Command exited with non-zero status N" before the figures on failure.
  const [user, system] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  const retries = stdout.split('\n').filter((line) => line.includes('"retrying"')).length;
  if (code === 0 && !existsSync(join(volume, 'creds', secretName(SECRETS_PER_POD - 1)))) {
    return { code: -1, cpuMs: (user! + system!) * 1000, wallMs, retries, stderr: 'exited 0 without writing its files' };
  }
  rmSync(podDir, { recursive: true, force: true });
  return { code, cpuMs: (user! + system!) * 1000, wallMs, retries, stderr };
}

/** The old webhook's calls for one pod: per secret, find the project, then list its secrets. */
async function oldDesignPod(herd: Herd, agent: http.Agent, token: string, secrets: number): Promise<void> {
  const get = (path: string) =>
    new Promise<unknown>((resolve, reject) => {
      const req = http.get(
        new URL(path, herd.gateway.url),
        { agent, headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' }, timeout: 30_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            if (res.statusCode !== 200)
              reject(new Error(`MLP answered ${res.statusCode} to GET ${path.replace(/\?.*/, '')}`));
            else resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
      req.on('error', reject);
    });
  for (let k = 0; k < SECRETS_PER_POD; k++) {
    const projects = (await get(`/v1/projects?name=${projectName(secrets)}`)) as { id: number; name: string }[];
    const project = projects.find((p) => p.name === projectName(secrets));
    if (!project) throw new Error('project not found');
    const list = (await get(`/v1/projects/${project.id}/secrets`)) as { name: string }[];
    if (!list.some((s) => s.name === secretName(k))) throw new Error(`secret ${secretName(k)} not found`);
  }
}

async function measureRound(herd: Herd, totals: Totals, pods: number, work: () => Promise<void>): Promise<void> {
  const mlpPid = herd.mlp.processes.mlp.pid!;
  const pgPid = herd.mlp.processes.postgres.pid!;
  const before = {
    mlp: processCpuMs(mlpPid),
    pg: processTreeCpuMs(pgPid),
    requests: herd.mlpRequests(),
    at: performance.now(),
  };
  await work();
  totals.wallMs += performance.now() - before.at;
  totals.mlpCpuMs += processCpuMs(mlpPid) - before.mlp;
  totals.postgresCpuMs += processTreeCpuMs(pgPid) - before.pg;
  totals.mlpRequests += herd.mlpRequests() - before.requests;
  totals.pods += pods;
}

function figures(secrets: number, design: Design, t: Totals): HerdCaseFigures {
  const mean = t.fetcherCpuMs.reduce((a, b) => a + b, 0) / t.fetcherCpuMs.length;
  return {
    secrets,
    design,
    pods: t.pods,
    failed: t.failed,
    retries: t.retries,
    failures: [...t.failures].slice(0, 5),
    wallSeconds: t.wallMs / 1000,
    podsPerSecond: (t.pods - t.failed) / (t.wallMs / 1000),
    mlpCpuMsPerPod: t.mlpCpuMs / t.pods,
    postgresCpuMsPerPod: t.postgresCpuMs / t.pods,
    mlpRequestsPerPod: t.mlpRequests / t.pods,
    ...(design === 'fetcher'
      ? {
          fetcherCpuMs: { median: median(t.fetcherCpuMs), p90: percentile(t.fetcherCpuMs, 90), mean },
          fetcherWallMs: { median: median(t.fetcherWallMs), p90: percentile(t.fetcherWallMs, 90) },
        }
      : {}),
  };
}

export async function runHerd(options: HerdOptions): Promise<HerdFigures> {
  const base = {
    pods: options.pods,
    concurrency: options.concurrency,
    rounds: options.rounds,
    secretsPerPod: SECRETS_PER_POD,
    database: {},
    cases: [],
  };
  if (!existsSync(EXECUTABLE)) throw new Error(`${EXECUTABLE} is missing: run npm run build:fetcher`);
  if (!existsSync(TIME)) return { ...base, skipped: TIME_MISSING };
  const temp = tempDir('dap-bench-herd-');
  let mlp: RealMlp | undefined;
  let gateway: RealMlpGateway | undefined;
  try {
    options.progress('herd: starting PostgreSQL and the real MLP (test/support/real-mlp)');
    mlp = await startRealMlp();
    const cluster = await createJwtIssuer(ISSUER);
    gateway = await startRealMlpGateway(mlp, { jwks: cluster.jwks, issuer: ISSUER, audience: AUDIENCE });
    const g = gateway;
    const herd: Herd = {
      executable: EXECUTABLE,
      dir: temp.path,
      mlp,
      gateway: g,
      cluster,
      mlpRequests: () =>
        g.decisions.reduce((n, d) => n + (d.outcome === 'forwarded' ? 1 : 0) + (d.projectId !== null ? 1 : 0), 0),
    };
    // The old webhook called MLP as itself; one identity that may read every herd project.
    const webhookIdentity = `system:serviceaccount:dap-secret-webhook:dap-secret-webhook`;
    const webhookToken = await cluster.sign({ sub: webhookIdentity, aud: AUDIENCE });
    const cases: HerdCaseFigures[] = [];
    for (const secrets of options.secretCounts) {
      options.progress(`herd: seeding project ${projectName(secrets)} with ${secrets} secrets through MLP's API`);
      await seed(mlp, secrets, [`system:serviceaccount:${projectName(secrets)}:${SERVICE_ACCOUNT}`, webhookIdentity]);
      const totals = { fetcher: emptyTotals(), old: emptyTotals() };
      const perRound = Math.ceil(options.pods / options.rounds);
      for (let round = 0; round < options.rounds; round++) {
        options.progress(
          `herd: S=${secrets} round ${round + 1}/${options.rounds}: ${perRound} fetchers, ${options.concurrency} at a time`,
        );
        const f = totals.fetcher;
        await measureRound(herd, f, perRound, () =>
          pool(perRound, options.concurrency, async (i) => {
            const run = await runFetcher(herd, secrets, i, round);
            f.fetcherCpuMs.push(run.cpuMs);
            f.fetcherWallMs.push(run.wallMs);
            f.retries += run.retries;
            if (run.code !== 0) {
              f.failed++;
              f.failures.add(`exit ${run.code}: ${run.stderr.trim().split('\n')[0]?.slice(0, 300)}`);
            }
          }),
        );
        // Bounded ramp: the old design's calls for the same pods at the same concurrency.
        options.progress(
          `herd: S=${secrets} round ${round + 1}/${options.rounds}: the old design's calls for ${perRound} pods`,
        );
        const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
        const o = totals.old;
        await measureRound(herd, o, perRound, () =>
          pool(perRound, options.concurrency, async () => {
            try {
              await oldDesignPod(herd, agent, webhookToken, secrets);
            } catch (err) {
              o.failed++;
              o.failures.add((err as Error).message);
            }
          }),
        );
        agent.destroy();
      }
      cases.push(figures(secrets, 'fetcher', totals.fetcher), figures(secrets, 'old', totals.old));
    }
    return { ...base, database: { ...MLP_DATABASE_POOL }, cases };
  } finally {
    await gateway?.close();
    await mlp?.stop();
    temp.remove();
  }
}
