/**
 * One control plane per mocha run, shared by every e2e file: started by the first suite that
 * asks for it, stopped by a root after-hook (and, should mocha die, by the exit handler in
 * processes.ts). When a test fails, the processes' log tails are printed and the temp dir is kept.
 *
 * Use from a suite:
 *   let cp: ControlPlane;
 *   before(async function () { this.timeout(START_TIMEOUT_MS); cp = await sharedControlPlane(); });
 */
import { type ControlPlane, startControlPlane } from './controlPlane.js';
import { liveProcesses } from './processes.js';

/** Generous for a cold machine (the first call may compile Kubernetes); seconds when warm. */
export const START_TIMEOUT_MS = 50 * 60 * 1000;

let started: Promise<ControlPlane> | undefined;
let failures = 0;

export function sharedControlPlane(): Promise<ControlPlane> {
  started ??= startControlPlane();
  return started;
}

// Root-level hooks: this module is imported while mocha loads spec files, so they attach to the root suite.
afterEach(async function () {
  if (this.currentTest?.state !== 'failed' || !started) return;
  failures++;
  const cp = await started.catch(() => undefined);
  if (!cp) return;
  // Control plane and anything else still running (e.g. the webhook); never container runs' env.
  const others = liveProcesses().filter((p) => !cp.processes.includes(p));
  const tails = others
    .map((p) => `----- ${p.describeExit()}, last lines of ${p.logPath} -----\n${p.tail(20)}`)
    .join('\n');
  console.error(`\n[e2e] "${this.currentTest.fullTitle()}" failed; logs (${cp.dir}):\n${cp.logTails(20)}\n${tails}\n`);
});

after(async function () {
  if (!started) return;
  this.timeout(30_000);
  const cp = await started.catch(() => undefined);
  if (!cp) return;
  const keepDir = failures > 0 || process.env.DAP_E2E_KEEP === '1';
  await cp.stop({ keepDir });
  if (keepDir) console.error(`[e2e] control plane files kept in ${cp.dir}`);
});
