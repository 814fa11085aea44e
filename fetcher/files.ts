/**
 * Writes FILE secrets into the shared in-memory volume. Each file is written atomically (a temp
 * file in the same directory, then rename), with the plan's modes, and never outside the volume:
 * paths with `..`, absolute paths and paths through symbolic links are refused even if the plan
 * asks for them (the plan is validated too; this is the second lock on the door).
 *
 * The calls are synchronous on purpose: the init container does nothing else meanwhile, and on the
 * in-memory volume each takes microseconds, while the promise API sends every one of the ~12 calls
 * per file through libuv's thread pool and back — 15–18 ms for 8 files in a fresh process against
 * 3–5 ms synchronously (bench/README.md, "Where the time goes").
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  realpathSync,
  renameSync,
  type Stats,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, sep } from 'node:path';
import { unsafePathReason } from '../contract/plan.js';
import { FetcherError, quote } from './errors.js';

export interface SecretFile {
  /** Relative to the volume root, `/`-separated. */
  path: string;
  data: string;
  /** The MLP secret it holds, for messages. */
  mlpSecret: string;
}

export interface FileModes {
  fileMode: number;
  dirMode: number;
}

function refuse(file: SecretFile, why: string): FetcherError {
  return new FetcherError({
    problem: `refused to write secret file ${quote(file.path)}: it ${why}`,
    fix:
      'secret files must stay inside the shared volume; check the group and key of the Flyte Secret ' +
      'request (no "..", no leading "/") and that nothing else in the pod creates links in the volume',
    secrets: [file.mlpSecret],
  });
}

function ioError(file: SecretFile, err: unknown, all: SecretFile[]): FetcherError {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    // The volume is an in-memory emptyDir whose size the webhook limits (tmpfs: a page per file at least).
    const bytes = all.reduce((sum, f) => sum + Buffer.byteLength(f.data, 'utf8'), 0);
    return new FetcherError({
      problem:
        `could not write secret file ${quote(file.path)}: the FILE secrets (${bytes} bytes in all, ` +
        `${all.length} ${all.length === 1 ? 'file' : 'files'}) do not fit into the shared volume (${code})`,
      fix:
        "raise the webhook's SECRETS_VOLUME_SIZE_LIMIT (Helm value fetcher.secretsVolumeSizeLimit), " +
        'the sizeLimit of the in-memory volume, allowing at least 4 KiB per file, ' +
        'or request fewer or smaller secrets as files',
      secrets: [file.mlpSecret],
    });
  }
  return new FetcherError({
    problem: `could not write secret file ${quote(file.path)} (${code})`,
    fix:
      code === 'ENAMETOOLONG'
        ? 'shorten the group or key of the Flyte Secret request'
        : 'check that the shared volume is mounted writable for the ' +
          'fetcher (the webhook adds it as an in-memory emptyDir)',
    secrets: [file.mlpSecret],
  });
}

function lstatOrNull(path: string): Stats | null {
  return lstatSync(path, { throwIfNoEntry: false }) ?? null;
}

/** The set-group-ID bit (not in `fs.constants`). */
const SETGID = 0o2000;

function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * Creates (or checks) each directory on the way, refusing links and non-directories.
 *
 * A new directory keeps its parent's setgid bit: the kubelet makes an fsGroup volume setgid so
 * that everything created inside belongs to the fsGroup; a chmod to the plan's mode alone would
 * clear the bit, and files below would then take the fetcher's own group, which a task running as
 * another user in the fsGroup cannot read.
 */
function ensureDirectories(realRoot: string, file: SecretFile, segments: string[], dirMode: number): string {
  let dir = realRoot;
  let parentSetgid = statSync(realRoot).mode & SETGID;
  for (const segment of segments) {
    dir = join(dir, segment);
    const found = lstatOrNull(dir);
    if (found === null) {
      try {
        mkdirSync(dir, { mode: dirMode });
      } catch (err) {
        // Another writer made it first: check it like any existing entry.
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const made = lstatSync(dir);
      if (made.isSymbolicLink() || !made.isDirectory())
        throw refuse(file, `goes through ${quote(segment)}, which is not a plain directory`);
      chmodSync(dir, dirMode | parentSetgid); // mkdir's mode is filtered by the umask
    } else if (found.isSymbolicLink()) {
      throw refuse(file, `goes through ${quote(segment)}, which is a symbolic link`);
    } else if (!found.isDirectory()) {
      throw refuse(file, `goes through ${quote(segment)}, which is not a directory`);
    } else {
      parentSetgid = found.mode & SETGID;
    }
  }
  // Belt and braces: whatever happened, the directory must still resolve inside the root.
  if (!inside(realRoot, realpathSync(dir))) throw refuse(file, 'resolves outside the volume');
  return dir;
}

function writeAtomically(dir: string, name: string, file: SecretFile, fileMode: number): void {
  const target = join(dir, name);
  const existing = lstatOrNull(target);
  if (existing?.isSymbolicLink()) throw refuse(file, 'would replace a symbolic link');
  if (existing?.isDirectory()) throw refuse(file, 'would replace a directory');
  // A fixed-length temp name, so a long (but valid) file name cannot make it too long.
  const temp = join(dir, `.dap-tmp-${randomBytes(8).toString('hex')}`);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  let fd: number | undefined;
  try {
    fd = openSync(temp, flags, fileMode);
    writeFileSync(fd, file.data, 'utf8');
    fchmodSync(fd, fileMode); // open's mode is filtered by the umask
    fsyncSync(fd);
    const written = fd;
    fd = undefined;
    closeSync(written);
    renameSync(temp, target);
  } catch (err) {
    if (fd !== undefined) ignore(() => closeSync(fd as number));
    ignore(() => unlinkSync(temp));
    throw err;
  }
}

/** Cleanup after a failure: its own error must not hide the one being reported. */
function ignore(cleanup: () => void): void {
  try {
    cleanup();
  } catch {
    // the original error is the one to report
  }
}

/** Writes every file under `root`; the first refusal or I/O error stops the run. */
export async function writeSecretFiles(root: string, files: SecretFile[], modes: FileModes): Promise<void> {
  if (files.length === 0) return;
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
    if (!statSync(realRoot).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (err) {
    throw new FetcherError({
      problem:
        `the shared volume ${root} is not a directory the fetcher ` +
        `can use (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      fix: "mount the shared in-memory volume at the plan's fileRoot (the webhook does this; check the pod spec)",
      secrets: files.map((f) => f.mlpSecret),
    });
  }
  for (const file of files) {
    const reason = unsafePathReason(file.path);
    if (reason !== null) throw refuse(file, reason);
    const segments = file.path.split('/');
    const name = segments.pop() as string;
    try {
      const dir = ensureDirectories(realRoot, file, segments, modes.dirMode);
      writeAtomically(dir, name, file, modes.fileMode);
    } catch (err) {
      throw err instanceof FetcherError ? err : ioError(file, err, files);
    }
  }
}
