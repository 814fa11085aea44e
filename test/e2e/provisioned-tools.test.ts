/**
 * The provisioned tools work as a person would use them, not only as the harness calls them:
 * the cached flytekit virtualenv's console scripts run (their shebangs name the venv's own python;
 * a venv built elsewhere and moved has scripts that point at the old place), and the arm64 Node
 * binary runs under qemu.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { flytekitPython, provision } from './harness/provisioned.js';

const run = promisify(execFile);

describe('provisioned tools', function () {
  this.timeout(15 * 60_000);

  it("flytekit venv: bin/pyflyte names the venv's own python and runs", async () => {
    const python = await flytekitPython();
    const bin = dirname(python);
    const shebang = (await readFile(join(bin, 'pyflyte'), 'utf8')).split('\n')[0]!;
    assert.equal(dirname(shebang.slice(2)), bin, `bin/pyflyte's interpreter is in the venv: ${shebang}`);
    const scratch = await mkdtemp(join(tmpdir(), 'dap-pyflyte-')); // flytekit makes temp dirs at import
    try {
      const { stdout } = await run(join(bin, 'pyflyte'), ['--help'], {
        env: { PATH: `${bin}:/usr/bin:/bin`, TMPDIR: scratch, HOME: scratch },
        timeout: 120_000,
      });
      assert.match(stdout, /Usage: pyflyte/);
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it('arm64 Node: the pinned version runs under qemu', async () => {
    const node = await provision('node-arm64.sh');
    const { stdout } = await run(
      '/usr/bin/qemu-aarch64-static',
      ['-L', '/usr/aarch64-linux-gnu', node, '-p', 'process.arch + " " + process.version'],
      { timeout: 120_000 },
    );
    assert.equal(stdout.trim(), `arm64 ${process.version}`);
  });
});
