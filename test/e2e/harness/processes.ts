/**
 * Child processes the e2e harness starts: each one recorded by PID, its output in a log file,
 * stopped by PID (SIGTERM, then SIGKILL) — also when a test fails or mocha exits early.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { once } from 'node:events';

const live = new Set<ManagedProcess>();

// Last line of defence: if mocha exits without running our after-hooks (crash, Ctrl-C), no
// etcd or kube-apiserver may outlive it. 'exit' handlers must be synchronous: SIGKILL by PID.
const killAll = () => {
  for (const p of live) p.killNow();
};
process.once('exit', killAll);
// A signal's default action ends node without 'exit' handlers: kill the children first, then let
// the signal take its course (re-raised once our one-shot listener is gone; if mocha listens too,
// mocha decides).
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(sig, () => {
    killAll();
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  });
}

export interface StartOptions {
  /** File that receives stdout, and stderr unless `stderrPath` is given. */
  logPath: string;
  stderrPath?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
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
    private readonly child: ChildProcess,
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

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.hasExited) return;
    this.signal('SIGTERM');
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
    const managed = new ManagedProcess(name, opts.logPath, child);
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
