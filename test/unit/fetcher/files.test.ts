import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FetcherError } from '../../../fetcher/errors.js';
import { writeSecretFiles } from '../../../fetcher/files.js';

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

  it('writes nested files with the plan\'s modes despite the umask, leaving no temp files', async function () {
    const previous = process.umask(0o077);
    try {
      await writeSecretFiles(root, [file('group/v1/key', 'secret\n'), file('group/other')], { fileMode: 0o444, dirMode: 0o755 });
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

  it('does not replace a symbolic link or a directory at the file\'s path', async function () {
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
    await assert.rejects(writeSecretFiles(join(dir, 'nope'), [file('k')], modes), /shared volume .*nope is not a directory the fetcher can use \(ENOENT\)/);
  });

  it('reports a read-only volume', async function () {
    if (process.getuid?.() === 0) this.skip(); // root may write anyway
    await chmod(root, 0o555);
    await assert.rejects(writeSecretFiles(root, [file('k')], modes), /could not write secret file `k` \(EACCES\)/);
  });

  it('does nothing for an empty list, even without a volume', async function () {
    await writeSecretFiles('/does/not/exist', [], modes);
  });
});
