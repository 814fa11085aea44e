/**
 * The product images as a runtime gets them: built from Dockerfile.webhook and Dockerfile.fetcher
 * by buildah on the stand-in bases (test/e2e/provision/images.sh, cached keyed by its inputs), read
 * back from their OCI archives and run under chroot as the image's user. Also: a fetcher that
 * does not start makes `npm run images` fail in the Dockerfile's verify stage.
 */

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { WEBHOOK_NODE_FLAGS } from '../../../webhook/node-flags.js';
import { type ContainerImage, containerImages } from '../../e2e/harness/provisioned.js';
import { type OciImage, readOciArchive, unpackOciArchive } from '../../support/oci/archive.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHART = join(ROOT, 'deploy/helm/dap-secret-webhook');
const run = promisify(execFile);
/** A cold provision builds Debian stand-in bases and the images (minutes); warm it hashes dist/. */
const PROVISION_TIMEOUT_MS = 45 * 60 * 1000;
const NONROOT = '65532:65532';

/** Runs a program of the unpacked image as its numeric user, with only the image's env (no shell, no env binary inside). */
async function runInRootfs(rootfs: string, image: OciImage, argv: string[]) {
  const user = image.config.User ?? '0:0';
  const env = Object.fromEntries(
    (image.config.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
  );
  return run('chroot', [`--userspec=${user}`, rootfs, ...argv], { env, timeout: 60_000 }).catch(
    (err: Error & { stderr?: string }) => {
      throw new Error(`${argv.join(' ')} in the image failed: ${err.message}\n${err.stderr ?? ''}`);
    },
  );
}

describe('container images (buildah on Debian stand-in bases)', function () {
  let images: Record<ContainerImage['role'], ContainerImage>;
  let appVersion: string;
  let chartRepository: string;
  const scratch: string[] = [];

  before(async function () {
    this.timeout(PROVISION_TIMEOUT_MS);
    images = await containerImages();
    appVersion = (parseYaml(await readFile(join(CHART, 'Chart.yaml'), 'utf8')) as { appVersion: string }).appVersion;
    chartRepository = (
      parseYaml(await readFile(join(CHART, 'values.yaml'), 'utf8')) as { image: { repository: string } }
    ).image.repository;
  });
  after(async () => {
    for (const dir of scratch) await rm(dir, { recursive: true, force: true });
  });
  const tempDir = async (prefix: string) => {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    scratch.push(dir);
    await chmod(dir, 0o755); // it becomes the image's /, which its non-root user must enter
    return dir;
  };

  it('names the webhook image as the chart deploys it by default, and the fetcher next to it', async () => {
    assert.equal(
      images.webhook.image,
      `${chartRepository}:${appVersion}`,
      'the chart would deploy a different image than `npm run images` builds',
    );
    assert.equal(
      images.fetcher.image,
      `${chartRepository.replace(/dap-secret-webhook$/, 'dap-secret-fetcher')}:${appVersion}`,
    );
    for (const { image, archive } of [images.webhook, images.fetcher, images.task]) {
      assert.equal(
        (await readOciArchive(archive)).refName,
        image,
        `${archive} must name ${image} for \`ctr images import\``,
      );
    }
  });

  describe('webhook', () => {
    let image: OciImage;
    let rootfs: string;
    before(async function () {
      this.timeout(120_000);
      rootfs = await tempDir('dap-image-webhook-');
      image = await unpackOciArchive(images.webhook.archive, rootfs);
    });

    it('runs the bundle with the benchmarked node flags, as numeric non-root 65532, and carries its labels', () => {
      assert.equal(`${image.os}/${image.architecture}`, 'linux/amd64');
      assert.deepEqual(image.config.Entrypoint, [
        '/nodejs/bin/node',
        ...WEBHOOK_NODE_FLAGS,
        '/app/dap-secret-webhook.mjs',
      ]);
      assert.deepEqual(image.config.Cmd, ['serve']);
      assert.equal(image.config.User, NONROOT);
      assert.deepEqual(Object.keys(image.config.ExposedPorts ?? {}).sort(), ['8080/tcp', '8443/tcp']);
      const labels = image.config.Labels ?? {};
      assert.equal(labels['org.opencontainers.image.title'], 'dap-secret-webhook');
      assert.equal(labels['org.opencontainers.image.version'], appVersion);
      assert.equal(labels['org.opencontainers.image.source'], 'https://github.com/caraml-dev/dap-secret-webhook');
      assert.match(labels['org.opencontainers.image.revision'] ?? '', /^[0-9a-f]{40}(-dirty)?$/);
    });

    it('has no shell (the chart gives it no preStop hook for that reason)', () => {
      for (const path of ['bin/sh', 'usr/bin/sh', 'bin/bash', 'usr/bin/bash', 'usr/bin/dash', 'bin/busybox']) {
        assert.ok(!existsSync(join(rootfs, path)), `the webhook image has /${path}`);
      }
    });

    it('starts as its user (--version) and cannot rewrite its own program', async () => {
      const { stdout } = await runInRootfs(rootfs, image, [...image.config.Entrypoint!, '--version']);
      assert.match(stdout, new RegExp(appVersion.replaceAll('.', '\\.')));
      const entry = await stat(join(rootfs, 'app/dap-secret-webhook.mjs'));
      assert.equal(entry.uid, 0);
      assert.equal(entry.mode & 0o777, 0o555);
    });
  });

  describe('fetcher', () => {
    let image: OciImage;
    let rootfs: string;
    before(async function () {
      this.timeout(120_000);
      rootfs = await tempDir('dap-image-fetcher-');
      image = await unpackOciArchive(images.fetcher.archive, rootfs);
    });

    it('runs the executable as numeric non-root 65532 with TZ=UTC, and carries its labels', () => {
      assert.equal(`${image.os}/${image.architecture}`, 'linux/amd64');
      assert.deepEqual(image.config.Entrypoint, ['/usr/local/bin/dap-secret-fetcher']);
      assert.equal(image.config.User, NONROOT);
      // No time-zone search at every start (the base has no /etc/localtime).
      assert.ok(image.config.Env?.includes('TZ=UTC'), `the fetcher image's env: ${image.config.Env?.join(' ')}`);
      const labels = image.config.Labels ?? {};
      assert.equal(labels['org.opencontainers.image.title'], 'dap-secret-fetcher');
      assert.equal(labels['org.opencontainers.image.version'], appVersion);
    });

    it('has no shell, no package manager and nothing else to execute besides the fetcher', async () => {
      for (const path of [
        'bin/sh',
        'usr/bin/sh',
        'bin/bash',
        'usr/bin/bash',
        'usr/bin/dash',
        'bin/busybox',
        'usr/bin/dpkg',
        'usr/bin/apt',
      ]) {
        assert.ok(!existsSync(join(rootfs, path)), `the fetcher image has /${path}`);
      }
      for (const dir of ['usr/bin', 'usr/sbin', 'usr/local/sbin']) {
        const entries = existsSync(join(rootfs, dir)) ? await readdir(join(rootfs, dir)) : [];
        assert.deepEqual(entries, [], `/${dir} should be empty in the fetcher image`);
      }
      assert.deepEqual(await readdir(join(rootfs, 'usr/local/bin')), ['dap-secret-fetcher']);
    });

    it('has what distroless cc promises: user nonroot 65532, a CA bundle, zoneinfo, a sticky /tmp', async () => {
      assert.match(await readFile(join(rootfs, 'etc/passwd'), 'utf8'), /^nonroot:x:65532:65532:/m);
      assert.match(await readFile(join(rootfs, 'etc/ssl/certs/ca-certificates.crt'), 'utf8'), /BEGIN CERTIFICATE/);
      assert.ok(existsSync(join(rootfs, 'usr/share/zoneinfo/UTC')));
      assert.equal((await stat(join(rootfs, 'tmp'))).mode & 0o7777, 0o1777);
    });

    it('starts as its user (--version) with only glibc and libstdc++ around it', async () => {
      const { stdout } = await runInRootfs(rootfs, image, ['/usr/local/bin/dap-secret-fetcher', '--version']);
      assert.equal(stdout.trim(), `dap-secret-fetcher ${appVersion}`);
      const entry = await lstat(join(rootfs, 'usr/local/bin/dap-secret-fetcher'));
      assert.equal(entry.uid, 0);
      assert.equal(entry.mode & 0o777, 0o555);
    });
  });

  it('a fetcher executable that exits 1 makes `npm run images` fail in the verify stage', async function () {
    this.timeout(300_000);
    const context = await tempDir('dap-image-broken-');
    await mkdir(join(context, 'dist'));
    await copyFile(join(ROOT, 'Dockerfile.fetcher'), join(context, 'Dockerfile.fetcher'));
    await copyFile('/bin/false', join(context, 'dist/dap-secret-fetcher'));
    const env = {
      ...process.env,
      DAP_IMAGE_BASES: 'standin',
      DAP_IMAGES_ONLY: 'fetcher',
      DAP_IMAGES_CONTEXT: context,
      DAP_IMAGES_DIR: join(context, 'out'),
      DAP_IMAGE_REPO: 'localhost/dap-test-broken',
    };
    const result = await run('bash', [join(ROOT, 'scripts/images/build.sh')], {
      env,
      timeout: 280_000,
      maxBuffer: 32 * 1024 * 1024,
    }).then(
      () => undefined,
      (err: Error & { code?: number; stderr?: string }) => err,
    );
    assert.ok(result, 'the image build succeeded with a fetcher that exits 1');
    assert.match(
      result.stderr ?? '',
      /RUN \["\/usr\/local\/bin\/dap-secret-fetcher", "--version"\]/,
      'the verify stage should be the step that failed',
    );
    assert.match(result.stderr ?? '', /building localhost\/dap-test-broken\/dap-secret-fetcher:.* failed/);
    assert.ok(!existsSync(join(context, 'out/dap-secret-fetcher.oci.tar')), 'no archive is written for a failed build');
  });

  it('the flytekit task image puts the pinned flytekit first on PATH', async () => {
    const image = await readOciArchive(images.task.archive);
    const pinned = /FLYTEKIT_VERSION="\$\{FLYTEKIT_VERSION:-([^}]+)\}"/.exec(
      await readFile(join(ROOT, 'test/e2e/provision/flytekit.sh'), 'utf8'),
    )?.[1];
    assert.equal(images.task.image, `localhost/dap-e2e/flytekit-task:${pinned}`);
    assert.match(image.config.Env?.find((e) => e.startsWith('PATH=')) ?? '', /^PATH=\/opt\/flytekit\/bin:/);
  });
});
