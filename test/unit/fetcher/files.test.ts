import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { FetcherError } from '../../../fetcher/errors.js';
import { type FileModes, type SecretFile, writeSecretFiles } from '../../../fetcher/files.js';
import { skipFor } from '../../support/skips.js';

const modes = { fileMode: 0o440, dirMode: 0o750 };
const file = (path: string, data = 'value-1234') => ({ path, data, mlpSecret: 'mlp-name' });

describe('fetcher/files', function () {
  let dir: string;
  let root: string;

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'dap-files-'));
    root = join(dir, 'volume');
    await mkdir(root);
  });

  afterEach(async function () {
    await chmod(root, 0o755).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  async function refused(files: ReturnType<typeof file>[], pattern: RegExp): Promise<void> {
    await assert.rejects(writeSecretFiles(root, files, modes), (err: FetcherError) => {
      assert.ok(err instanceof FetcherError);
      assert.match(err.problem, pattern);
      assert.deepEqual(err.secrets, ['mlp-name']);
      return true;
    });
  }

  it("writes nested files with the plan's modes despite the umask, leaving no temp files", async function () {
    const previous = process.umask(0o077);
    try {
      await writeSecretFiles(root, [file('group/v1/key', 'secret\n'), file('group/other')], {
        fileMode: 0o444,
        dirMode: 0o755,
      });
    } finally {
      process.umask(previous);
    }
    assert.equal(await readFile(join(root, 'group/v1/key'), 'utf8'), 'secret\n');
    assert.equal((await stat(join(root, 'group/v1/key'))).mode & 0o777, 0o444);
    assert.equal((await stat(join(root, 'group'))).mode & 0o777, 0o755);
    assert.equal((await stat(join(root, 'group/v1'))).mode & 0o777, 0o755);
    assert.deepEqual((await readdir(join(root, 'group'))).sort(), ['other', 'v1']);
  });

  it('replaces an existing file (a restarted init container)', async function () {
    await writeSecretFiles(root, [file('k', 'old')], modes);
    await writeSecretFiles(root, [file('k', 'new')], modes);
    assert.equal(await readFile(join(root, 'k'), 'utf8'), 'new');
    assert.deepEqual(await readdir(root), ['k']);
  });

  it('refuses `..`, absolute and empty-segment paths even if the plan let them through', async function () {
    await refused([file('../x')], /it has a "\.\." segment/);
    await refused([file('/etc/passwd')], /it is absolute/);
    await refused([file('a//b')], /empty path segment/);
    assert.deepEqual(await readdir(dir), ['volume']);
  });

  it('does not follow a symbolic link to a directory', async function () {
    const outside = join(dir, 'outside');
    await mkdir(outside);
    await symlink(outside, join(root, 'group'));
    await refused([file('group/key')], /goes through `group`, which is a symbolic link/);
    assert.deepEqual(await readdir(outside), []);
  });

  it("does not replace a symbolic link or a directory at the file's path", async function () {
    await writeFile(join(dir, 'target'), 'outside');
    await symlink(join(dir, 'target'), join(root, 'key'));
    await refused([file('key')], /would replace a symbolic link/);
    assert.equal(await readFile(join(dir, 'target'), 'utf8'), 'outside');
    await mkdir(join(root, 'adir'));
    await refused([file('adir')], /would replace a directory/);
  });

  it('refuses a path through a regular file', async function () {
    await writeFile(join(root, 'plain'), 'x');
    await refused([file('plain/key')], /goes through `plain`, which is not a directory/);
  });

  it('reports a missing volume', async function () {
    await assert.rejects(
      writeSecretFiles(join(dir, 'nope'), [file('k')], modes),
      /shared volume .*nope is not a directory the fetcher can use \(ENOENT\)/,
    );
  });

  it('reports a read-only volume', async function () {
    if (process.getuid?.() === 0) skipFor(this, 'runs as root, which may write to a read-only directory anyway');
    await chmod(root, 0o555);
    await assert.rejects(writeSecretFiles(root, [file('k')], modes), /could not write secret file `k` \(EACCES\)/);
  });

  it('does nothing for an empty list, even without a volume', async function () {
    await writeSecretFiles('/does/not/exist', [], modes);
  });

  describe('on a volume too small for the secrets (a 16 KiB tmpfs, like a sizeLimit-ed emptyDir)', function () {
    let small: string;
    let mounted = false;

    before(async function () {
      if (process.getuid?.() !== 0) skipFor(this, 'mounting a tmpfs needs root');
      small = await mkdtemp(join(tmpdir(), 'dap-small-'));
      const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16k', 'tmpfs', small], {
        encoding: 'utf8',
        timeout: 10_000,
      });
      if (mount.status !== 0) skipFor(this, `mount -t tmpfs failed (no CAP_SYS_ADMIN?): ${mount.stderr.trim()}`);
      mounted = true;
    });

    after(async function () {
      if (mounted) spawnSync('umount', [small], { timeout: 10_000 });
      if (small) await rm(small, { recursive: true, force: true });
    });

    it('says the secrets do not fit and names SECRETS_VOLUME_SIZE_LIMIT, without writing a partial file', async function () {
      const big = { path: 'group/big', data: 'v'.repeat(40 * 1024), mlpSecret: 'big-cert' };
      await assert.rejects(writeSecretFiles(small, [file('group/small', 'fits'), big], modes), (err: FetcherError) => {
        assert.ok(err instanceof FetcherError);
        assert.match(
          err.problem,
          /could not write secret file `group\/big`: the FILE secrets \(40964 bytes in all, 2 files\) do not fit into the shared volume \(ENOSPC\)/,
        );
        assert.match(err.fix, /raise the webhook's SECRETS_VOLUME_SIZE_LIMIT/);
        assert.doesNotMatch(err.fix, /mounted writable/);
        assert.deepEqual(err.secrets, ['big-cert']);
        return true;
      });
      assert.deepEqual(await readdir(join(small, 'group')), ['small'], 'no temp file is left behind');
    });
  });

  describe('in an fsGroup volume (needs root to play the kubelet and other users)', function () {
    // The kubelet makes an fsGroup emptyDir `root:<fsGroup>` with mode 2777 (setgid: entries
    // created inside take the directory's group). The fetcher runs as 65532 with the fsGroup as a
    // supplementary group; the task may run as any uid in that group.
    const FS_GROUP = 1000;
    const FETCHER_UID = 65532;
    const TASK_UID = 1000;

    before(function () {
      if (process.getuid?.() !== 0) skipFor(this, 'playing the kubelet and other users needs root');
    });

    /**
     * writeSecretFiles in a child process running as the fetcher's user, in the fsGroup. The module
     * is loaded while still root and the user dropped after: the checkout may sit below a
     * directory the fetcher's uid cannot enter (a 0700 home), which is not what this test is about.
     */
    async function writeAsFetcher(files: SecretFile[], fileModes: FileModes): Promise<void> {
      const module = pathToFileURL(resolve(import.meta.dirname, '../../../fetcher/files.ts')).href;
      const script = `
        const { writeSecretFiles } = await import(${JSON.stringify(module)});
        process.setgroups([${FS_GROUP}]);
        process.setgid(${FETCHER_UID});
        process.setuid(${FETCHER_UID});
        await writeSecretFiles(${JSON.stringify(root)}, ${JSON.stringify(files)}, ${JSON.stringify(fileModes)});`;
      await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        timeout: 15_000,
      });
    }

    function readAsTask(path: string): { status: number | null; stdout: string; stderr: string } {
      return spawnSync('/bin/cat', [join(root, path)], {
        uid: TASK_UID,
        gid: FS_GROUP,
        encoding: 'utf8',
        timeout: 5000,
      });
    }

    it('a task running as another uid in the fsGroup can read files in new group directories', async function () {
      await chmod(dir, 0o755); // mkdtemp's 0700 would stop the task user before the volume
      await chown(root, 0, FS_GROUP);
      await chmod(root, 0o2777);
      await writeAsFetcher(
        [file('group/key', 'in-a-group'), file('group/v1/key', 'nested'), file('top', 'at-the-root')],
        modes,
      );

      for (const [path, data] of [
        ['group/key', 'in-a-group'],
        ['group/v1/key', 'nested'],
        ['top', 'at-the-root'],
      ] as const) {
        const read = readAsTask(path);
        assert.equal(read.status, 0, `${path}: ${read.stderr}`);
        assert.equal(read.stdout, data);
        const info = await stat(join(root, path));
        assert.equal(info.gid, FS_GROUP, `${path} belongs to the fsGroup`);
        assert.equal(info.mode & 0o7777, 0o440);
      }
      for (const path of ['group', 'group/v1']) {
        const info = await stat(join(root, path));
        assert.equal(info.gid, FS_GROUP, `${path} belongs to the fsGroup`);
        assert.equal(info.mode & 0o7777, 0o2750, `${path} keeps the plan's mode plus the inherited setgid bit`);
      }
    });

    it('adds no setgid bit where the volume has none', async function () {
      await writeSecretFiles(root, [file('group/key')], modes);
      assert.equal((await stat(join(root, 'group'))).mode & 0o7777, 0o750);
    });
  });
});
