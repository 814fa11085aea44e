/**
 * The built fetcher (dist/dap-secret-fetcher) end to end, as the init container runs it: RUNS
 * runs per case against the MLP stand-in (behind its gateway) and the Kubernetes Secrets API
 * stand-in on loopback, interleaved with the same executable's `--version` (the floor: start-up
 * of the Node single-executable runtime and nothing else), so background noise hits all alike.
 * Wall time is measured here from spawn to exit; peak RSS by `/usr/bin/time -f %M` (the kernel's
 * wait4 rusage of the child). Also the executable's size, raw and gzip-compressed.
 */
import { spawn } from 'node:child_process';
import { createReadStream, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { maxFinite, median, percentile, ratio } from '../lib/stats.js';
import { addProject, makePod, type Peers, startPeers } from './peers.js';

export const EXECUTABLE = fileURLToPath(new URL('../../dist/dap-secret-fetcher', import.meta.url));
const TIME = '/usr/bin/time';
export const TIME_MISSING = '/usr/bin/time not found: apt-get install time (Debian/Ubuntu)';
export const RUNS = 20;
const RUN_TIMEOUT_MS = 30_000;

interface FetcherCase {
  id: string;
  label: string;
  files: number;
  envSecrets: number;
}

/** 1 secret each way (ENV_VAR also creates the per-pod Secret), and 16 mixed. */
const CASES: readonly FetcherCase[] = [
  { id: '1-file', label: '1 secret (FILE)', files: 1, envSecrets: 0 },
  { id: '1-env', label: '1 secret (ENV_VAR)', files: 0, envSecrets: 1 },
  { id: '16-mixed', label: '16 secrets (8 FILE, 8 ENV_VAR)', files: 8, envSecrets: 8 },
];

export interface Timing {
  runs: number;
  wallMs: { median: number; p90: number; samples: number[] };
  /** Peak RSS per run (bytes), from /usr/bin/time; empty when it is missing. */
  peakRssBytes: { median: number; max: number; samples: number[] };
}

interface FetcherCaseResult extends Timing {
  id: string;
  label: string;
  /** median / `--version` median, p90 / `--version` p90 */
  medianRatio: number;
  p90Ratio: number;
}

export interface FetcherFigures {
  executableBytes: number;
  executableGzipBytes: number;
  version: Timing;
  cases: FetcherCaseResult[];
  /** Why peak RSS is missing, when it is. */
  rssSkipped?: string;
  /** The filesystem the pods' secret volumes were on (a pod's is a tmpfs). */
  volumes: string;
}

export interface FetcherOptions {
  runs: number;
  progress(line: string): void;
}

interface OneRun {
  wallMs: number;
  peakRssBytes: number;
  code: number | null;
  stderr: string;
}

async function runOnce(args: string[], env: Record<string, string>, rssFile: string | null): Promise<OneRun> {
  const [command, argv] = rssFile ? [TIME, ['-f', '%M', '-o', rssFile, EXECUTABLE, ...args]] : [EXECUTABLE, args];
  const started = performance.now();
  const child = spawn(command, argv, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolve(c));
  }).finally(() => clearTimeout(timer));
  const wallMs = performance.now() - started;
  let peakRssBytes = Number.NaN;
  if (rssFile) {
    // GNU time writes "Command exited with non-zero status N" before the figure on failure.
    const kib = Number(readFileSync(rssFile, 'utf8').trim().split('\n').at(-1));
    peakRssBytes = kib * 1024;
    rmSync(rssFile, { force: true });
  }
  return { wallMs, peakRssBytes, code, stderr };
}

function timing(runs: OneRun[]): Timing {
  const wall = runs.map((r) => r.wallMs);
  const rss = runs.map((r) => r.peakRssBytes).filter(Number.isFinite);
  return {
    runs: runs.length,
    wallMs: { median: median(wall), p90: percentile(wall, 90), samples: wall },
    peakRssBytes: { median: rss.length > 0 ? median(rss) : Number.NaN, max: maxFinite(rss), samples: rss },
  };
}

async function gzipSize(path: string): Promise<number> {
  let bytes = 0;
  await pipeline(
    createReadStream(path),
    createGzip(),
    new Writable({
      write: (chunk: Buffer, _e, cb) => {
        bytes += chunk.length;
        cb();
      },
    }),
  );
  return bytes;
}

function secretName(i: number): string {
  return `secret_${i}`;
}

/** The MLP secrets every pod's project holds: the 16 a pod may ask for, and others it does not. */
function projectSecrets(): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (let i = 0; i < 24; i++) secrets[secretName(i)] = `value-${i}-${'x'.repeat(48)}`;
  return secrets;
}

export async function runFetcherBench(options: FetcherOptions): Promise<FetcherFigures> {
  if (!existsSync(EXECUTABLE)) throw new Error(`${EXECUTABLE} is missing: run npm run build:fetcher`);
  const measureRss = existsSync(TIME);
  options.progress('fetcher: executable size (gzip)');
  const executableBytes = statSync(EXECUTABLE).size;
  const executableGzipBytes = await gzipSize(EXECUTABLE);

  let peers: Peers | undefined;
  try {
    peers = await startPeers();
    const rssFile = measureRss ? join(peers.dir, 'rss') : null;
    for (const c of CASES) addProject(peers, `bench-${c.id}`, projectSecrets());

    const versionRuns: OneRun[] = [];
    const caseRuns = new Map<string, OneRun[]>(CASES.map((c) => [c.id, []]));
    for (let i = 0; i < options.runs; i++) {
      options.progress(`fetcher run ${i + 1}/${options.runs}`);
      const version = await runOnce(['--version'], {}, rssFile);
      if (version.code !== 0)
        throw new Error(`dap-secret-fetcher --version exited with ${version.code}: ${version.stderr}`);
      versionRuns.push(version);
      for (const c of CASES) {
        const namespace = `bench-${c.id}`;
        const name = `wf-bench-${i}-n0-0`;
        const pod = await makePod(peers, namespace, name, `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, {
          version: 1,
          project: namespace,
          files: Array.from({ length: c.files }, (_, k) => ({
            mlpSecret: secretName(k),
            path: `team-${k % 3}-creds/${secretName(k)}`,
          })),
          fileMode: 0o440,
          dirMode: 0o750,
          secret:
            c.envSecrets === 0
              ? null
              : {
                  name: `${name}-flyte-secrets`,
                  keys: Array.from({ length: c.envSecrets }, (_, k) => ({
                    mlpSecret: secretName(c.files + k),
                    key: `_FSEC_TEAM_${k}_SECRET_${c.files + k}`,
                  })),
                },
        });
        const run = await runOnce([], pod.env, rssFile);
        if (run.code !== 0)
          throw new Error(`the fetcher failed (${c.label}, run ${i + 1}) with exit ${run.code}: ${run.stderr}`);
        // Delivered, not just exited 0: the files and the Secret are there.
        const written =
          c.files === 0
            ? 0
            : readdirSync(pod.volume, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
        if (written !== c.files)
          throw new Error(`the fetcher wrote ${written} files for ${c.label}, expected ${c.files}`);
        if (c.envSecrets > 0 && !peers.kube.secrets.has(`${namespace}/${name}-flyte-secrets`))
          throw new Error(`the fetcher did not create the Secret for ${c.label}`);
        rmSync(pod.volume, { recursive: true, force: true });
        caseRuns.get(c.id)!.push(run);
      }
    }
    const version = timing(versionRuns);
    const cases = CASES.map((c) => {
      const t = timing(caseRuns.get(c.id)!);
      return {
        id: c.id,
        label: c.label,
        ...t,
        medianRatio: ratio(t.wallMs.median, version.wallMs.median),
        p90Ratio: ratio(t.wallMs.p90, version.wallMs.p90),
      };
    });
    return {
      executableBytes,
      executableGzipBytes,
      version,
      cases,
      volumes: peers.volumes,
      ...(measureRss ? {} : { rssSkipped: TIME_MISSING }),
    };
  } finally {
    await peers?.close();
  }
}
