/**
 * The linux-arm64 fetcher (npm run build:fetcher:arm64: the pinned Node's arm64 binary with a code
 * cache made by that binary under qemu) runs: `--version`, and one FILE run against the MLP
 * stand-in behind its gateway, under Debian's qemu-user-static with the arm64 glibc and
 * libstdc++ as its only libraries (test/e2e/provision/node-arm64.sh installs them).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeRun, makePod, podEnv, ROOT, runFetcher, startWorld, type World } from './world.js';

const ARM64_EXECUTABLE = join(ROOT, 'dist', 'dap-secret-fetcher-linux-arm64');
const QEMU = '/usr/bin/qemu-aarch64-static';
const SYSROOT = '/usr/aarch64-linux-gnu';
/** Under qemu on x64; directly on an arm64 machine (where the build was native). */
const underQemu = (...args: string[]): [string, string[]] =>
  process.arch === 'arm64' ? [ARM64_EXECUTABLE, args] : [QEMU, ['-L', SYSROOT, ARM64_EXECUTABLE, ...args]];

/** ELF e_machine (offset 18, little-endian): 183 = AArch64, 62 = x86-64. */
function elfMachine(file: string): number {
  const fd = openSync(file, 'r');
  try {
    const header = Buffer.alloc(20);
    readSync(fd, header, 0, 20, 0);
    assert.equal(header.subarray(0, 4).toString('latin1'), '\x7fELF', `${file} is not an ELF executable`);
    return header.readUInt16LE(18);
  } finally {
    closeSync(fd);
  }
}

/** `npm test` builds it (build:fetcher:arm64); a targeted run builds it when missing or stale. */
function ensureArm64Executable(): void {
  const bundle = join(ROOT, 'dist', 'fetcher.cjs');
  if (
    existsSync(ARM64_EXECUTABLE) &&
    existsSync(bundle) &&
    statSync(ARM64_EXECUTABLE).mtimeMs >= statSync(bundle).mtimeMs
  )
    return;
  const built = spawnSync(
    join(ROOT, 'node_modules', 'node', 'bin', 'node'),
    ['scripts/build-fetcher.mjs', '--arch=arm64'],
    { cwd: ROOT, encoding: 'utf8', timeout: 600_000 },
  );
  if (built.status !== 0) throw new Error(`npm run build:fetcher:arm64 failed:\n${built.stderr}`);
}

describe('dap-secret-fetcher for linux-arm64 (under qemu)', function () {
  this.timeout(120_000);
  let world: World;

  before(async function () {
    this.timeout(900_000);
    ensureArm64Executable();
    world = await startWorld();
  });

  after(async function () {
    await world?.close();
  });

  it('is an AArch64 executable and prints its version with an empty environment', function () {
    assert.equal(elfMachine(ARM64_EXECUTABLE), 183, 'e_machine is AArch64');
    const [command, args] = underQemu('--version');
    const run = spawnSync(command, args, { env: {}, encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^dap-secret-fetcher \d+\.\d+\.\d+\n$/);
  });

  it("a FILE run: reads the secret from MLP behind the gateway and writes it with the plan's mode", async function () {
    const pod = await makePod(world);
    world.mlp.data.addProject({
      name: pod.namespace,
      readers: [pod.identity],
      secrets: { 'db-password': 'arm64-pw-5e1c' },
    });
    const run = await runFetcher(
      podEnv(world, pod, { project: pod.namespace, files: [['db-password', 'db/password']], fileMode: 0o440 }),
      90_000,
      underQemu(),
    );
    assert.equal(run.code, 0, describeRun(run));
    assert.equal(await readFile(join(pod.volume, 'db/password'), 'utf8'), 'arm64-pw-5e1c');
    assert.equal(statSync(join(pod.volume, 'db/password')).mode & 0o777, 0o440);
    assert.deepEqual(
      run.logs.filter((l) => l.msg === 'http call').map((l) => [l.operation, l.status]),
      [
        ['list projects', 200],
        ['list secrets', 200],
      ],
    );
    assert.equal(run.logs.at(-1)?.msg, 'done');
  });
});
