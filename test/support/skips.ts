/**
 * Tests that cannot run on this machine (no root, no mount permission, a missing capability)
 * skip with a reason through `skipFor`, and one summary of them is printed at the end of the run,
 * so a green run on a laptop says plainly what it did not prove. Loaded by .mocharc.json.
 */
import type { Context } from 'mocha';

const skipped: { test: string; reason: string }[] = [];

/** Skips the current test or hook's suite, recording why. */
export function skipFor(ctx: Context, reason: string): never {
  skipped.push({
    test: ctx.currentTest?.fullTitle() ?? ctx.test?.parent?.fullTitle() ?? ctx.test?.fullTitle() ?? '?',
    reason,
  });
  ctx.skip();
}

export const mochaHooks = {
  afterAll(): void {
    if (skipped.length === 0) return;
    const lines = skipped.map(({ test, reason }) => `  - ${test}: ${reason}`);
    console.log(`\n${skipped.length} test(s) skipped on this machine, not failed:\n${lines.join('\n')}\n`);
  },
};
