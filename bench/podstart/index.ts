/**
 * `npm run bench -- --only=podstart`: pod start on the real node (issue 14). Runs the real-node
 * tier's runner with the bench spec — `bash test/node/run.sh bench/podstart/podstart.bench.ts`:
 * its machine-wide flock (waits while another node run holds it), network namespace, cgroups,
 * provisioning and its cleanup before and after — and reads the figures the spec writes.
 * Root only (containerd, kubelet, network namespaces); otherwise the part is skipped, saying so.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../lib/processes.js';
import { type PodStartFigures, type PodStartRaw, skippedPodStart, summarizePodStart } from './figures.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SPEC = 'bench/podstart/podstart.bench.ts';

export async function runPodStart(o: { samples: number; progress: (line: string) => void }): Promise<PodStartFigures> {
  if (process.getuid?.() !== 0) return skippedPodStart('needs root (the real-node tier runs containerd and a kubelet)');
  const dir = tempDir('dap-bench-podstart-');
  const out = join(dir.path, 'podstart.json');
  o.progress(
    `pod start on the real node: ${o.samples} interleaved samples (test/node/run.sh ${SPEC}; waits for the node tier's lock)`,
  );
  const code = await new Promise<number>((resolve, reject) => {
    // The runner's and mocha's output go to stderr: stdout is the bench table.
    const child = spawn('bash', ['test/node/run.sh', SPEC], {
      cwd: ROOT,
      stdio: ['ignore', process.stderr, process.stderr],
      env: { ...process.env, DAP_BENCH_PODSTART_OUT: out, DAP_BENCH_PODSTART_SAMPLES: String(o.samples) },
    });
    child.on('error', reject);
    child.on('close', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  });
  try {
    if (code !== 0) return skippedPodStart(`test/node/run.sh ${SPEC} exited ${code} (its output is above)`);
    return summarizePodStart(JSON.parse(readFileSync(out, 'utf8')) as PodStartRaw);
  } finally {
    dir.remove();
  }
}
