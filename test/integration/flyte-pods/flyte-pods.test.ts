/**
 * The flyte-* goldens' inputs are the pods FlytePropeller v1.16.8 creates for the tasks in
 * test/flyte-pods/tasks.py: test/e2e/provision/flyte-pods.sh compiles them with real flytekit and
 * runs Flyte's own Go code on them (cached; `npm test` provisions it first). This test regenerates
 * them and fails when a committed input is stale, missing or left over. UPDATE_GOLDENS=1 writes
 * them instead (then update the expected files: test/goldens/README.md).
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { GOLDEN_DIR, goldenCaseNames, readGoldenConfig, updatingGoldens } from '../../support/goldens.js';

const caseName = (task: string) => `flyte-${task.replaceAll('_', '-')}`;
const header = (task: string) =>
  `# Generated: the pod FlytePropeller v1.16.8 creates for task ${task} in test/flyte-pods/tasks.py\n` +
  '# (test/e2e/provision/flyte-pods.sh). Do not edit; see test/goldens/README.md.\n';

describe("Flyte's real pods (goldens from FlytePropeller's own code)", function () {
  this.timeout(30 * 60_000); // a cold cache builds Flyte's Go code first
  let pods: Map<string, unknown>;

  before(() => {
    const dir = execFileSync('bash', ['test/e2e/provision/flyte-pods.sh'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }).trim();
    pods = new Map(
      readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .sort()
        .map((f) => [f.slice(0, -'.json'.length), JSON.parse(readFileSync(join(dir, f), 'utf8')) as unknown]),
    );
  });

  it('makes one pod per task, as Flyte writes it (kind "pod")', () => {
    assert.ok(pods.size >= 9, `${pods.size} pods`);
    for (const [task, pod] of pods) assert.equal((pod as { kind: string }).kind, 'pod', task);
  });

  it('has a golden case for every task, and no flyte case without one', () => {
    if (updatingGoldens) {
      for (const [task, pod] of pods) {
        const dir = join(GOLDEN_DIR, caseName(task));
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'input.yaml'), header(task) + stringify(pod));
        if (!existsSync(join(dir, 'config.yaml')))
          writeFileSync(join(dir, 'config.yaml'), `about: Flyte's own pod for task ${task}\nflyteTask: ${task}\n`);
      }
    }
    const claimed = new Map(
      goldenCaseNames().flatMap((name) => {
        const task = readGoldenConfig(name).flyteTask;
        return task === undefined ? [] : [[task, name] as const];
      }),
    );
    assert.deepEqual(
      [...claimed.keys()].sort(),
      [...pods.keys()].sort(),
      'test/goldens cases with flyteTask vs the tasks in test/flyte-pods/tasks.py',
    );
    for (const [task, name] of claimed)
      assert.equal(name, caseName(task), `the case for task ${task} is named ${caseName(task)}`);
  });

  it('the committed inputs are what Flyte makes today', () => {
    for (const [task, pod] of pods) {
      const file = join(GOLDEN_DIR, caseName(task), 'input.yaml');
      assert.ok(existsSync(file), `${file} is missing: UPDATE_GOLDENS=1 writes it`);
      assert.deepEqual(
        parse(readFileSync(file, 'utf8')),
        pod,
        `test/goldens/${caseName(task)}/input.yaml is stale: UPDATE_GOLDENS=1 rewrites it`,
      );
    }
  });
});
