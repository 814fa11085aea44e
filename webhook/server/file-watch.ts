/**
 * Notices when files change on disk, for certificate and CA rotation without a restart.
 *
 * Kubernetes updates a Secret volume by writing a new timestamped directory and renaming a
 * `..data` symlink over the old one; the file itself (`tls.crt -> ..data/tls.crt`) is never
 * written. So this watches the *directory* (any event there triggers a check) and compares what
 * `stat` sees through the symlinks (inode, size, mtime). fs.watch can miss events (network
 * filesystems, some container runtimes), so a periodic check runs as well.
 */
import { type FSWatcher, watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errorFields, type Logger } from './log.js';

export interface FileWatchOptions {
  /** Files to watch; a change of any of them calls onChange once. */
  paths: string[];
  /**
   * Returns false when the new state was not usable yet (e.g. a new certificate next to the old
   * key, mid-rotation): the next event or periodic check then tries again.
   */
  onChange: () => Promise<boolean>;
  logger: Logger;
  /** Period of the fallback check. */
  pollIntervalMs: number;
}

export interface FileWatch {
  close(): void;
}

async function signature(paths: string[]): Promise<string> {
  const parts = await Promise.all(
    paths.map(async (p) => {
      try {
        const s = await stat(p);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return 'missing';
      }
    }),
  );
  return parts.join('|');
}

export async function watchFiles(opts: FileWatchOptions): Promise<FileWatch> {
  const { paths, logger } = opts;
  let last = await signature(paths);
  let closed = false;
  // Checks run one at a time; events arriving meanwhile collapse into one more check.
  let running = false;
  let again = false;

  const check = async (): Promise<void> => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        const now = await signature(paths);
        if (closed || now === last) continue;
        last = now;
        let applied = false;
        try {
          applied = await opts.onChange();
        } catch (err) {
          logger.error({ files: paths, err: errorFields(err) }, 'handling a file change failed');
        }
        if (!applied) last = 'retry';
      } while (again && !closed);
    } finally {
      running = false;
    }
  };
  const trigger = () => void check();

  const watchers: FSWatcher[] = [];
  for (const dir of new Set(paths.map((p) => dirname(p)))) {
    try {
      const w = watch(dir, { persistent: false }, trigger);
      w.on('error', (err) =>
        logger.warn({ dir, err: errorFields(err) }, 'watching a directory failed; relying on the periodic check'),
      );
      watchers.push(w);
    } catch (err) {
      logger.warn({ dir, err: errorFields(err) }, 'cannot watch directory; relying on the periodic check');
    }
  }
  const timer = setInterval(trigger, opts.pollIntervalMs);
  timer.unref();

  return {
    close() {
      closed = true;
      clearInterval(timer);
      for (const w of watchers) w.close();
    },
  };
}
