/**
 * CPU time of a process (and of the children it forks, like PostgreSQL's backends) from
 * /proc/<pid>/stat: utime + stime, plus cutime + cstime (children it has reaped), plus the live
 * children's own figures. Sampled before and after a measured round; the difference is what the
 * round cost that process tree, whatever else ran on the machine.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;

/** The kernel's clock ticks per second (`getconf CLK_TCK`; 100 on every Linux we run). */
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

interface Stat {
  ppid: number;
  /** utime + stime, ticks */
  own: number;
  /** cutime + cstime (waited-for children), ticks */
  reaped: number;
}

/** Fields after the command name (which may hold spaces and parentheses: split after the last `)`). */
export function parseStat(text: string): Stat {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); ppid is field 4, utime..cstime are fields 14..17.
  const at = (field: number) => Number(fields[field - 3]);
  return { ppid: at(4), own: at(14) + at(15), reaped: at(16) + at(17) };
}

function readStat(pid: number): Stat | undefined {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined; // gone between listing and reading
  }
}

/** CPU milliseconds of `pid` alone so far (user + system). */
export function processCpuMs(pid: number): number {
  const stat = readStat(pid);
  if (!stat) throw new Error(`process ${pid} is gone: cannot read its CPU time`);
  return (stat.own * 1000) / clockTicks();
}

/**
 * CPU milliseconds of `pid` and all its descendants so far: its own, its reaped children's, and
 * every live descendant's (own + reaped). A child that exits between two samples moves from the
 * live sum into its parent's reaped sum, so differences stay consistent.
 */
export function processTreeCpuMs(pid: number): number {
  const root = readStat(pid);
  if (!root) throw new Error(`process ${pid} is gone: cannot read its CPU time`);
  const children = new Map<number, Stat[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push({ ...stat, ppid: Number(entry) }); // ppid reused as "this pid" for the walk below
    children.set(stat.ppid, list);
  }
  let ticks = root.own + root.reaped;
  const stack = [pid];
  while (stack.length > 0) {
    for (const child of children.get(stack.pop()!) ?? []) {
      ticks += child.own + child.reaped;
      stack.push(child.ppid);
    }
  }
  return (ticks * 1000) / clockTicks();
}

/**
 * CPU milliseconds of `pid`'s live threads so far, to the nanosecond (`/proc/<pid>/task/<tid>/schedstat`,
 * field 1: time on a CPU). For small amounts — an idle process over a few seconds — where the
 * 10 ms ticks of /proc/<pid>/stat read as 0. Threads that have exited are not counted.
 */
export function processCpuMsPrecise(pid: number): number {
  let ns = 0;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    throw new Error(`process ${pid} is gone: cannot read its CPU time`);
  }
  for (const tid of tasks) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread ended between listing and reading
    }
  }
  return ns / 1e6;
}
