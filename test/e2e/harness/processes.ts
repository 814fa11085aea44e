/**
 * Child processes the e2e harness starts: each one recorded by PID, its output in a log file,
 * stopped by PID (its stop signal, then SIGKILL) — also when a test fails or mocha exits early.
 * And the temp dirs holding keys, tokens and fetched secret values: removed on such an early
 * exit too (see registerTempDir).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';

const live = new Set<ManagedProcess>();
/** Temp dir → removed even with DAP_E2E_KEEP=1 (tmpfs dirs holding fetched secret values). */
const tempDirs = new Map<string, { alwaysRemove: boolean }>();

/**
 * Records a temp dir its owner removes (or keeps, on purpose) when done. Should the run end first
 * — a crash, a signal, mocha's parent killed — the exit handler removes it: `alwaysRemove` ones
 * always, the others unless DAP_E2E_KEEP=1.
 */
export function registerTempDir(path: string, opts: { alwaysRemove?: boolean } = {}): void {
  tempDirs.set(path, { alwaysRemove: opts.alwaysRemove ?? false });
}

/** The owner keeps the dir on purpose (a failed run's files, for reading): the exit handler leaves it. */
export function keepTempDir(path: string): void {
  tempDirs.delete(path);
}

/** Removes a registered temp dir now. */
export async function removeTempDir(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
  tempDirs.delete(path);
}

// Last line of defence: if mocha exits without running our after-hooks (crash, Ctrl-C, SIGTERM),
// no etcd or kube-apiserver may outlive it and no key, token or secret value may stay on disk.
// 'exit' handlers must be synchronous: signals by PID, a bounded synchronous wait, rmSync.
let cleanedUp = false;
const cleanUpNow = () => {
  if (cleanedUp) return;
  cleanedUp = true;
  stopAllNow();
  const keep = process.env.DAP_E2E_KEEP === '1';
  for (const [path, { alwaysRemove }] of tempDirs) {
    if (keep && !alwaysRemove) {
      console.error(`[e2e] DAP_E2E_KEEP=1: kept ${path}`);
      continue;
    }
    try {
      rmSync(path, { recursive: true, force: true });
    } catch (err) {
      console.error(`[e2e] could not remove ${path}: ${(err as Error).message}`);
    }
  }
  tempDirs.clear();
};
process.once('exit', cleanUpNow);
// A signal's default action ends node without 'exit' handlers: clean up first, then let the
// signal take its course (re-raised once our one-shot listener is gone; if mocha listens too,
// mocha decides).
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    cleanUpNow();
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  });
}
// With node options (.mocharc's `import=tsx`) mocha runs the tests in a child of its own process
// and forwards only SIGINT: a SIGTERM to `mocha` ends the parent and leaves this process running.
// The parent exists only to forward signals and the exit code, so its death ends the run.
watchMochaParent();

function watchMochaParent(): void {
  const parent = process.ppid;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${parent}/cmdline`, 'utf8');
  } catch {
    return;
  }
  if (!/(^|\/)mocha(\.js)?\0/.test(cmdline) && !cmdline.includes('/mocha/bin/')) return;
  setInterval(() => {
    if (process.ppid === parent) return;
    console.error(`[e2e] mocha (pid ${parent}) is gone: stopping this run`);
    cleanUpNow();
    process.exit(143);
  }, 500).unref();
}

/** Every process down: SIGKILL, except those with an exit grace (PostgreSQL), which get their stop signal and that long first. */
function stopAllNow(): void {
  const graceful = [...live].filter((p) => p.exitGraceMs > 0);
  for (const p of live) if (p.exitGraceMs === 0) p.killNow();
  for (const p of graceful) p.signalNow(p.stopSignal);
  const until = Date.now() + Math.max(0, ...graceful.map((p) => p.exitGraceMs));
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (graceful.some((p) => p.isRunningNow()) && Date.now() < until) Atomics.wait(pause, 0, 0, 25);
  for (const p of live) p.killNow();
}

export interface StartOptions {
  /** File that receives stdout, and stderr unless `stderrPath` is given. */
  logPath: string;
  stderrPath?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The signal that asks for a clean shutdown (default SIGTERM; PostgreSQL: SIGINT, "fast"). */
  stopSignal?: NodeJS.Signals;
  /**
   * On an early exit of the run, wait this long after the stop signal before SIGKILL (default 0:
   * SIGKILL at once). For processes whose SIGKILL leaves state behind (PostgreSQL's shared memory).
   */
  exitGraceMs?: number;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ManagedProcess {
  readonly pid: number;
  private exitStatus: ExitStatus | undefined;
  private readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    readonly logPath: string,
    child: ChildProcess,
    readonly stopSignal: NodeJS.Signals = 'SIGTERM',
    readonly exitGraceMs = 0,
  ) {
    if (child.pid === undefined) throw new Error(`${name} did not start (no PID); see ${logPath}`);
    this.pid = child.pid;
    this.exited = once(child, 'exit').then(([code, signal]) => {
      this.exitStatus = { code: code as number | null, signal: signal as NodeJS.Signals | null };
      live.delete(this);
    });
  }

  get hasExited(): boolean {
    return this.exitStatus !== undefined;
  }

  /**
   * Resolves with the exit status; a process still running after `timeoutMs` is killed
   * (SIGKILL) and `timedOut` is set.
   */
  async waitForExit(timeoutMs: number): Promise<ExitStatus & { timedOut: boolean }> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.signal('SIGKILL');
    }, timeoutMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
    return { ...this.exitStatus!, timedOut };
  }

  describeExit(): string {
    if (!this.exitStatus) return `${this.name} (pid ${this.pid}) is running`;
    const { code, signal } = this.exitStatus;
    return `${this.name} (pid ${this.pid}) exited with ${signal ? `signal ${signal}` : `code ${code}`}`;
  }

  /** The last lines of the process's log, for failure messages. */
  tail(lines = 40): string {
    let text: string;
    try {
      text = readFileSync(this.logPath, 'utf8');
    } catch {
      return `(no log at ${this.logPath})`;
    }
    const all = text.trimEnd().split('\n');
    return all.slice(-lines).join('\n');
  }

  /** The stop signal (SIGTERM unless started with another), then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.hasExited) return;
    this.signal(this.stopSignal);
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  killNow(): void {
    this.signal('SIGKILL');
  }

  signalNow(sig: NodeJS.Signals): void {
    this.signal(sig);
  }

  /**
   * Synchronously, without the event loop (for exit handlers): false once the process has ended,
   * including as a zombie not yet reaped by node.
   */
  isRunningNow(): boolean {
    if (this.hasExited) return false;
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      // "pid (comm) S ...": the state follows the last ')', as comm may hold spaces and parens.
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  }

  private signal(sig: NodeJS.Signals): void {
    if (this.hasExited) return;
    try {
      process.kill(this.pid, sig);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }
}

/** Starts `command` with its output appended to `logPath`. Never inherits the caller's stdio. */
export function startProcess(name: string, command: string, args: string[], opts: StartOptions): ManagedProcess {
  const fd = openSync(opts.logPath, 'a');
  const errFd = opts.stderrPath ? openSync(opts.stderrPath, 'a') : fd;
  try {
    const child = spawn(command, args, {
      stdio: ['ignore', fd, errFd],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    // spawn errors (ENOENT, EACCES) arrive as an event; without a listener they would crash mocha.
    child.on('error', () => {});
    const managed = new ManagedProcess(name, opts.logPath, child, opts.stopSignal, opts.exitGraceMs);
    live.add(managed);
    return managed;
  } finally {
    closeSync(fd);
    if (errFd !== fd) closeSync(errFd);
  }
}

/** Processes still running, for failure reports. */
export function liveProcesses(): ManagedProcess[] {
  return [...live];
}
