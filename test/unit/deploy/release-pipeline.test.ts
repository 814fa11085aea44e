/**
 * The GitHub Actions workflows cannot run here, so they are checked by reading them: well-formed
 * jobs, every action pinned to a version, least privilege, both architectures for both images,
 * SBOM + provenance, keyless signatures on images and chart, and every script, npm script and
 * file they name exists. Renovate's config parses and pins base-image digests.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WORKFLOWS = join(ROOT, '.github', 'workflows');
const SCRIPTS = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  version: string;
};

interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  'runs-on': string;
  needs?: string | string[];
  permissions?: Record<string, string>;
  strategy?: { matrix: { include?: Record<string, string>[] } };
  steps: Step[];
}
interface Workflow {
  name: string;
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, Job>;
}

const load = (file: string) => parse(readFileSync(join(WORKFLOWS, file), 'utf8')) as Workflow;
const files = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f));
const allSteps = (wf: Workflow) =>
  Object.entries(wf.jobs).flatMap(([job, j]) => j.steps.map((s) => ({ job, step: s })));

describe('.github/workflows (read, not run)', () => {
  it('there is a CI and a release workflow', () => {
    assert.deepEqual(files.sort(), ['ci.yml', 'release.yml']);
  });

  for (const file of files) {
    describe(file, () => {
      const wf = load(file);

      it('every job has a runner and steps; every step is one `uses` or one `run`; needs name real jobs', () => {
        for (const [name, job] of Object.entries(wf.jobs)) {
          assert.ok(job['runs-on'], `${name}: runs-on`);
          assert.ok(Array.isArray(job.steps) && job.steps.length > 0, `${name}: steps`);
          for (const s of job.steps)
            assert.ok(
              (s.uses === undefined) !== (s.run === undefined),
              `${name}: step ${s.name ?? s.uses ?? s.run} has exactly one of uses/run`,
            );
          for (const need of [job.needs ?? []].flat()) assert.ok(wf.jobs[need], `${name} needs unknown job ${need}`);
        }
      });

      it('every action is pinned to a version or a commit (Renovate pins the digests)', () => {
        for (const { job, step } of allSteps(wf))
          if (step.uses)
            assert.match(step.uses, /^[\w.-]+\/[\w./-]+@(v\d+[\w.]*|[0-9a-f]{40})$/, `${job}: ${step.uses}`);
      });

      it('least privilege: nothing by default at the top, write scopes only where a job needs them', () => {
        assert.ok(wf.permissions !== undefined, 'top-level permissions are set');
        for (const [scope, level] of Object.entries(wf.permissions)) assert.equal(level, 'read', `top-level ${scope}`);
        for (const [name, job] of Object.entries(wf.jobs)) {
          const writes = Object.entries(job.permissions ?? {})
            .filter(([, l]) => l === 'write')
            .map(([s]) => s);
          const runs = job.steps.map((s) => s.run ?? '').join('\n');
          if (writes.includes('id-token'))
            assert.match(runs, /cosign (sign|attest)/, `${name} asks for id-token but signs nothing`);
          if (writes.includes('packages'))
            assert.ok(
              job.steps.some((s) => s.uses?.startsWith('docker/login-action')),
              `${name} asks for packages: write but never logs in`,
            );
        }
      });

      it('every npm script, script file, Dockerfile and chart path it names exists', () => {
        for (const { job, step } of allSteps(wf)) {
          const text = [step.run ?? '', ...Object.values(step.with ?? {}).map(String)].join('\n');
          for (const m of text.matchAll(/npm run(?:-script)? (?:-s )?([\w:-]+)/g))
            assert.ok(SCRIPTS.scripts[m[1]!], `${job}: npm run ${m[1]} is not a package.json script`);
          for (const m of text.matchAll(/\b(?:node|bash) ((?:\.ci|scripts|test)\/[\w./-]+)/g))
            assert.ok(existsSync(join(ROOT, m[1]!)), `${job}: ${m[1]} does not exist`);
          for (const m of text.matchAll(/\b(deploy\/helm\/[\w-]+)/g))
            assert.ok(existsSync(join(ROOT, m[1]!, 'Chart.yaml')), `${job}: ${m[1]} is not a chart`);
          const dockerfile = step.with?.file;
          if (typeof dockerfile === 'string')
            assert.ok(existsSync(join(ROOT, dockerfile)), `${job}: ${dockerfile} does not exist`);
        }
      });
    });
  }

  describe('release.yml', () => {
    const wf = load('release.yml');
    const steps = allSteps(wf);
    const runs = steps.map((s) => s.step.run ?? '').join('\n');

    it('runs on version tags only, after the whole test suite (.ci/run)', () => {
      assert.deepEqual(Object.keys(wf.on), ['push']);
      assert.deepEqual((wf.on.push as { tags: string[] }).tags, ['v*.*.*']);
      assert.ok(wf.jobs.test!.steps.some((s) => s.run?.includes('bash .ci/run')));
      assert.ok([wf.jobs.images!.needs].flat().includes('test'));
    });

    it('builds both images for linux/amd64 and linux/arm64, each on a runner of that architecture, with SBOM and provenance, pushed by digest', () => {
      const images = wf.jobs.images!;
      assert.deepEqual(
        images.strategy!.matrix.include!.map((m) => [m.arch, m.runner]),
        [
          ['amd64', 'ubuntu-24.04'],
          ['arm64', 'ubuntu-24.04-arm'],
        ],
      );
      assert.ok(
        images.steps.some((s) => s.run === 'npm run build'),
        'the fetcher executable is built on the runner of its architecture',
      );
      const builds = images.steps.filter((s) => s.uses?.startsWith('docker/build-push-action'));
      assert.deepEqual(builds.map((s) => s.with!.file).sort(), ['Dockerfile.fetcher', 'Dockerfile.webhook']);
      for (const b of builds) {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, not a JS template
        assert.equal(b.with!.platforms, 'linux/${{ matrix.arch }}');
        assert.equal(b.with!.sbom, true);
        assert.equal(b.with!.provenance, 'mode=max');
        assert.match(String(b.with!.outputs), /push-by-digest=true/);
      }
    });

    it('merges the per-arch digests into one index per image, signs it keylessly and attests an SPDX SBOM', () => {
      assert.match(runs, /docker buildx imagetools create -t "\$image:\$version"[\s\S]*-amd64[\s\S]*-arm64/);
      assert.match(runs, /cosign sign --yes "\$image@\$digest"/);
      assert.match(runs, /cosign attest --yes --type spdxjson/);
      assert.doesNotMatch(runs, /--key\b/, 'keyless: no signing key');
      assert.equal(wf.jobs.publish!.permissions!['id-token'], 'write');
    });

    it('pushes the chart as an OCI artifact and signs it', () => {
      assert.match(
        runs,
        /helm package deploy\/helm\/dap-secret-webhook --version "\$version" --app-version "\$version"/,
      );
      assert.match(runs, /helm push "chart\/dap-secret-webhook-\$version\.tgz" "\$CHART_REGISTRY"/);
      assert.match(runs, /cosign sign --yes "\$\{CHART_REGISTRY#oci:\/\/\}\/dap-secret-webhook@\$digest"/);
    });

    it('the version check it runs accepts this version and refuses another', () => {
      const ok = spawnSync(process.execPath, ['scripts/release-version.mjs', 'check', `v${SCRIPTS.version}`], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      assert.equal(ok.status, 0, ok.stderr);
      const bad = spawnSync(process.execPath, ['scripts/release-version.mjs', 'check', 'v99.0.0'], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /does not match package\.json version/);
    });
  });

  describe('renovate.json', () => {
    const config = JSON.parse(readFileSync(join(ROOT, 'renovate.json'), 'utf8')) as {
      extends: string[];
      customManagers: { managerFilePatterns: string[]; matchStrings: string[] }[];
    };

    it('pins base-image and action digests and updates npm', () => {
      for (const preset of ['config:recommended', 'docker:pinDigests', 'helpers:pinGitHubActionDigests'])
        assert.ok(config.extends.includes(preset), preset);
    });

    it('each custom manager finds its files and a version in each', () => {
      const candidates = [
        ...readdirSync(ROOT),
        ...readdirSync(join(ROOT, 'test/e2e/provision')).map((f) => `test/e2e/provision/${f}`),
      ];
      for (const m of config.customManagers) {
        const pattern = new RegExp(m.managerFilePatterns[0]!.slice(1, -1));
        const files = candidates.filter((f) => pattern.test(f));
        assert.ok(files.length > 0, `${pattern} matches no file`);
        for (const file of files)
          assert.match(readFileSync(join(ROOT, file), 'utf8'), new RegExp(m.matchStrings[0]!), file);
      }
    });
  });
});
