/**
 * Every documented piece of text-format syntax and every parser error, with the exact result.
 * prototext.test.ts checks our parser against these; go-oracle/generate.ts runs the same texts
 * through golang/protobuf v1.5.4 `proto.UnmarshalText` and go-oracle.test.ts checks that Go
 * accepts and rejects exactly the same texts (apart from the two documented deviations).
 */
import type { FlyteSecret } from '../../../webhook/flyte/prototext.js';

export interface TextFormatCase {
  name: string;
  /** The decoded annotation text; bytes when it is not valid UTF-8. */
  text: string | readonly number[];
  /** Expected secret (unset fields are the defaults), or the exact TextFormatError message. */
  secret?: Partial<FlyteSecret>;
  error?: string;
  /** Go accepts this text; we reject it on purpose (see prototext.ts). */
  stricterThanGo?: 'utf8' | 'enum';
}

const FIELDS_HINT = 'a Secret has the fields group, group_version, key, mount_requirement and env_var';
const ENUM_HINT = 'use ANY, ENV_VAR or FILE (or 0, 1, 2)';
const UTF8_HINT = 'octal and \\x escapes must spell whole UTF-8 characters';
const bytes = (...parts: (string | number)[]) =>
  parts.flatMap((p) => (typeof p === 'number' ? [p] : [...new TextEncoder().encode(p)]));

export const ACCEPTED: TextFormatCase[] = [
  {
    name: 'what MarshalTextString writes',
    text: 'group: "g"\ngroup_version: "v"\nkey: "k"\nmount_requirement: ENV_VAR\nenv_var: "E"\n',
    secret: { group: 'g', groupVersion: 'v', key: 'k', mountRequirement: 'ENV_VAR', envVar: 'E' },
  },
  { name: 'empty text is the default Secret', text: '', secret: {} },
  { name: 'only whitespace and comments', text: ' \t\r\n# nothing here\n  #\n', secret: {} },
  {
    name: 'fields in any order',
    text: 'env_var: "E"\nkey: "k"\ngroup: "g"\n',
    secret: { group: 'g', key: 'k', envVar: 'E' },
  },
  { name: 'explicit defaults', text: 'key: ""\nmount_requirement: ANY\n', secret: {} },
  { name: 'single quotes', text: "key: 'k'", secret: { key: 'k' } },
  { name: 'a double quote inside single quotes', text: `key: 'a"b'`, secret: { key: 'a"b' } },
  { name: 'a single quote inside double quotes', text: `key: "a'b"`, secret: { key: "a'b" } },
  { name: 'adjacent strings are concatenated', text: `key: "a" 'b'   "c"`, secret: { key: 'abc' } },
  { name: 'adjacent strings with no space between', text: 'key: "a""b"', secret: { key: 'ab' } },
  { name: 'adjacent strings across lines and comments', text: 'key: "a"\n# more\n  "b"\n', secret: { key: 'ab' } },
  {
    name: '; and , after a field',
    text: 'group: "g"; key: "k", mount_requirement: FILE;',
    secret: { group: 'g', key: 'k', mountRequirement: 'FILE' },
  },
  {
    name: 'no whitespace at all',
    text: 'group:"g"key:"k"mount_requirement:FILE',
    secret: { group: 'g', key: 'k', mountRequirement: 'FILE' },
  },
  { name: 'whitespace around the colon', text: 'key\t:\n"k"', secret: { key: 'k' } },
  { name: 'comment after a value', text: 'key: "k" # the key\n', secret: { key: 'k' } },
  { name: 'comment at the end without a newline', text: 'key: "k" #', secret: { key: 'k' } },
  { name: 'CRLF line ends', text: 'group: "g"\r\nkey: "k"\r\n', secret: { group: 'g', key: 'k' } },
  { name: 'enum by name ANY', text: 'mount_requirement: ANY', secret: { mountRequirement: 'ANY' } },
  { name: 'enum by name ENV_VAR', text: 'mount_requirement: ENV_VAR', secret: { mountRequirement: 'ENV_VAR' } },
  { name: 'enum by name FILE', text: 'mount_requirement: FILE', secret: { mountRequirement: 'FILE' } },
  { name: 'enum number 0', text: 'mount_requirement: 0', secret: { mountRequirement: 'ANY' } },
  { name: 'enum number 1', text: 'mount_requirement: 1', secret: { mountRequirement: 'ENV_VAR' } },
  { name: 'enum number 2', text: 'mount_requirement: 2', secret: { mountRequirement: 'FILE' } },
  { name: 'enum number with +', text: 'mount_requirement: +1', secret: { mountRequirement: 'ENV_VAR' } },
  { name: 'enum number -0', text: 'mount_requirement: -0', secret: { mountRequirement: 'ANY' } },
  { name: 'enum number in hex', text: 'mount_requirement: 0x2', secret: { mountRequirement: 'FILE' } },
  { name: 'enum number in HEX', text: 'mount_requirement: 0X0002', secret: { mountRequirement: 'FILE' } },
  { name: 'enum number 0o', text: 'mount_requirement: 0o2', secret: { mountRequirement: 'FILE' } },
  { name: 'enum number, leading 0 is octal', text: 'mount_requirement: 02', secret: { mountRequirement: 'FILE' } },
  { name: 'enum number 00', text: 'mount_requirement: 00', secret: { mountRequirement: 'ANY' } },
  { name: 'enum number in binary', text: 'mount_requirement: 0b10', secret: { mountRequirement: 'FILE' } },
  { name: 'enum number with _ between digits', text: 'mount_requirement: 0_2', secret: { mountRequirement: 'FILE' } },
  {
    name: 'enum number with _ after a prefix',
    text: 'mount_requirement: 0x_1',
    secret: { mountRequirement: 'ENV_VAR' },
  },
  { name: 'escapes \\n \\r \\t', text: 'key: "a\\nb\\rc\\td"', secret: { key: 'a\nb\rc\td' } },
  { name: 'escapes \\" \\\' \\\\', text: `key: "\\"\\'\\\\"`, secret: { key: `"'\\` } },
  { name: 'escapes \\a \\b \\f \\v \\?', text: 'key: "\\a\\b\\f\\v\\?"', secret: { key: '\x07\b\f\v?' } },
  { name: 'octal escape', text: 'key: "\\101\\060"', secret: { key: 'A0' } },
  { name: 'octal \\000 is NUL', text: 'key: "a\\000b"', secret: { key: 'a\0b' } },
  { name: 'octal escapes are UTF-8 bytes', text: 'key: "caf\\303\\251"', secret: { key: 'café' } },
  { name: 'octal escapes for an emoji', text: 'key: "\\360\\237\\230\\200"', secret: { key: '😀' } },
  { name: 'UTF-8 bytes split across adjacent strings', text: 'key: "\\303" "\\251"', secret: { key: 'é' } },
  { name: 'hex escapes \\x and \\X', text: 'key: "\\x41\\X42\\xc3\\xA9"', secret: { key: 'ABé' } },
  { name: 'unicode escape \\u', text: 'key: "\\u00e9\\u00E9"', secret: { key: 'éé' } },
  { name: 'unicode escape \\U', text: 'key: "\\U0001F600\\U0010FFFF"', secret: { key: '😀\u{10ffff}' } },
  { name: 'a surrogate code point becomes U+FFFD, as in Go', text: 'key: "\\ud800"', secret: { key: '\ufffd' } },
  { name: 'raw UTF-8 inside a string', text: 'key: "é😀"', secret: { key: 'é😀' } },
  { name: 'a leading U+FEFF is kept', text: 'key: "\ufeffk"', secret: { key: '\ufeffk' } },
  { name: 'raw tab and NUL inside a string', text: 'key: "a\tb\0c"', secret: { key: 'a\tb\0c' } },
  { name: '# inside a string is not a comment', text: 'key: "a#b"', secret: { key: 'a#b' } },
];

export const REJECTED: TextFormatCase[] = [
  {
    name: 'unknown field',
    text: 'grp: "x"',
    error: `unknown field "grp" at line 1, column 1; ${FIELDS_HINT}`,
  },
  {
    name: 'JSON-style field name',
    text: 'key: "k"\ngroupVersion: "x"',
    error: 'unknown field "groupVersion" at line 2, column 1; did you mean group_version?',
  },
  {
    name: 'field names are case-sensitive',
    text: 'Key: "x"',
    error: 'unknown field "Key" at line 1, column 1; did you mean key?',
  },
  {
    name: 'a long unknown name is shortened',
    text: `${'x'.repeat(60)}: "x"`,
    error: `unknown field "${'x'.repeat(40)}..." at line 1, column 1; ${FIELDS_HINT}`,
  },
  {
    name: 'quoted field name',
    text: '"key": "x"',
    error: `expected a field name, found a quoted string at line 1, column 1; ${FIELDS_HINT}`,
  },
  {
    name: 'extension syntax',
    text: '[flyteidl.ext]: "x"',
    error: `expected a field name, found '[' at line 1, column 1; ${FIELDS_HINT}`,
  },
  {
    name: 'stray closing brace',
    text: 'key: "a"\n}',
    error: `expected a field name, found '}' at line 2, column 1; ${FIELDS_HINT}`,
  },
  {
    name: 'separator before any field',
    text: '; key: "k"',
    error: `expected a field name, found ';' at line 1, column 1; ${FIELDS_HINT}`,
  },
  {
    name: 'two separators',
    text: 'key: "k";;',
    error: `expected a field name, found ';' at line 1, column 10; ${FIELDS_HINT}`,
  },
  {
    name: 'field given twice',
    text: 'key: "a"\nkey: "b"',
    error: 'key is set a second time at line 2, column 1; each field may appear only once',
  },
  {
    name: 'field given twice, first time empty',
    text: 'mount_requirement: ANY mount_requirement: FILE',
    error: 'mount_requirement is set a second time at line 1, column 24; each field may appear only once',
  },
  {
    name: 'missing colon before a string',
    text: 'key "k"',
    error: "expected ':' after key, found a quoted string at line 1, column 5",
  },
  {
    name: 'missing colon before an enum',
    text: 'mount_requirement FILE',
    error: `expected ':' after mount_requirement, found "FILE" at line 1, column 19`,
  },
  {
    name: 'name at the end',
    text: 'key: "k"\nenv_var',
    error: "expected ':' after env_var, found the end of the text at line 2, column 8",
  },
  { name: '= instead of :', text: 'key = "k"', error: "unexpected character '=' at line 1, column 5" },
  {
    name: 'value missing at the end',
    text: 'key:',
    error: "key has no value: the text ends after ':' at line 1, column 5",
  },
  { name: 'unquoted string', text: 'key: k', error: 'key must be a quoted string, found "k" at line 1, column 6' },
  {
    name: 'number for a string',
    text: 'group: 1',
    error: 'group must be a quoted string, found "1" at line 1, column 8',
  },
  { name: 'symbol for a string', text: 'key: ;', error: "key must be a quoted string, found ';' at line 1, column 6" },
  {
    name: 'enum names are case-sensitive',
    text: 'mount_requirement: file',
    error: `mount_requirement must be ANY, ENV_VAR or FILE, found "file" at line 1, column 20; ${ENUM_HINT}`,
  },
  {
    name: 'quoted enum',
    text: 'mount_requirement: "FILE"',
    error: `mount_requirement must be ANY, ENV_VAR or FILE, found a quoted string at line 1, column 20; ${ENUM_HINT}`,
  },
  {
    name: 'unknown enum number',
    text: 'mount_requirement: 3',
    error: `mount_requirement 3 is not a known mount type at line 1, column 20; ${ENUM_HINT}`,
    stricterThanGo: 'enum',
  },
  {
    name: 'negative enum number',
    text: 'mount_requirement: -1',
    error: `mount_requirement -1 is not a known mount type at line 1, column 20; ${ENUM_HINT}`,
    stricterThanGo: 'enum',
  },
  {
    name: 'unknown enum number in hex',
    text: 'mount_requirement: 0x10',
    error: `mount_requirement 16 is not a known mount type at line 1, column 20; ${ENUM_HINT}`,
    stricterThanGo: 'enum',
  },
  {
    name: 'enum number beyond int32',
    text: 'mount_requirement: 2147483648',
    error: `mount_requirement must be ANY, ENV_VAR or FILE, found "2147483648" at line 1, column 20; ${ENUM_HINT}`,
  },
  {
    name: 'trailing _ in an enum number',
    text: 'mount_requirement: 1_',
    error: `mount_requirement must be ANY, ENV_VAR or FILE, found "1_" at line 1, column 20; ${ENUM_HINT}`,
  },
  {
    name: '8 in an octal enum number',
    text: 'mount_requirement: 08',
    error: `mount_requirement must be ANY, ENV_VAR or FILE, found "08" at line 1, column 20; ${ENUM_HINT}`,
  },
  {
    name: 'decimal point in an enum number',
    text: 'mount_requirement: 1.0',
    error: `mount_requirement must be ANY, ENV_VAR or FILE, found "1.0" at line 1, column 20; ${ENUM_HINT}`,
  },
  {
    name: 'unclosed string',
    text: 'key: "abc',
    error: 'quoted string is not closed at line 1, column 6; add the closing " before the end of the line',
  },
  {
    name: 'string closed by the other quote',
    text: `key: 'abc"`,
    error: "quoted string is not closed at line 1, column 6; add the closing ' before the end of the line",
  },
  {
    name: 'string across a line end',
    text: 'key: "ab\ncd"',
    error: 'quoted string is not closed at line 1, column 6; add the closing " before the end of the line',
  },
  {
    name: 'escaped closing quote',
    text: 'key: "ab\\"',
    error: 'quoted string is not closed at line 1, column 6; add the closing " before the end of the line',
  },
  {
    name: 'unclosed adjacent string',
    text: 'key: "k" "more',
    error: 'quoted string is not closed at line 1, column 10; add the closing " before the end of the line',
  },
  {
    name: 'unknown escape',
    text: 'key: "a\\qb"',
    error: "unknown escape: \\ followed by character 'q' at line 1, column 8",
  },
  {
    name: '\\8 is not an escape',
    text: 'key: "\\8"',
    error: "unknown escape: \\ followed by character '8' at line 1, column 7",
  },
  {
    name: 'escaped line end',
    text: 'key: "a\\\nb"',
    error: 'unknown escape: \\ followed by character U+000A at line 1, column 8',
  },
  {
    name: 'octal escape with one digit',
    text: 'key: "\\0"',
    error: 'octal escape \\0 needs three digits at line 1, column 7',
  },
  {
    name: 'octal escape with two digits',
    text: 'key: "\\01"',
    error: 'octal escape \\01 needs three digits at line 1, column 7',
  },
  {
    name: 'non-octal digit',
    text: 'key: "\\018"',
    error: 'octal escape \\018 has a non-octal digit at line 1, column 7',
  },
  {
    name: 'octal escape above one byte',
    text: 'key: "\\400"',
    error: 'octal escape \\400 is above \\377 at line 1, column 7',
  },
  { name: '\\x with one digit', text: 'key: "\\x4"', error: 'escape \\x needs 2 hex digits at line 1, column 7' },
  {
    name: '\\x with a non-hex digit',
    text: 'key: "\\xg1"',
    error: 'escape \\xg1 has a non-hex digit at line 1, column 7',
  },
  { name: '\\u with two digits', text: 'key: "\\u12"', error: 'escape \\u needs 4 hex digits at line 1, column 7' },
  {
    name: '\\U with a non-hex digit',
    text: 'key: "\\U0000004g"',
    error: 'escape \\U0000004g has a non-hex digit at line 1, column 7',
  },
  {
    name: '\\U above U+10FFFF',
    text: 'key: "\\U00110000"',
    error: 'escape \\U00110000 is not a Unicode code point at line 1, column 7',
  },
  {
    name: 'octal escape that is not UTF-8',
    text: 'key: "\\377"',
    error: `key is not valid UTF-8 (byte 0xff) at line 1, column 7; ${UTF8_HINT}`,
    stricterThanGo: 'utf8',
  },
  {
    name: 'hex escape that is not UTF-8',
    text: 'env_var: "ok\\xc3"',
    error: `env_var is not valid UTF-8 (byte 0xc3) at line 1, column 13; ${UTF8_HINT}`,
    stricterThanGo: 'utf8',
  },
  {
    name: 'UTF-8 cut across adjacent strings is found in the second',
    text: 'group: "ok" "\\303"',
    error: `group is not valid UTF-8 (byte 0xc3) at line 1, column 14; ${UTF8_HINT}`,
    stricterThanGo: 'utf8',
  },
  {
    name: 'raw byte that is not UTF-8 inside a string',
    text: bytes('key: "a', 0xff, 'b"'),
    error: `key is not valid UTF-8 (byte 0xff) at line 1, column 8; ${UTF8_HINT}`,
    stricterThanGo: 'utf8',
  },
  {
    name: 'raw byte that is not UTF-8 inside a string with escapes',
    text: bytes('key: "\\n', 0xc0, 0x80, '"'),
    error: `key is not valid UTF-8 (byte 0xc0) at line 1, column 9; ${UTF8_HINT}`,
  },
  {
    name: 'raw byte outside a string',
    text: bytes('key: "k" ', 0xff),
    error: 'unexpected byte 0xff at line 1, column 10',
  },
  {
    name: 'vertical tab is not whitespace',
    text: 'key: "k"\v',
    error: 'unexpected character U+000B at line 1, column 9',
  },
  { name: 'non-ASCII field name', text: 'é: "x"', error: "unexpected character 'é', U+00E9 at line 1, column 1" },
  {
    name: 'position on a later line',
    text: 'group: "g"\nkey: "k"\n  mount_requirement: NOPE',
    error: `mount_requirement must be ANY, ENV_VAR or FILE, found "NOPE" at line 3, column 22; ${ENUM_HINT}`,
  },
  {
    name: 'columns count characters, not bytes',
    text: 'key: "é😀" x',
    error: `unknown field "x" at line 1, column 11; ${FIELDS_HINT}`,
  },
  {
    name: 'a comment hides the line end',
    text: 'key: # "k"\n',
    error: "key has no value: the text ends after ':' at line 2, column 1",
  },
];
