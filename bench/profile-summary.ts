/**
 * Where the time goes, from a V8 .cpuprofile (node --cpu-prof): the functions with the most
 * self time and the most inclusive time (a sample counts once per function on its stack), as %
 * of all busy samples (every sample but `(idle)`; `(program)` is native work such as TLS, and
 * `(garbage collector)` is GC).
 *
 *   node --import tsx bench/profile-summary.ts bench/results/profiles/CPU.*.cpuprofile [--top=25]
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
}

interface FunctionTime {
  name: string;
  selfPct: number;
  inclusivePct: number;
}

const IDLE = '(idle)';

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url ? `${basename(url)}:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
}

/** Self and inclusive time per function, sorted by inclusive time; idle excluded. */
function summarizeProfile(profile: CpuProfile): { busySamples: number; functions: FunctionTime[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  for (const id of profile.samples) {
    const leaf = byId.get(id)!;
    if (leaf.callFrame.functionName === IDLE) continue;
    busy++;
    const leafLabel = label(leaf);
    self.set(leafLabel, (self.get(leafLabel) ?? 0) + 1);
    const seen = new Set<string>();
    for (let n: ProfileNode | undefined = leaf; n; n = byId.get(parent.get(n.id) ?? -1)) {
      const l = label(n);
      if (l === '(root)' || seen.has(l)) continue;
      seen.add(l);
      inclusive.set(l, (inclusive.get(l) ?? 0) + 1);
    }
  }
  const pct = (n: number) => (100 * n) / Math.max(1, busy);
  const functions = [...inclusive.entries()].map(([name, n]) => ({
    name,
    selfPct: pct(self.get(name) ?? 0),
    inclusivePct: pct(n),
  }));
  functions.sort((a, b) => b.inclusivePct - a.inclusivePct);
  return { busySamples: busy, functions };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' } },
  });
  const top = Number(values.top);
  for (const file of positionals) console.log(formatProfileSummary(file, top));
}

export function formatProfileSummary(file: string, top: number): string {
  const { busySamples, functions } = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  const line = (f: FunctionTime) =>
    `${f.selfPct.toFixed(1).padStart(6)}% ${f.inclusivePct.toFixed(1).padStart(6)}%  ${f.name}`;
  return [
    `${file}: ${busySamples} busy samples`,
    '',
    '  self   incl.  — by inclusive time',
    ...functions.slice(0, top).map(line),
    '',
    '  self   incl.  — by self time',
    ...[...functions]
      .sort((a, b) => b.selfPct - a.selfPct)
      .slice(0, top)
      .map(line),
    '',
  ].join('\n');
}
