/**
 * The README's command-line recipes work verbatim for a newcomer: each `<!-- recipe: NAME -->`
 * block of README.md runs with bash in the repository, with the machine's own PATH (no
 * node_modules/.bin: `npm run` and `npx` must find the pinned Node themselves) and none of a
 * deployment's env vars. The `curl` recipe runs against `npm start`, which must then stop on
 * SIGTERM leaving no process behind (also when npm itself is killed with SIGKILL).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { freePort } from '../e2e/harness/ports.js';
import { waitFor } from '../e2e/harness/wait.js';
import { skipFor } from '../support/skips.js';

const ROOT = resolve(import.meta.dirname, '../..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const RECIPES = new Map(
  [...README.matchAll(/<!-- recipe: ([a-z-]+) -->\n```sh\n([\s\S]*?)\n```/g)].map((m) => [m[1]!, m[2]!]),
);
const EXAMPLE_POD = parse(readFileSync(join(ROOT, 'deploy/examples/flyte-task-pod.yaml'), 'utf8')) as {
  metadata: { annotations: Record<string, string> };
};

/** A newcomer's shell: the machine's PATH without the repository's node_modules/.bin, no npm_* or deployment settings. */
function newcomerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!/^npm_/i.test(k) && !/^(FETCHER_|MLP_|WEBHOOK_|HEALTH_PORT|TLS_)/.test(k)) env[k] = v;
  env.PATH = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((p) => !p.includes('node_modules'))
    .join(delimiter);
  return { ...env, ...extra };
}

function recipe(name: string): string {
  const text = RECIPES.get(name);
  assert.ok(text, `README.md has no <!-- recipe: ${name} --> block`);
  return text;
}

function runRecipe(name: string, replace: [string, string][] = []) {
  let text = recipe(name);
  for (const [from, to] of replace) text = text.replaceAll(from, to);
  return spawnSync('bash', ['-euo', 'pipefail', '-c', text], {
    cwd: ROOT,
    env: newcomerEnv(),
    encoding: 'utf8',
    timeout: 240_000,
  });
}

/** Every process still in `pgid` (an orphan keeps its process group), from /proc. */
function processesInGroup(pgid: number): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid && fields[0] !== 'Z')
        found.push(`${entry} ${readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe('README recipes, verbatim', function () {
  this.timeout(300_000);

  it('README.md has exactly the recipes this test knows how to check', () => {
    assert.deepEqual([...RECIPES.keys()].sort(), ['bundle', 'curl', 'decode', 'encode', 'render']);
  });

  it('render: the example pod, offline, no env: stdout is only the mutated pod (YAML), the development values are said on stderr', () => {
    const run = runRecipe('render');
    assert.equal(run.status, 0, run.stderr);
    const pod = parse(run.stdout) as { kind: string; spec: { initContainers: { name: string }[] } };
    assert.equal(pod.kind, 'Pod');
    assert.equal(pod.spec.initContainers[0]!.name, 'fetcher');
    assert.match(run.stderr, /render: FETCHER_IMAGE not set, using the development value/);
  });

  it('encode: prints exactly the annotation Flyte wrote for that secret in the example pod', () => {
    const run = runRecipe('encode');
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, `${EXAMPLE_POD.metadata.annotations['flyte.secrets/s1']}\n`);
  });

  it('decode: prints the secret and where flytekit looks for it', () => {
    const run = runRecipe('decode');
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout).flytekit_lookup, {
      env_var: '_FSEC_DB-CREDS_PASSWORD',
      file_path: '/etc/flyte/secrets/db-creds/password',
    });
  });

  it('bundle: builds and runs the bundle with the pinned Node', () => {
    const run = runRecipe('bundle');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  it('an older system node is refused with a message that says how to run with the pinned Node', function () {
    const system = spawnSync('node', ['--version'], { env: newcomerEnv(), encoding: 'utf8' });
    if (system.status !== 0 || Number(system.stdout.slice(1).split('.')[0]) >= 24)
      skipFor(
        this,
        `the machine's own node is ${system.stdout.trim() || 'missing'}, not older than 24: nothing to refuse`,
      );
    const run = spawnSync('node', ['dist/webhook/dap-secret-webhook.mjs', '--version'], {
      cwd: ROOT,
      env: newcomerEnv(),
      encoding: 'utf8',
    });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /needs Node\.js 24 or newer; this is v\d+/);
    assert.match(run.stderr, /npx node dist\/webhook\/dap-secret-webhook\.mjs/);
  });

  describe('npm start', () => {
    async function start(): Promise<{ npm: ChildProcess; port: number; healthPort: number; output: () => string }> {
      const [port, healthPort] = [await freePort(), await freePort()];
      // Its own process group, so everything it started can be found afterwards.
      const npm = spawn('npm', ['start'], {
        cwd: ROOT,
        env: newcomerEnv({ WEBHOOK_PORT: String(port), HEALTH_PORT: String(healthPort) }),
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      npm.stdout!.on('data', (c: Buffer) => (output += c.toString()));
      npm.stderr!.on('data', (c: Buffer) => (output += c.toString()));
      try {
        await waitFor(
          async () =>
            (await fetch(`http://127.0.0.1:${healthPort}/readyz`).catch(() => undefined))?.ok ? true : undefined,
          {
            what: 'npm start to become ready',
            timeoutMs: 180_000,
            intervalMs: 200,
            abortIf: () => (npm.exitCode !== null ? `npm start exited ${npm.exitCode}:\n${output}` : undefined),
          },
        );
      } catch (err) {
        if (npm.exitCode === null) process.kill(-npm.pid!, 'SIGKILL');
        throw err;
      }
      return { npm, port, healthPort, output: () => output };
    }

    async function assertNothingLeft(pgid: number, what: string): Promise<void> {
      await waitFor(() => (processesInGroup(pgid).length === 0 ? true : undefined), {
        what,
        timeoutMs: 30_000,
        intervalMs: 100,
      }).catch((err: Error) => {
        const left = processesInGroup(pgid);
        for (const line of left) process.kill(Number(line.split(' ')[0]), 'SIGKILL');
        throw new Error(`${err.message}; still running: ${left.join('; ')}`);
      });
    }

    it('curl: the sample AdmissionReview gets the injection patch; then SIGTERM to npm stops everything it started', async () => {
      const { npm, port, output } = await start();
      const run = runRecipe('curl', [['https://127.0.0.1:8443/', `https://127.0.0.1:${port}/`]]);
      assert.equal(run.status, 0, run.stderr);
      const review = JSON.parse(run.stdout) as { response: { uid: string; allowed: boolean; patch: string } };
      assert.equal(review.response.uid, '0c5d8f5e-7c1a-4f0e-9d8b-1e2f3a4b5c6d');
      assert.equal(review.response.allowed, true);
      const patch = JSON.parse(Buffer.from(review.response.patch, 'base64').toString('utf8')) as { path: string }[];
      assert.ok(
        patch.some((op) => op.path.startsWith('/spec/initContainers')),
        'the patch adds the fetcher',
      );

      const exited = once(npm, 'exit');
      process.kill(npm.pid!, 'SIGTERM');
      const [code, signal] = (await exited) as [number | null, string | null];
      assert.ok(code !== null || signal === 'SIGTERM', `npm start ended: code ${code}, signal ${signal}\n${output()}`);
      await assertNothingLeft(npm.pid!, 'every process npm start started to exit after SIGTERM');
    });

    it('npm killed with SIGKILL: the server notices and exits too', async () => {
      const { npm, healthPort } = await start();
      process.kill(npm.pid!, 'SIGKILL');
      await assertNothingLeft(npm.pid!, 'the server to exit after npm was SIGKILLed');
      await assert.rejects(fetch(`http://127.0.0.1:${healthPort}/healthz`), 'the health port is closed');
    });
  });
});
