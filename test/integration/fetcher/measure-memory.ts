/**
 * Peak RSS of the built fetcher for a few project shapes, measured with GNU time (`/usr/bin/time
 * -v`, Debian package `time`) against the same real peers as the integration tests. Not a test:
 * memory depends on the machine, so it prints numbers for a person to compare instead of asserting.
 *
 *   node --import tsx test/integration/fetcher/measure-memory.ts [executable [arguments...]]
 *
 * The executable is measured from a fresh copy: the file postject has just written maps with
 * ~19 MB more resident pages than a copy of it (page-cache state, not the program), which would
 * make builds incomparable.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXECUTABLE, makePod, type PlanSpec, podEnv, startWorld, type World } from './world.js';

interface Scenario {
  label: string;
  /** Secrets in the MLP project: count × bytes each. */
  count: number;
  bytes: number;
  /** How many of them the pod asks for (as files). */
  requested: number;
}

const SCENARIOS: Scenario[] = [
  { label: '1 small secret', count: 1, bytes: 32, requested: 1 },
  { label: '50 × 10 KB, all requested', count: 50, bytes: 10 * 1024, requested: 50 },
  { label: '200 × 50 KB, 30 requested', count: 200, bytes: 50 * 1024, requested: 30 },
  // A 50 MB project: whether memory grows with the project or only with what the pod asks for.
  { label: '1000 × 50 KB, 30 requested', count: 1000, bytes: 50 * 1024, requested: 30 },
];
const RUNS = 3;

function value(bytes: number): string {
  // Printable, incompressible and distinct per secret, like real keys and certificates.
  return randomBytes(Math.ceil((bytes * 3) / 4))
    .toString('base64')
    .slice(0, bytes);
}

async function peakRssKb(command: string[], env: Record<string, string>): Promise<number> {
  const child = spawn('/usr/bin/time', ['-v', ...command], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const match = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  if (code !== 0 || !match) throw new Error(`the fetcher failed (exit ${code}):\n${stderr}`);
  return Number(match[1]);
}

async function measure(world: World, command: string[], scenario: Scenario): Promise<number[]> {
  const pod = await makePod(world);
  const secrets = Object.fromEntries(
    Array.from({ length: scenario.count }, (_, i) => [`secret-${i}`, value(scenario.bytes)]),
  );
  world.mlp.data.addProject({ name: pod.namespace, readers: [pod.identity], secrets });
  const plan: PlanSpec = {
    project: pod.namespace,
    files: Array.from({ length: scenario.requested }, (_, i) => [`secret-${i}`, `g/secret-${i}`] as [string, string]),
  };
  const results: number[] = [];
  for (let run = 0; run < RUNS; run++) results.push(await peakRssKb(command, podEnv(world, pod, plan)));
  return results;
}

const [executable = EXECUTABLE, ...args] = process.argv.slice(2);
const copyDir = mkdtempSync(join(tmpdir(), 'dap-measure-'));
const copy = join(copyDir, 'executable');
copyFileSync(executable, copy);
const command = [copy, ...args];
const world = await startWorld();
try {
  console.log(`peak RSS of ${[executable, ...args].join(' ')} (${RUNS} runs each, MB = 10^6 bytes)`);
  for (const scenario of SCENARIOS) {
    const kb = await measure(world, command, scenario);
    const mb = kb.map((k) => ((k * 1024) / 1e6).toFixed(1));
    console.log(`${scenario.label.padEnd(28)} ${mb.join(' / ')} MB`);
  }
} finally {
  await world.close();
  rmSync(copyDir, { recursive: true, force: true });
}
