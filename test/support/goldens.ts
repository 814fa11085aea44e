/**
 * Golden cases, discovered from test/goldens/<case>/ (no list to keep; format in
 * test/goldens/README.md): input.yaml (a pod as the API server hands it to mutating admission),
 * the expected result (expected.yaml, the mutated or unchanged pod, or denied.txt, the denial
 * message), warnings.txt when admission warnings are expected, and an optional config.yaml
 * (admin settings for this case; where a generated input comes from).
 * The same cases run in-process, through the `render` CLI and through the HTTPS endpoint.
 * UPDATE_GOLDENS=1 rewrites the expected files (review the diff before committing).
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { type InjectionConfig, loadConfig } from '../../webhook/config.js';

export const GOLDEN_DIR = fileURLToPath(new URL('../goldens/', import.meta.url));

/** The admin configuration every golden is rendered with; a case's config.yaml `env` adds to it. */
export const GOLDEN_ENV: Readonly<Record<string, string>> = {
  FETCHER_IMAGE: 'registry.example.com/caraml/dap-secret-fetcher:0.1.0',
  MLP_API_HOST: 'http://mlp.caraml.svc.cluster.local:8080',
};

/** config.yaml: every key is optional; an unknown key fails the suite (a typo would go unnoticed). */
export interface GoldenCaseConfig {
  /** One line on what the case shows. */
  about?: string;
  /** Webhook settings (env vars, as the chart sets them) on top of GOLDEN_ENV. */
  env?: Record<string, string>;
  /** input.yaml is generated, not hand-written: the Flyte task (test/flyte-pods/tasks.py) whose pod it is. */
  flyteTask?: string;
}
const CONFIG_KEYS = new Set(['about', 'env', 'flyteTask']);

/** Files a case may hold; anything else in its directory fails the suite. */
const CASE_FILES = new Set(['input.yaml', 'expected.yaml', 'denied.txt', 'warnings.txt', 'config.yaml']);

export interface GoldenCase {
  name: string;
  config: GoldenCaseConfig;
  /** GOLDEN_ENV plus the case's own env. */
  env: Record<string, string>;
  inputText: string;
  input: Record<string, unknown>;
  expected: { kind: 'pod'; pod: unknown } | { kind: 'denied'; message: string };
  warnings: string[];
}

const dir = (name: string, root = GOLDEN_DIR) => join(root, name);
const read = (name: string, file: string, root = GOLDEN_DIR) => readFileSync(join(dir(name, root), file), 'utf8');
const has = (name: string, file: string, root = GOLDEN_DIR) => existsSync(join(dir(name, root), file));

/** Every case directory, sorted: what is on disk is what runs. */
export function goldenCaseNames(root = GOLDEN_DIR): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

export function readGoldenConfig(name: string): GoldenCaseConfig {
  if (!has(name, 'config.yaml')) return {};
  const config = (parse(read(name, 'config.yaml')) ?? {}) as GoldenCaseConfig;
  return config;
}

const goldenEnv = (config: GoldenCaseConfig): Record<string, string> => ({ ...GOLDEN_ENV, ...config.env });

/** The injection config a case is rendered with (GOLDEN_ENV plus its config.yaml env). */
export function goldenConfig(config: GoldenCaseConfig = {}): InjectionConfig {
  const loaded = loadConfig(goldenEnv(config));
  if (!loaded.ok) throw new Error(loaded.problems.join('; '));
  return loaded.config.injection;
}

export const goldenUid = (name: string) => `golden-${name}`;

export const readGoldenInput = (name: string) => read(name, 'input.yaml');

export function loadGolden(name: string): GoldenCase {
  const inputText = readGoldenInput(name);
  const config = readGoldenConfig(name);
  return {
    name,
    config,
    env: goldenEnv(config),
    inputText,
    input: parse(inputText) as Record<string, unknown>,
    expected: has(name, 'denied.txt')
      ? { kind: 'denied', message: read(name, 'denied.txt').trimEnd() }
      : { kind: 'pod', pod: parse(read(name, 'expected.yaml')) },
    warnings: has(name, 'warnings.txt') ? read(name, 'warnings.txt').trimEnd().split('\n') : [],
  };
}

/** What is wrong with a case directory's files, before any of them is compared. */
/** `root`: another directory of cases (the checker's own tests). */
export function goldenCaseProblems(name: string, root = GOLDEN_DIR): string[] {
  const where = `test/goldens/${name}`;
  const problems: string[] = [];
  if (!has(name, 'input.yaml', root)) problems.push(`${where}/input.yaml is missing`);
  const results = ['expected.yaml', 'denied.txt'].filter((f) => has(name, f, root));
  if (results.length !== 1)
    problems.push(`${where} needs exactly one of expected.yaml, denied.txt (has ${results.length})`);
  for (const f of readdirSync(dir(name, root)))
    if (!CASE_FILES.has(f)) problems.push(`${where}/${f} is not a golden file (${[...CASE_FILES].join(', ')})`);
  if (has(name, 'warnings.txt', root) && read(name, 'warnings.txt', root).trim() === '')
    problems.push(`${where}/warnings.txt is empty: delete it`);
  if (has(name, 'config.yaml', root)) {
    let config: unknown;
    try {
      config = parse(read(name, 'config.yaml', root));
    } catch (err) {
      return [...problems, `${where}/config.yaml is not valid YAML: ${(err as Error).message.split('\n')[0]}`];
    }
    if (typeof config !== 'object' || config === null || Array.isArray(config))
      return [...problems, `${where}/config.yaml must be a mapping`];
    for (const key of Object.keys(config))
      if (!CONFIG_KEYS.has(key))
        problems.push(`${where}/config.yaml: unknown key ${JSON.stringify(key)} (${[...CONFIG_KEYS].join(', ')})`);
    const env = (config as GoldenCaseConfig).env;
    if (
      env !== undefined &&
      (typeof env !== 'object' || env === null || Object.values(env).some((v) => typeof v !== 'string'))
    ) {
      problems.push(`${where}/config.yaml: env must map setting names to strings (quote numbers and booleans)`);
    } else if (env !== undefined) {
      const loaded = loadConfig(goldenEnv({ env }));
      if (!loaded.ok) problems.push(...loaded.problems.map((p) => `${where}/config.yaml env: ${p}`));
    }
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
