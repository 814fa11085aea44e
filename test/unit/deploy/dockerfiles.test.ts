/**
 * The Dockerfiles read as text: every file they copy from the build context exists in the
 * repository or is produced by an npm script that the test command runs; the images are pinned,
 * labelled and non-root; each base comes from a build arg whose default is the real base and
 * whose stand-in (scripts/images/build.sh) carries the same name. test/integration/images builds
 * them for real with buildah and runs what they hold.
 */

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { WEBHOOK_NODE_FLAGS } from '../../../webhook/node-flags.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DOCKERFILES = ['Dockerfile.webhook', 'Dockerfile.fetcher'];

interface Copy {
  from: string | undefined;
  sources: string[];
  dest: string;
}
interface Stage {
  /** The base as built by default: build args resolved to the defaults declared before the first FROM. */
  image: string;
  /** The FROM line's own text, e.g. `${NODE_IMAGE}`. */
  written: string;
  name: string | undefined;
  copies: Copy[];
  runs: string[];
  user: string | undefined;
  labels: string[];
  entrypoint: string | undefined;
}

/** Instructions with continuation lines joined and comments dropped. */
function instructions(text: string): string[] {
  const out: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (current === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // comment inside a continued instruction
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
      continue;
    }
    out.push((current + line).trim());
    current = '';
  }
  return out;
}

function args(rest: string): string[] {
  const trimmed = rest.trim();
  if (trimmed.startsWith('[')) return JSON.parse(trimmed) as string[];
  return trimmed.split(/\s+/);
}

/** Build args declared before the first FROM (the only ones a FROM line can use), with their defaults. */
function globalArgs(text: string): Map<string, string | undefined> {
  const args = new Map<string, string | undefined>();
  for (const ins of instructions(text)) {
    const [keyword = '', ...rest] = ins.split(/\s+/);
    if (keyword.toUpperCase() === 'FROM') break;
    if (keyword.toUpperCase() !== 'ARG') continue;
    const [name, value] = rest.join(' ').split(/=(.*)/s);
    args.set(name!, value);
  }
  return args;
}

function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const defaults = globalArgs(text);
  for (const ins of instructions(text)) {
    const [keyword = '', ...restParts] = ins.split(/\s+/);
    const rest = restParts.join(' ');
    const stage = stages.at(-1);
    switch (keyword.toUpperCase()) {
      case 'FROM': {
        const words = rest.split(/\s+/).filter((w) => !w.startsWith('--'));
        const written = words[0]!;
        const image = written.replace(/\$\{(\w+)\}|\$(\w+)/g, (ref, braced?: string, bare?: string) => {
          const value = defaults.get((braced ?? bare)!);
          assert.ok(value, `FROM ${written}: build arg ${ref} has no default before the first FROM`);
          return value;
        });
        stages.push({
          image,
          written,
          name: words[2],
          copies: [],
          runs: [],
          user: undefined,
          labels: [],
          entrypoint: undefined,
        });
        break;
      }
      case 'COPY':
      case 'ADD': {
        assert.ok(stage, `${ins}: before any FROM`);
        const all = args(rest);
        const flags = all.filter((a) => a.startsWith('--'));
        const paths = all.filter((a) => !a.startsWith('--'));
        const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
        stage.copies.push({ from, sources: paths.slice(0, -1), dest: paths.at(-1)! });
        break;
      }
      case 'RUN':
        stage?.runs.push(rest);
        break;
      case 'USER':
        if (stage) stage.user = rest.trim();
        break;
      case 'LABEL':
        stage?.labels.push(...[...rest.matchAll(/([\w.-]+)=/g)].map((m) => m[1]!));
        break;
      case 'ENTRYPOINT':
        if (stage) stage.entrypoint = rest.trim();
        break;
    }
  }
  return stages;
}

type Scripts = Record<string, string>;

/** npm scripts reached from `npm test` through `npm run X` (and `npm test`'s own command). */
function scriptsRunByTest(scripts: Scripts): Set<string> {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name) || scripts[name] === undefined) return;
    seen.add(name);
    for (const m of scripts[name].matchAll(/npm run ([\w:.-]+)/g)) visit(m[1]!);
  };
  visit('test');
  return seen;
}

/** The npm script whose program names this dist/ file (or the file it is a companion of). */
async function producerOf(distPath: string, scripts: Scripts, reachable: Set<string>): Promise<string | undefined> {
  const name = basename(distPath);
  // esbuild writes companions next to an output: .map (sourcemap) and .LEGAL.txt (legal comments).
  const candidates = [name, name.replace(/\.(map|LEGAL\.txt)$/, '')];
  for (const script of reachable) {
    const program = /node\s+(scripts\/[\w./-]+)/.exec(scripts[script]!)?.[1];
    if (!program) continue;
    const source = await readFile(join(ROOT, program), 'utf8');
    if (candidates.some((c) => source.includes(`'${c}'`) || source.includes(`"${c}"`) || source.includes(`dist/${c}`)))
      return script;
  }
  return undefined;
}

/** Every COPY source that neither the repository nor an npm script run by `npm test` provides. */
async function copyProblems(file: string, stages: Stage[], scripts: Scripts): Promise<string[]> {
  const problems: string[] = [];
  const reachable = scriptsRunByTest(scripts);
  const stageNames = stages.map((s) => s.name);
  for (const [i, stage] of stages.entries()) {
    for (const copy of stage.copies) {
      if (copy.from !== undefined) {
        // From an earlier stage, which got its files through the checks below.
        if (!stageNames.slice(0, i).includes(copy.from))
          problems.push(`${file}: COPY --from=${copy.from} names no earlier stage`);
        continue;
      }
      for (const src of copy.sources) {
        if (/[*?]/.test(src)) {
          problems.push(`${file}: COPY ${src}: name files explicitly, no wildcards`);
        } else if (src.startsWith('dist/')) {
          const producer = await producerOf(src, scripts, reachable);
          if (!producer)
            problems.push(
              `${file}: COPY ${src}: no npm script run by \`npm test\` produces it (reachable: ${[...reachable].join(', ')})`,
            );
          else if (!existsSync(join(ROOT, src)))
            problems.push(`${file}: COPY ${src}: missing after the test command's build; run \`npm run ${producer}\``);
        } else if (!existsSync(join(ROOT, src))) {
          problems.push(`${file}: COPY ${src}: not in the repository`);
        }
      }
    }
  }
  return problems;
}

describe('Dockerfiles', () => {
  let scripts: Scripts;
  before(async () => {
    scripts = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Scripts }).scripts;
  });

  for (const file of DOCKERFILES) {
    describe(file, () => {
      let stages: Stage[];
      before(async function () {
        const path = join(ROOT, file);
        assert.ok(existsSync(path), `${file} is missing at the repository root`);
        stages = parseDockerfile(await readFile(path, 'utf8'));
        assert.ok(stages.length > 0, `${file} has no FROM`);
      });

      it('is multi-stage, with every base image pinned by tag (not latest)', () => {
        assert.ok(stages.length >= 2, `${file} should be multi-stage`);
        const stageNames = new Set(stages.map((s) => s.name).filter(Boolean));
        for (const { image } of stages) {
          if (stageNames.has(image)) continue;
          const [ref] = image.split('@');
          const tag = /:([^/]+)$/.exec(ref!)?.[1];
          assert.ok(tag && tag !== 'latest', `${file}: base image ${image} must be pinned by a tag other than latest`);
          if (image.includes('@'))
            assert.match(image, /@sha256:[0-9a-f]{64}$/, `${file}: ${image} has a malformed digest`);
        }
      });

      it('takes each base from a build arg whose default is the real base, and the stand-in build passes the same names', async () => {
        const text = await readFile(join(ROOT, file), 'utf8');
        const defaults = globalArgs(text);
        const baseArgs = stages.map((s) => /^\$\{(\w+)\}$/.exec(s.written)?.[1]).filter((a) => a !== undefined);
        assert.equal(
          baseArgs.length,
          stages.length,
          `${file}: every FROM should be a build arg (\`FROM \${NAME}\`), so a local base can stand in`,
        );
        // scripts/images/build.sh's stand-in arguments for this Dockerfile (webhook_args / fetcher_args).
        const buildScript = await readFile(join(ROOT, 'scripts/images/build.sh'), 'utf8');
        const which = file === 'Dockerfile.webhook' ? 'webhook' : 'fetcher';
        const block = new RegExp(`${which}_args=\\(([^)]+)\\)`).exec(buildScript)?.[1];
        assert.ok(block, `scripts/images/build.sh sets no ${which}_args`);
        const passed = new Map([...block.matchAll(/--build-arg (\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
        const normalize = (ref: string) => {
          const name = ref.split('@')[0]!;
          const qualified = /^[^/]+[.:][^/]*\//.test(name)
            ? name
            : `docker.io/${name.includes('/') ? name : `library/${name}`}`;
          return qualified;
        };
        for (const arg of baseArgs) {
          assert.ok(passed.has(arg), `scripts/images/build.sh passes no stand-in for ${arg}`);
          assert.equal(
            normalize(passed.get(arg)!),
            normalize(defaults.get(arg)!),
            `the stand-in for ${arg} must carry the name of the real base`,
          );
        }
      });

      it('copies only files the repository has or an npm script run by `npm test` produces', async () => {
        assert.deepEqual(await copyProblems(file, stages, scripts), []);
      });

      it('runs as a numeric non-root user and carries OCI labels', () => {
        const final = stages.at(-1)!;
        assert.ok(final.user, `${file}: the final stage sets no USER`);
        const [uid, gid] = final.user.split(':');
        assert.match(uid!, /^\d+$/, `${file}: USER must be numeric so runAsNonRoot can be verified`);
        assert.notEqual(Number(uid), 0, `${file}: USER must not be root`);
        if (gid !== undefined) assert.match(gid, /^\d+$/);
        for (const label of [
          'org.opencontainers.image.title',
          'org.opencontainers.image.source',
          'org.opencontainers.image.version',
          'org.opencontainers.image.licenses',
        ]) {
          assert.ok(final.labels.includes(label), `${file}: the final stage lacks LABEL ${label}`);
        }
      });
    });
  }

  it('Dockerfile.webhook pins its default bases by digest', async () => {
    for (const { image } of parseDockerfile(await readFile(join(ROOT, 'Dockerfile.webhook'), 'utf8'))) {
      if (image === 'verify') continue;
      assert.match(image, /@sha256:[0-9a-f]{64}$/, `Dockerfile.webhook: ${image} lost its digest`);
    }
  });

  it('the COPY check flags unknown artifacts, missing files, wildcards and unknown stages', async () => {
    const bad = parseDockerfile(
      [
        'FROM node:24-slim AS a',
        'COPY dist/never-built.bin dist/*.mjs no-such-file ./',
        'FROM scratch',
        'COPY --from=nope /x /x',
        'USER 1',
      ].join('\n'),
    );
    const problems = await copyProblems('Dockerfile.bad', bad, scripts);
    assert.equal(problems.length, 4, problems.join('\n'));
    assert.match(problems[0]!, /dist\/never-built\.bin: no npm script run by `npm test` produces it/);
    assert.match(problems[1]!, /no wildcards/);
    assert.match(problems[2]!, /no-such-file: not in the repository/);
    assert.match(problems[3]!, /--from=nope names no earlier stage/);
  });

  describe('Dockerfile.webhook and the chart agree', () => {
    it('the image runs the bundle, and the unregister hook uses the same node binary', async () => {
      const final = parseDockerfile(await readFile(join(ROOT, 'Dockerfile.webhook'), 'utf8')).at(-1)!;
      const [node, ...rest] = JSON.parse(final.entrypoint!) as string[];
      const program = rest.pop();
      assert.equal(program, '/app/dap-secret-webhook.mjs');
      assert.deepEqual(
        rest,
        WEBHOOK_NODE_FLAGS,
        'the image runs node with the flags the benchmark measured (webhook/node-flags.ts)',
      );
      const hook = await readFile(join(ROOT, 'deploy/helm/dap-secret-webhook/templates/unregister-hook.yaml'), 'utf8');
      assert.ok(hook.includes(`command: [${node},`), `the unregister hook must call ${node}`);
    });

    it('the copied bundle starts with plain node and no node_modules (like the verify stage)', async function () {
      this.timeout(30_000);
      const dir = await mkdtemp(join(tmpdir(), 'dap-bundle-'));
      try {
        await cp(join(ROOT, 'dist/webhook'), dir, { recursive: true });
        const run = promisify(execFile);
        const version = await run(process.execPath, ['dap-secret-webhook.mjs', '--version'], { cwd: dir });
        assert.match(version.stdout, /\d+\.\d+\.\d+/);
        // The certs command (x509 + its Reflect polyfill) is bundled too: the Helm Job runs it.
        const help = await run(process.execPath, ['dap-secret-webhook.mjs', 'certs', '--help'], { cwd: dir });
        assert.match(help.stderr + help.stdout, /certs ensure --secret NAME/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
