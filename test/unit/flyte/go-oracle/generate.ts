/**
 * Regenerates test/fixtures/flyte-go-oracle.json: what Flyte's own Go code (golang/protobuf v1.5.4
 * `proto.UnmarshalText` / `proto.MarshalTextString`, Go's base32 with Flyte's alphabet) answers for
 * the documented cases in ../text-format-cases.ts plus seeded random ones. Needs Go; the tests only
 * read the fixture. Run from the repo root:
 *
 *   node --import tsx test/unit/flyte/go-oracle/generate.ts
 *
 * Deliberately does not import the code under test: the fixture holds only Go's answers.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ACCEPTED, REJECTED } from '../text-format-cases.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const fixturePath = fileURLToPath(new URL('../../../fixtures/flyte-go-oracle.json', import.meta.url));
const cacheDir = join(process.env.DAP_CACHE_DIR ?? join(homedir(), '.cache', 'dap-secret-webhook'), 'flyte-go-oracle');
const oraclePath = join(cacheDir, 'flyteoracle');

mkdirSync(cacheDir, { recursive: true });
execFileSync('go', ['build', '-o', oraclePath, '.'], {
  cwd: here,
  stdio: 'inherit',
  env: { ...process.env, GOFLAGS: '-mod=mod' },
});
const goVersion = execFileSync('go', ['version'], { encoding: 'utf8' }).trim();

interface GoAnswer {
  ok: boolean;
  error?: string;
  panic?: string;
  groupB64?: string;
  groupVersionB64?: string;
  keyB64?: string;
  envVarB64?: string;
  mountRequirement: number;
  textB64?: string;
  annotation?: string;
  bytesB64?: string;
}

function ask(requests: object[]): GoAnswer[] {
  const input = `${requests.map((r) => JSON.stringify(r)).join('\n')}\n`;
  const out = execFileSync(oraclePath, { input, maxBuffer: 1 << 28, encoding: 'utf8' });
  return out
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as GoAnswer);
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const fromB64 = (b64 = '') => Uint8Array.from(Buffer.from(b64, 'base64'));
const isUtf8 = (bytes: Uint8Array) => {
  try {
    fatalUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
};
/** A string as JSON can hold it: text when valid UTF-8, else {base64}. */
const jsonBytes = (bytes: Uint8Array) =>
  isUtf8(bytes) ? fatalUtf8.decode(bytes) : { base64: Buffer.from(bytes).toString('base64') };
const toBytes = (text: string | readonly number[]) =>
  typeof text === 'string' ? new TextEncoder().encode(text) : Uint8Array.from(text);

// ---- seeded random texts, built from the same syntax pieces the cases use, plus noise ----
let seed = 20260101;
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const utf8 = (s: string) => [...new TextEncoder().encode(s)];

const WS = ['', ' ', '\t', '\n', '\r\n', '# c\n', '#x', '\v', '\f', '\r'];
const NAMES = [
  'group',
  'key',
  'group_version',
  'env_var',
  'mount_requirement',
  'mount_requirement',
  'groupVersion',
  'Key',
  'foo',
  '"key"',
  '[x]',
  '',
  '1',
];
const COLONS = [':', ':', ':', '', '=', '::'];
const SEPARATORS = ['', '', ';', ',', ';;', ',;'];
const ENUMS = [
  'ANY',
  'ENV_VAR',
  'FILE',
  'file',
  '0',
  '1',
  '2',
  '3',
  '-1',
  '+1',
  '-0',
  '0x2',
  '0X1',
  '0o2',
  '0b1',
  '01',
  '08',
  '1_0',
  '0_1',
  '0x_1',
  '_1',
  '1_',
  '1__0',
  '0b',
  '0x',
  '2147483647',
  '2147483648',
  '-2147483648',
  '-2147483649',
  '1.0',
  '"FILE"',
  '',
  '+0x2',
  '4294967298',
];
const PIECES = [
  'a',
  'Z',
  ' ',
  '-',
  '.',
  "'",
  '"',
  '\\\\',
  '\\"',
  "\\'",
  '\\n',
  '\\t',
  '\\a',
  '\\v',
  '\\?',
  '\\0',
  '\\00',
  '\\000',
  '\\101',
  '\\377',
  '\\400',
  '\\8',
  '\\18',
  '\\303\\251',
  '\\303',
  '\\xff',
  '\\x41',
  '\\X41',
  '\\x4',
  '\\xg1',
  '\\u00e9',
  '\\ud800',
  '\\u12',
  '\\U0001F600',
  '\\U00110000',
  '\\q',
  '\\\n',
  'é',
  '😀',
  '\u0000',
  '#',
  ':',
  '\n',
  '\\',
  '\ufeff',
];
const RAW_BYTES = [[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0x80], [0x80]];

function randomString(): number[] {
  const quote = random() < 0.7 ? '"' : "'";
  const out = utf8(quote);
  for (let n = Math.floor(random() * 5); n > 0; n--) {
    if (random() < 0.1) out.push(...pick(RAW_BYTES));
    else {
      const piece = pick(PIECES);
      out.push(...utf8(piece === quote && random() < 0.8 ? `\\${quote}` : piece));
    }
  }
  if (random() > 0.03) out.push(...utf8(quote));
  if (random() < 0.15) out.push(...utf8(pick(WS)), ...randomString());
  return out;
}

function randomText(): Uint8Array {
  const out: number[] = [];
  for (let n = Math.floor(random() * 5); n > 0; n--) {
    const name = pick(NAMES);
    out.push(
      ...utf8(pick(WS)),
      ...utf8(name),
      ...utf8(pick(WS).replace(/#.*/, '')),
      ...utf8(pick(COLONS)),
      ...utf8(pick(WS)),
    );
    if (name === 'mount_requirement' ? random() < 0.9 : random() < 0.05) out.push(...utf8(pick(ENUMS)));
    else if (random() < 0.95) out.push(...randomString());
    else out.push(...utf8(pick(['foo', '{', '1'])));
    out.push(...utf8(pick(SEPARATORS)));
  }
  if (random() < 0.3) out.push(...utf8(pick(WS)));
  return Uint8Array.from(out);
}

// ---- parse ----
const documented = [...ACCEPTED, ...REJECTED].map((c) => ({ name: c.name, bytes: toBytes(c.text) }));
const fuzzed = Array.from({ length: 20000 }, randomText);
const documentedAnswers = ask(
  documented.map((c) => ({ op: 'parse', textB64: Buffer.from(c.bytes).toString('base64') })),
);
const fuzzedAnswers = ask(fuzzed.map((t) => ({ op: 'parse', textB64: Buffer.from(t).toString('base64') })));

const goSecretIsRepresentable = (a: GoAnswer) =>
  [a.groupB64, a.groupVersionB64, a.keyB64, a.envVarB64].every((b) => isUtf8(fromB64(b))) &&
  [0, 1, 2].includes(a.mountRequirement);
// Keep a balanced, deterministic sample: accepted, rejected, and accepted-by-Go-only.
const buckets = { accepted: [] as number[], rejected: [] as number[], goOnly: [] as number[] };
fuzzedAnswers.forEach((a, i) => {
  const bucket = a.ok ? (goSecretIsRepresentable(a) ? buckets.accepted : buckets.goOnly) : buckets.rejected;
  if (bucket.length < 150) bucket.push(i);
});

const parseEntry = (name: string | undefined, bytes: Uint8Array, a: GoAnswer) => ({
  ...(name ? { name } : {}),
  ...(isUtf8(bytes) ? { text: fatalUtf8.decode(bytes) } : { textBase64: Buffer.from(bytes).toString('base64') }),
  go: a.panic
    ? { ok: false, panic: a.panic }
    : a.ok
      ? {
          ok: true,
          group: jsonBytes(fromB64(a.groupB64)),
          groupVersion: jsonBytes(fromB64(a.groupVersionB64)),
          key: jsonBytes(fromB64(a.keyB64)),
          envVar: jsonBytes(fromB64(a.envVarB64)),
          mountRequirement: a.mountRequirement,
        }
      : { ok: false, error: a.error },
});

// ---- base32 ----
const ALPHABET = 'abcdefghijklmnopqrstuvwxyz123456';
const base32Documented = [
  '',
  'ab',
  'aa',
  'nnsxsoraejwxsx2lmv3secq',
  'nnsxsoraej\nwxsx2lmv3s\r\necq',
  'NNSXSORAEJWXSX2LMV3SECQ',
  'nnsxsoraejwxsx2lmv3secq=',
  'nnsxsoraejwxsx2lmv3secq===',
  'nnsxsoraejwxsx2lmv3se0q',
  'nnsxsoraejwxsx2lmv3se7q',
  'nnsxsor ejwxsx2lmv3secq',
  'nnsxsoraéjwxsx2lmv3secq',
  'a',
  'abc',
  'abcdef',
  'abcdefgha',
  'abcdefghabc',
  'abcdefghabcdef',
  'ab',
  'abcd',
  'abcde',
  'abcdefg',
  'abcdefgh',
  '\n',
  'a\nb',
];
const base32Random = Array.from({ length: 200 }, () => {
  const noise = ['A', 'Z', '=', '\n', '\r', '0', '7', '8', '9', ' ', 'é', '\t'];
  return Array.from({ length: Math.floor(random() * 30) }, () =>
    random() < 0.97 ? pick([...ALPHABET]) : pick(noise),
  ).join('');
});
const base32Inputs = [...base32Documented, ...base32Random];
const base32Answers = ask(base32Inputs.map((annotation) => ({ op: 'base32', annotation })));

// ---- print ----
const STRINGS = [
  '',
  '',
  'a',
  'my-secrets',
  'é',
  '😀',
  '\u0000',
  '\n\r\t"\\\'',
  '\x7f\x1f ~',
  '\ufeff',
  'Ω≈ç√',
  '#;:,{}[]<>',
  '\x07\b\f\v',
];
const MOUNTS = ['ANY', 'ENV_VAR', 'FILE'] as const;
const printSecrets = [
  { group: ";':/\\", groupVersion: '', key: '', mountRequirement: 'ANY' as const, envVar: '' }, // flytepropeller marshaler_test.go
  { group: '', groupVersion: '', key: '', mountRequirement: 'ANY' as const, envVar: '' },
  ...Array.from({ length: 150 }, () => ({
    group: `${pick(STRINGS)}${pick(STRINGS)}${pick(STRINGS)}`,
    groupVersion: pick(STRINGS),
    key: `${pick(STRINGS)}${pick(STRINGS)}`,
    mountRequirement: pick(MOUNTS),
    envVar: pick(STRINGS),
  })),
];
const printAnswers = ask(
  printSecrets.map((s) => ({
    op: 'print',
    secret: {
      Group: s.group,
      GroupVersion: s.groupVersion,
      Key: s.key,
      EnvVar: s.envVar,
      MountRequirement: MOUNTS.indexOf(s.mountRequirement),
    },
  })),
);

const fixture = {
  about:
    "Answers of Flyte's own Go code paths for secret annotations (see test/unit/flyte/go-oracle). Regenerate with: node --import tsx test/unit/flyte/go-oracle/generate.ts",
  go: `${goVersion}; github.com/golang/protobuf v1.5.4; google.golang.org/protobuf v1.36.5`,
  parse: [
    ...documented.map((c, i) => parseEntry(c.name, c.bytes, documentedAnswers[i]!)),
    ...[...buckets.accepted, ...buckets.rejected, ...buckets.goOnly]
      .sort((a, b) => a - b)
      .map((i) => parseEntry(undefined, fuzzed[i]!, fuzzedAnswers[i]!)),
  ],
  base32: base32Inputs.map((annotation, i) => {
    const a = base32Answers[i]!;
    return { annotation, go: a.ok ? { ok: true, bytesBase64: a.bytesB64 ?? '' } : { ok: false, error: a.error } };
  }),
  print: printSecrets.map((secret, i) => ({
    secret,
    go: {
      text: Buffer.from(printAnswers[i]!.textB64 ?? '', 'base64').toString('latin1'),
      annotation: printAnswers[i]!.annotation ?? '',
    },
  })),
};
writeFileSync(fixturePath, `${JSON.stringify(fixture, null, 1)}\n`);
console.log(
  `wrote ${fixturePath}: ${fixture.parse.length} parse (${buckets.accepted.length} accepted, ${buckets.rejected.length} rejected, ${buckets.goOnly.length} Go-only), ${fixture.base32.length} base32, ${fixture.print.length} print`,
);
