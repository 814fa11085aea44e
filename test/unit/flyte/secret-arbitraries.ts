/** fast-check generators for secrets, and a random (but valid) respelling of a secret as text format. */
import fc from 'fast-check';
import type { FlyteSecret, MountRequirement } from '../../../webhook/flyte/prototext.js';

/** Characters that stress the escaping: quotes, backslash, line ends, NUL, DEL, BOM, non-ASCII, emoji. */
const TRICKY = [
  '"',
  "'",
  '\\',
  '\n',
  '\r',
  '\t',
  '\0',
  '\x7f',
  '\ufeff',
  '#',
  ':',
  ';',
  ' ',
  'é',
  'Ω',
  '😀',
  '\u{10ffff}',
  '\\n',
  '\\377',
];

/** Any well-formed string (full Unicode), biased towards the tricky characters. */
const arbitrarySecretString = (): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 1, arbitrary: fc.constant('') },
    {
      weight: 3,
      arbitrary: fc.string({
        unit: fc.oneof(fc.constantFrom(...TRICKY), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })),
        maxLength: 12,
      }),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
    { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.-]{1,20}$/) },
  );

export const arbitrarySecret = (): fc.Arbitrary<FlyteSecret> =>
  fc
    .record({
      group: arbitrarySecretString(),
      groupVersion: arbitrarySecretString(),
      key: arbitrarySecretString(),
      mountRequirement: fc.constantFrom<MountRequirement>('ANY', 'ENV_VAR', 'FILE'),
      envVar: arbitrarySecretString(),
    })
    .map((secret) => ({ ...secret })); // fc.record builds null-prototype objects

const FIELDS = [
  ['group', 'group'],
  ['group_version', 'groupVersion'],
  ['key', 'key'],
  ['mount_requirement', 'mountRequirement'],
  ['env_var', 'envVar'],
] as const;

const NUMBER_SPELLINGS: Record<MountRequirement, string[]> = {
  ANY: ['ANY', '0', '-0', '+0', '00', '0x0', '0o0', '0b0', '0_0'],
  ENV_VAR: ['ENV_VAR', '1', '+1', '01', '0x1', '0X01', '0o1', '0b1', '0B0_1'],
  FILE: ['FILE', '2', '+2', '02', '0x2', '0x_2', '0O2', '0b10', '0_2'],
};
const NAMED_ESCAPES: Record<string, string[]> = {
  '\n': ['\\n'],
  '\r': ['\\r'],
  '\t': ['\\t'],
  '\x07': ['\\a'],
  '\b': ['\\b'],
  '\f': ['\\f'],
  '\v': ['\\v'],
  '?': ['\\?'],
  "'": ["\\'"],
  '"': ['\\"'],
  '\\': ['\\\\'],
};
const GAPS = [' ', '\n', '\t', '\r\n', '  # a comment\n'];

/**
 * A text that golang/protobuf's parser reads as `secret`, with syntax choices taken from `tape`:
 * field order, explicit defaults, quotes, string split into adjacent literals, each character raw
 * or escaped (named, octal, \x, \u, \U), enum by name or number, separators and comments.
 */
export function respell(secret: FlyteSecret, tape: readonly number[]): string {
  let position = 0;
  const choose = <T>(options: readonly T[]): T => options[tape[position++ % tape.length]! % options.length]!;

  const order = [...FIELDS];
  for (let i = order.length - 1; i > 0; i--) {
    const j = choose([...Array(i + 1).keys()]);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }

  let text = choose(['', '# leading comment\n', ' ']);
  for (const [name, prop] of order) {
    const value = secret[prop];
    const isDefault = value === '' || value === 'ANY';
    if (isDefault && choose([true, false])) continue;
    const spelled =
      prop === 'mountRequirement' ? choose(NUMBER_SPELLINGS[value as MountRequirement]) : spellString(value, choose);
    text += `${name}${choose(['', ' ', '\t'])}:${choose(['', ' ', '\n'])}${spelled}${choose(['', ';', ','])}${choose(GAPS)}`;
  }
  return text;
}

function spellString(value: string, choose: <T>(options: readonly T[]) => T): string {
  const quote = choose(['"', "'"]);
  let out = quote;
  for (const char of value) {
    if (choose([false, false, false, true])) out += `${quote}${choose(['', ' ', '\n', ' # c\n'])}${quote}`; // split here
    const code = char.codePointAt(0)!;
    const utf8 = [...new TextEncoder().encode(char)];
    const spellings = [
      utf8.map((b) => `\\${b.toString(8).padStart(3, '0')}`).join(''),
      utf8.map((b) => `\\${choose(['x', 'X'])}${b.toString(16).padStart(2, '0')}`).join(''),
      `\\U${code.toString(16).padStart(8, '0')}`,
      ...(code <= 0xffff ? [`\\u${code.toString(16).padStart(4, '0')}`] : []),
      ...(NAMED_ESCAPES[char] ?? []),
      // Raw, where Go's scanner allows it: not the quote, a backslash or a line end.
      ...(char !== quote && char !== '\\' && char !== '\n' ? [char] : []),
    ];
    out += choose(spellings);
  }
  return out + quote;
}
