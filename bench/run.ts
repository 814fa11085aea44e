/**
 * `npm run bench` (after `npm run build`): the admit() micro-benchmark, admission load against
 * the built webhook and the baseline server, then the built fetcher end to end. Prints one table
 * and writes the figures as JSON to bench/results/latest.json.
 *
 *   npm run bench                  full run (≈ 4 minutes on 2 cores)
 *   npm run bench -- --quick       short runs (1 s per load, 5 fetcher runs) to try changes
 *   npm run bench -- --only=admission,micro,fetcher
 *   npm run bench -- --only=podstart   pod start on the real node (root; test/node/run.sh's runner)
 *   npm run bench -- --cpu-prof    also profile the webhook (.cpuprofile in bench/results/profiles/;
 *                                  figures then include the profiler's overhead)
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runAdmission } from './admission/index.js';
import { runMicro } from './admission/micro.js';
import { capsTable, runCapsBench } from './admission-caps.js';
import { runControlPlane } from './control-plane/index.js';
import { RUNS, runFetcherBench } from './fetcher/index.js';
import { runHerd } from './herd/index.js';
import { describeMachine, loadAverage1m, sourceRevision } from './lib/machine.js';
import { renderTable } from './lib/table.js';
import { runPodStart } from './podstart/index.js';
import { formatProfileSummary } from './profile-summary.js';
import { type BenchFigures, benchTable, judge } from './report.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = fileURLToPath(new URL('./results/', import.meta.url));
const README = fileURLToPath(new URL('./README.md', import.meta.url));
const FIGURES_START = '<!-- bench:figures:start (written by npm run bench) -->';
const FIGURES_END = '<!-- bench:figures:end -->';
const PARTS = ['micro', 'admission', 'control-plane', 'fetcher', 'herd', 'podstart', 'caps'] as const;

// A signal should still run the 'exit' handlers that stop the child processes (lib/processes.ts).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    // The herd's size: 2 cores cannot run 500 fetchers per case in a few minutes (see bench/README.md).
    'herd-pods': { type: 'string' },
    'herd-concurrency': { type: 'string' },
  },
});
const only = values.only ? values.only.split(',') : [...PARTS];
for (const part of only)
  if (!(PARTS as readonly string[]).includes(part))
    throw new Error(`--only: unknown part ${JSON.stringify(part)}; use ${PARTS.join(',')}`);
const settings = values.quick
  ? {
      rateSeconds: 1,
      saturationSeconds: 1,
      warmupSeconds: 0.5,
      idleSeconds: 3,
      fetcherRuns: 5,
      microBudgetMs: 300,
      controlPlane: { podsPerRound: 60, rounds: 2 },
      herd: { pods: 40, rounds: 1 },
      podStartSamples: 3,
    }
  : {
      rateSeconds: 4,
      saturationSeconds: 3,
      warmupSeconds: 0.5,
      idleSeconds: 10,
      fetcherRuns: RUNS,
      microBudgetMs: 1_000,
      controlPlane: { podsPerRound: 300, rounds: 3 },
      herd: { pods: 200, rounds: 2 },
      podStartSamples: 9,
    };
const positive = (name: string, text: string | undefined, fallback: number) => {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name}: a positive whole number, got ${JSON.stringify(text)}`);
  return n;
};
const herdPods = positive('herd-pods', values['herd-pods'], settings.herd.pods);
const herdConcurrency = positive('herd-concurrency', values['herd-concurrency'], 25);
const profileDir = values['cpu-prof'] ? `${RESULTS}profiles` : undefined;
const progress = (line: string) => process.stderr.write(`${line}\n`);

const startedAt = new Date();
const loadAtStart = loadAverage1m();
const figures: BenchFigures = {};
if (only.includes('micro')) {
  progress('admit() micro-benchmark');
  figures.micro = runMicro(settings.microBudgetMs);
}
if (profileDir) {
  rmSync(profileDir, { recursive: true, force: true });
  mkdirSync(profileDir, { recursive: true });
}
if (only.includes('admission')) {
  figures.admission = await runAdmission({
    ...settings,
    progress,
    ...(profileDir ? { webhookNodeOptions: `--cpu-prof --cpu-prof-dir=${profileDir}` } : {}),
  });
}
if (only.includes('control-plane')) {
  figures.controlPlane = await runControlPlane({
    ...settings.controlPlane,
    concurrency: 8,
    progress,
    ...(profileDir ? { webhookNodeOptions: `--cpu-prof --cpu-prof-dir=${profileDir}` } : {}),
  });
}
if (only.includes('fetcher')) figures.fetcher = await runFetcherBench({ runs: settings.fetcherRuns, progress });
if (only.includes('herd'))
  figures.herd = await runHerd({
    pods: herdPods,
    concurrency: herdConcurrency,
    rounds: settings.herd.rounds,
    secretCounts: [10, 1_000],
    progress,
  });
// The real-node tier's runner (root; takes the node tier's machine-wide lock, waiting if held).
if (only.includes('podstart')) figures.podStart = await runPodStart({ samples: settings.podStartSamples, progress });
// Its own table (bench/admission-caps.ts): the largest pod the default caps admit.
const caps = only.includes('caps') ? await runCapsBench(progress) : undefined;

const machine = { ...describeMachine(), loadAverage: { start: loadAtStart, end: loadAverage1m() } };
const targets = judge(figures);
const revision = sourceRevision(ROOT);
const seconds = Math.round((Date.now() - startedAt.getTime()) / 1000);
const mode = [values.quick ? 'quick' : 'full', ...(profileDir ? ['profiling the webhook'] : [])].join(', ');

const tables = [
  ...(Object.keys(figures).length > 0 ? [renderTable(benchTable(figures, targets))] : []),
  ...(caps ? [renderTable(capsTable(caps))] : []),
];
const table = tables.join('\n\n');
const footer = [
  `machine: ${machine.nproc} CPUs (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.kernel}; load average (1 min) ${machine.loadAverage.start} at start, ${machine.loadAverage.end} at end`,
  `source: ${revision}; ${mode} run in ${seconds} s; targets: ${targets.filter((t) => t.verdict === 'met').length} met, ${targets.filter((t) => t.verdict === 'MISSED').length} missed, ${targets.filter((t) => t.verdict === 'n/a').length} n/a`,
  ...(profileDir
    ? [
        `CPU profile of the webhook (all runs): ${profileDir}/ (Chrome DevTools, speedscope, or bench/profile-summary.ts)`,
      ]
    : []),
];
console.log(`${table}\n\n${footer.join('\n')}`);
console.log('figures: bench/results/latest.json (see bench/README.md for how to read them)');

if (profileDir && (figures.admission || figures.controlPlane)) {
  for (const file of readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')))
    console.log(`\n${formatProfileSummary(`${profileDir}/${file}`, 20)}`);
}

mkdirSync(RESULTS, { recursive: true });
const json = {
  schema: 2,
  startedAt: startedAt.toISOString(),
  seconds,
  revision,
  mode,
  settings,
  machine,
  targets,
  ...figures,
  ...(caps ? { caps } : {}),
};
// NaN (a figure that could not be measured) becomes null in JSON.
writeFileSync(`${RESULTS}latest.json`, `${JSON.stringify(json, null, 1)}\n`);
// Kept per commit for comparing commits (a quick run's figures are too thin to keep).
if (!values.quick && !profileDir) writeFileSync(`${RESULTS}${revision}.json`, `${JSON.stringify(json, null, 1)}\n`);

// A full, unprofiled run of every part is what bench/README.md shows.
if (!values.quick && !profileDir && only.length === PARTS.length) {
  const readme = readFileSync(README, 'utf8');
  const start = readme.indexOf(FIGURES_START);
  const end = readme.indexOf(FIGURES_END);
  if (start === -1 || end < start)
    throw new Error(`bench/README.md lacks the ${FIGURES_START} … ${FIGURES_END} markers`);
  const block = `${FIGURES_START}\n\n\`\`\`text\n${table}\n\n${footer.join('\n')}\n\`\`\`\n\n`;
  writeFileSync(README, readme.slice(0, start) + block + readme.slice(end));
  console.log('bench/README.md: figures updated');
}
