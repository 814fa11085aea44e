/**
 * Golden cases: test/goldens/<case>/input.yaml (a pod as the API server hands it to mutating
 * admission) and the expected result: expected.yaml (the mutated or unchanged pod) or
 * denied.txt (the denial message), plus warnings.txt when admission warnings are expected.
 * The same cases run in-process, through the `render` CLI and through the HTTPS endpoint.
 * UPDATE_GOLDENS=1 rewrites the expected files (review the diff before committing).
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadConfig, type InjectionConfig } from '../../webhook/config.js';

export const GOLDEN_DIR = fileURLToPath(new URL('../goldens/', import.meta.url));

/** Every golden case; a directory not listed here (or listed but missing) fails the suite. */
export const GOLDEN_CASES = [
  'env-var-single',
  'file-single',
  'any-default-file',
  'mixed',
  'group-version',
  'env-var-extra-env-var',
  'env-var-extra-file',
  'no-group',
  'several-containers-and-init',
  'env-collision',
  'generate-name',
  'automount-off',
  'fs-group',
  'already-injected',
  'reinvocation-added-container',
  'reinvocation-init-prepended',
  'native-sidecar-first',
  'label-without-annotations',
  'unlabelled',
  'deny-malformed-annotation',
  'deny-path-escape',
  'deny-non-ascii-env',
  'deny-group-only',
  'deny-case-conflict',
  'deny-file-directory-clash',
  'deny-reserved-env-var',
  'deny-copied-injected-pod',
  'group-version-both-lookups',
  'group-version-collision',
  'own-default-dir',
  'deny-own-default-dir',
  'deny-hijack-env-var',
  'deny-over-limit-secrets',
  'deny-over-limit-containers',
  'deny-over-limit-annotation-bytes',
  'deny-stale-marker-image',
] as const;

/** The admin configuration the goldens are rendered with. */
export const GOLDEN_ENV: Record<string, string> = {
  FETCHER_IMAGE: 'registry.example.com/caraml/dap-secret-fetcher:0.1.0',
  MLP_API_HOST: 'http://mlp.caraml.svc.cluster.local:8080',
};

export function goldenConfig(): InjectionConfig {
  const loaded = loadConfig(GOLDEN_ENV);
  if (!loaded.ok) throw new Error(loaded.problems.join('; '));
  return loaded.config.injection;
}

export const goldenUid = (name: string) => `golden-${name}`;

export interface GoldenCase {
  name: string;
  inputText: string;
  input: Record<string, unknown>;
  expected: { kind: 'pod'; pod: unknown } | { kind: 'denied'; message: string };
  warnings: string[];
}

const dir = (name: string) => join(GOLDEN_DIR, name);
const read = (name: string, file: string) => readFileSync(join(dir(name), file), 'utf8');

export const readGoldenInput = (name: string) => read(name, 'input.yaml');

export function loadGolden(name: string): GoldenCase {
  const inputText = readGoldenInput(name);
  const hasDenial = existsSync(join(dir(name), 'denied.txt'));
  return {
    name,
    inputText,
    input: parse(inputText) as Record<string, unknown>,
    expected: hasDenial ? { kind: 'denied', message: read(name, 'denied.txt').trimEnd() } : { kind: 'pod', pod: parse(read(name, 'expected.yaml')) },
    warnings: existsSync(join(dir(name), 'warnings.txt')) ? read(name, 'warnings.txt').trimEnd().split('\n') : [],
  };
}

/** Directories on disk that no case claims, and claimed cases without files. */
export function goldenSetProblems(): string[] {
  const onDisk = readdirSync(GOLDEN_DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  const problems = onDisk.filter((d) => !(GOLDEN_CASES as readonly string[]).includes(d)).map((d) => `test/goldens/${d} is not in GOLDEN_CASES (stale?)`);
  for (const name of GOLDEN_CASES) {
    if (!existsSync(join(dir(name), 'input.yaml'))) problems.push(`test/goldens/${name}/input.yaml is missing`);
    const results = ['expected.yaml', 'denied.txt'].filter((f) => existsSync(join(dir(name), f)));
    if (results.length !== 1) problems.push(`test/goldens/${name} needs exactly one of expected.yaml, denied.txt`);
    const extra = existsSync(dir(name)) ? readdirSync(dir(name)).filter((f) => !['input.yaml', 'expected.yaml', 'denied.txt', 'warnings.txt'].includes(f)) : [];
    for (const f of extra) problems.push(`test/goldens/${name}/${f} is not a golden file`);
  }
  return problems;
}

export const updatingGoldens = process.env.UPDATE_GOLDENS === '1';

/** UPDATE_GOLDENS=1: record what the code produces now. */
export function writeGolden(name: string, result: { text: string; denied: string | null; warnings: string[] }): void {
  for (const f of ['expected.yaml', 'denied.txt', 'warnings.txt']) rmSync(join(dir(name), f), { force: true });
  if (result.denied !== null) writeFileSync(join(dir(name), 'denied.txt'), `${result.denied}\n`);
  else writeFileSync(join(dir(name), 'expected.yaml'), result.text);
  if (result.warnings.length > 0) writeFileSync(join(dir(name), 'warnings.txt'), `${result.warnings.join('\n')}\n`);
}
