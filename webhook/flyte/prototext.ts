/**
 * The protobuf text format of `flyteidl.core.Secret`, as Flyte writes and reads it.
 *
 * Writing matches golang/protobuf v1 `proto.MarshalTextString` byte for byte. Reading accepts what
 * golang/protobuf v1.5 `proto.UnmarshalText` (its own v1 parser, `proto/text_decode.go`) accepts
 * for this message, except where noted:
 * - whitespace is space, tab, CR, LF; `#` starts a comment up to the end of the line;
 * - `name: value`, the colon is required (Go only lets it be omitted before a message value, and
 *   Secret has none); each field may be followed by one `;` or `,`;
 * - strings in `"` or `'`, adjacent quoted strings concatenated, escapes
 *   `\a \b \f \n \r \t \v \? \' \" \\`, exactly three octal digits `\ooo` (at most `\377`),
 *   `\xHH`/`\XHH` (bytes), `\uHHHH`, `\UHHHHHHHH` (code points; a surrogate becomes U+FFFD as in Go);
 * - mount_requirement as a name (`ENV_VAR`) or a number in Go's `strconv.ParseInt(s, 0, 32)`
 *   syntax (`1`, `+1`, `0x1`, `0o1`, `01`, `0b1`, `0_1`);
 * - unknown fields, a field given twice, `[extension]` syntax: errors (as in Go).
 * Why this is not `@bufbuild/protobuf/txtpb`: it parses differently from this Go parser (README.md).
 * Deviations, both stricter than Go and both values Flyte itself never writes:
 * - strings must be valid UTF-8 after unescaping (Go's v1 parser does not check; proto3 requires
 *   it, and Go's binary marshalling of the message would fail later);
 * - mount_requirement numbers other than 0, 1, 2 are rejected (Go keeps them, as proto3 enums are
 *   open; Flyte's own injector then fails the pod with "unrecognized mount requirement").
 */
import { describeChar } from './base32.js';

export type MountRequirement = 'ANY' | 'ENV_VAR' | 'FILE';

export interface FlyteSecret {
  group: string;
  groupVersion: string;
  key: string;
  mountRequirement: MountRequirement;
  envVar: string;
}

/** `flyteidl.core.Secret.MountType` numbers. */
const MOUNT_REQUIREMENT_NUMBERS: Readonly<Record<MountRequirement, number>> = { ANY: 0, ENV_VAR: 1, FILE: 2 };
const MOUNT_REQUIREMENT_BY_NUMBER: readonly MountRequirement[] = ['ANY', 'ENV_VAR', 'FILE'];

type StringProp = 'group' | 'groupVersion' | 'key' | 'envVar';
type Field =
  | { name: string; kind: 'string'; prop: StringProp }
  | { name: 'mount_requirement'; kind: 'enum'; prop: 'mountRequirement' };

/** In field-number order (1..5), which is the order MarshalTextString writes them. */
const FIELDS: readonly Field[] = [
  { name: 'group', kind: 'string', prop: 'group' },
  { name: 'group_version', kind: 'string', prop: 'groupVersion' },
  { name: 'key', kind: 'string', prop: 'key' },
  { name: 'mount_requirement', kind: 'enum', prop: 'mountRequirement' },
  { name: 'env_var', kind: 'string', prop: 'envVar' },
];
const FIELD_BY_NAME = new Map(FIELDS.map((f) => [f.name, f]));
const FIELD_LIST_HINT = 'a Secret has the fields group, group_version, key, mount_requirement and env_var';
const MOUNT_REQUIREMENT_HINT = 'use ANY, ENV_VAR or FILE (or 0, 1, 2)';

export function emptySecret(): FlyteSecret {
  return { group: '', groupVersion: '', key: '', mountRequirement: 'ANY', envVar: '' };
}

export class TextFormatError extends Error {
  override name = 'TextFormatError';
  constructor(
    /** What is wrong, e.g. `unknown field "grp"`. */
    readonly problem: string,
    /** 1-based line and column (in characters) of the offending part of the text. */
    readonly line: number,
    readonly column: number,
    /** What to do about it, when there is something better to say than the problem itself. */
    readonly hint?: string,
  ) {
    super(`${problem} at line ${line}, column ${column}${hint ? `; ${hint}` : ''}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Printing

/** `proto.MarshalTextString(secret)`: one `name: value` line per non-default field. */
export function formatSecretText(secret: FlyteSecret): string {
  let out = '';
  for (const field of FIELDS) {
    if (field.kind === 'enum') {
      const value = secret.mountRequirement;
      if (!Object.hasOwn(MOUNT_REQUIREMENT_NUMBERS, value)) {
        throw new RangeError(`mountRequirement must be ANY, ENV_VAR or FILE, got ${JSON.stringify(value)}`);
      }
      if (value !== 'ANY') out += `${field.name}: ${value}\n`;
    } else {
      const value = secret[field.prop];
      if (value !== '') out += `${field.name}: ${quoteLikeGo(value, field.prop)}\n`;
    }
  }
  return out;
}

/** golang/protobuf `writeQuotedString`: escapes a few bytes by name, every other non-printable byte in octal. */
function quoteLikeGo(value: string, prop: string): string {
  // A lone surrogate has no UTF-8 form; TextEncoder would silently turn it into U+FFFD.
  if (/\p{Cs}/u.test(value)) throw new RangeError(`${prop} contains a lone UTF-16 surrogate and cannot be encoded`);
  let out = '"';
  for (const byte of new TextEncoder().encode(value)) {
    switch (byte) {
      case 0x0a:
        out += '\\n';
        break;
      case 0x0d:
        out += '\\r';
        break;
      case 0x09:
        out += '\\t';
        break;
      case 0x22:
        out += '\\"';
        break;
      case 0x5c:
        out += '\\\\';
        break;
      default:
        out += byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\${byte.toString(8).padStart(3, '0')}`;
    }
  }
  return `${out}"`;
}

// ---------------------------------------------------------------------------------------------
// Parsing

type Token =
  | { kind: 'end'; offset: number }
  | { kind: 'symbol'; offset: number; text: string }
  | { kind: 'word'; offset: number; text: string }
  /** One or more adjacent quoted strings; `origins[i]` is the text offset that produced `bytes[i]`. */
  | { kind: 'string'; offset: number; bytes: number[]; origins: number[] };

/** Parses the text format (UTF-8 bytes, as base32-decoded from the annotation) into a Secret. */
export function parseSecretText(text: Uint8Array): FlyteSecret {
  const lexer = new Lexer(text);
  const secret = emptySecret();
  const seen = new Set<string>();
  for (;;) {
    const nameToken = lexer.next();
    if (nameToken.kind === 'end') return secret;
    const field = nameToken.kind === 'word' ? FIELD_BY_NAME.get(nameToken.text) : undefined;
    if (field === undefined) {
      if (nameToken.kind === 'word') {
        throw lexer.error(
          nameToken.offset,
          `unknown field "${shorten(nameToken.text)}"`,
          fieldNameHint(nameToken.text),
        );
      }
      throw lexer.error(nameToken.offset, `expected a field name, found ${describeToken(nameToken)}`, FIELD_LIST_HINT);
    }
    if (seen.has(field.name)) {
      throw lexer.error(nameToken.offset, `${field.name} is set a second time`, 'each field may appear only once');
    }
    seen.add(field.name);

    const colon = lexer.next();
    if (colon.kind !== 'symbol' || colon.text !== ':') {
      throw lexer.error(colon.offset, `expected ':' after ${field.name}, found ${describeToken(colon)}`);
    }

    const value = lexer.next();
    if (value.kind === 'end') throw lexer.error(value.offset, `${field.name} has no value: the text ends after ':'`);
    if (field.kind === 'enum') {
      secret.mountRequirement = readMountRequirement(lexer, value);
    } else {
      if (value.kind !== 'string') {
        throw lexer.error(value.offset, `${field.name} must be a quoted string, found ${describeToken(value)}`);
      }
      secret[field.prop] = lexer.utf8(value, field.name);
    }

    const separator = lexer.next();
    if (separator.kind !== 'symbol' || (separator.text !== ';' && separator.text !== ',')) lexer.pushBack(separator);
  }
}

function readMountRequirement(lexer: Lexer, token: Token): MountRequirement {
  if (token.kind === 'word') {
    const number = parseGoInt32(token.text);
    if (number !== undefined) {
      const name = MOUNT_REQUIREMENT_BY_NUMBER[number];
      if (name === undefined) {
        throw lexer.error(
          token.offset,
          `mount_requirement ${number} is not a known mount type`,
          MOUNT_REQUIREMENT_HINT,
        );
      }
      return name;
    }
    if (Object.hasOwn(MOUNT_REQUIREMENT_NUMBERS, token.text)) return token.text as MountRequirement;
  }
  throw lexer.error(
    token.offset,
    `mount_requirement must be ANY, ENV_VAR or FILE, found ${describeToken(token)}`,
    MOUNT_REQUIREMENT_HINT,
  );
}

function fieldNameHint(name: string): string {
  const squash = (s: string) => s.replaceAll('_', '').toLowerCase();
  const near = FIELDS.find((f) => squash(f.name) === squash(name));
  return near ? `did you mean ${near.name}?` : FIELD_LIST_HINT;
}

function describeToken(token: Token): string {
  switch (token.kind) {
    case 'end':
      return 'the end of the text';
    case 'symbol':
      return `'${token.text}'`;
    case 'word':
      return `"${shorten(token.text)}"`;
    case 'string':
      return 'a quoted string';
  }
}

function shorten(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

/** Keeps a leading U+FEFF (the default decoder would drop it; Go keeps it). Only used on validated bytes. */
const UTF8 = new TextDecoder('utf-8', { ignoreBOM: true });
const QUOTE = new Set([0x22, 0x27]);
const SYMBOLS = new Set('<>{}:[];,/'.split('').map((c) => c.charCodeAt(0)));
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;

function isWordByte(b: number): boolean {
  return (
    (b >= 0x30 && b <= 0x39) ||
    (b >= 0x41 && b <= 0x5a) ||
    (b >= 0x61 && b <= 0x7a) ||
    b === 0x2b ||
    b === 0x2d ||
    b === 0x2e ||
    b === 0x5f
  );
}

/** The tokenizer of golang/protobuf `text_decode.go`, with positions kept for messages. */
class Lexer {
  private offset = 0;
  private pushedBack: Token | undefined;

  constructor(private readonly text: Uint8Array) {}

  next(): Token {
    if (this.pushedBack) {
      const token = this.pushedBack;
      this.pushedBack = undefined;
      return token;
    }
    this.skipWhitespace();
    const start = this.offset;
    const b = this.text[start];
    if (b === undefined) return { kind: 'end', offset: start };
    if (SYMBOLS.has(b)) {
      this.offset += 1;
      return { kind: 'symbol', offset: start, text: String.fromCharCode(b) };
    }
    if (QUOTE.has(b)) return this.readStrings();
    let end = start;
    while (end < this.text.length && isWordByte(this.text[end]!)) end += 1;
    if (end === start) throw this.error(start, `unexpected ${describeByteAt(this.text, start)}`);
    this.offset = end;
    return { kind: 'word', offset: start, text: String.fromCharCode(...this.text.subarray(start, end)) };
  }

  pushBack(token: Token): void {
    this.pushedBack = token;
  }

  error(offset: number, problem: string, hint?: string): TextFormatError {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < offset; i++) {
      if (this.text[i] === NEWLINE) {
        line += 1;
        lineStart = i + 1;
      }
    }
    // Columns count characters: every byte that does not continue a UTF-8 sequence.
    let column = 1;
    for (let i = lineStart; i < offset; i++) if ((this.text[i]! & 0xc0) !== 0x80) column += 1;
    return new TextFormatError(problem, line, column, hint);
  }

  /** The string's bytes as text; proto3 strings must be valid UTF-8. */
  utf8(token: Extract<Token, { kind: 'string' }>, fieldName: string): string {
    const bytes = Uint8Array.from(token.bytes);
    const bad = firstInvalidUtf8(bytes);
    if (bad >= 0) {
      throw this.error(
        token.origins[bad]!,
        `${fieldName} is not valid UTF-8 (byte 0x${bytes[bad]!.toString(16).padStart(2, '0')})`,
        'octal and \\x escapes must spell whole UTF-8 characters',
      );
    }
    return UTF8.decode(bytes);
  }

  private skipWhitespace(): void {
    const text = this.text;
    while (this.offset < text.length) {
      const b = text[this.offset]!;
      if (WHITESPACE.has(b)) {
        this.offset += 1;
      } else if (b === 0x23 /* # */) {
        while (this.offset < text.length && text[this.offset] !== NEWLINE) this.offset += 1;
      } else {
        return;
      }
    }
  }

  /** A quoted string and any quoted strings right after it (only whitespace/comments between): Go concatenates them. */
  private readStrings(): Token {
    const token: Extract<Token, { kind: 'string' }> = { kind: 'string', offset: this.offset, bytes: [], origins: [] };
    do {
      this.readOneString(token);
      this.skipWhitespace();
    } while (QUOTE.has(this.text[this.offset] ?? -1));
    return token;
  }

  private readOneString(into: { bytes: number[]; origins: number[] }): void {
    const text = this.text;
    const open = this.offset;
    const quote = text[open]!;
    // Find the closing quote the way Go does: a backslash skips the next byte; a newline ends the search.
    let close = open + 1;
    while (close < text.length && text[close] !== quote && text[close] !== NEWLINE) {
      if (text[close] === BACKSLASH && close + 1 < text.length) close += 1;
      close += 1;
    }
    if (close >= text.length || text[close] !== quote) {
      throw this.error(
        open,
        'quoted string is not closed',
        `add the closing ${String.fromCharCode(quote)} before the end of the line`,
      );
    }
    this.unescape(open + 1, close, into);
    this.offset = close + 1;
  }

  /** golang/protobuf `unquoteC`: escapes produce bytes (octal, \x) or UTF-8 code points (\u, \U). */
  private unescape(from: number, to: number, into: { bytes: number[]; origins: number[] }): void {
    const text = this.text;
    const push = (origin: number, ...bytes: number[]) => {
      for (const b of bytes) {
        into.bytes.push(b);
        into.origins.push(origin);
      }
    };
    let i = from;
    while (i < to) {
      const b = text[i]!;
      if (b !== BACKSLASH) {
        push(i, b);
        i += 1;
        continue;
      }
      const escapeAt = i;
      const c = text[i + 1];
      const rest = to - (i + 2); // bytes after the escape letter
      switch (c) {
        case 0x61:
          push(escapeAt, 0x07);
          i += 2;
          continue; // \a
        case 0x62:
          push(escapeAt, 0x08);
          i += 2;
          continue; // \b
        case 0x66:
          push(escapeAt, 0x0c);
          i += 2;
          continue; // \f
        case 0x6e:
          push(escapeAt, 0x0a);
          i += 2;
          continue; // \n
        case 0x72:
          push(escapeAt, 0x0d);
          i += 2;
          continue; // \r
        case 0x74:
          push(escapeAt, 0x09);
          i += 2;
          continue; // \t
        case 0x76:
          push(escapeAt, 0x0b);
          i += 2;
          continue; // \v
        case 0x3f:
        case 0x27:
        case 0x22:
        case 0x5c:
          push(escapeAt, c);
          i += 2;
          continue; // \? \' \" \\
      }
      if (c !== undefined && c >= 0x30 && c <= 0x37) {
        if (rest < 2)
          throw this.error(escapeAt, `octal escape \\${printable(text.subarray(i + 1, to))} needs three digits`);
        const digits = printable(text.subarray(i + 1, i + 4));
        if (!/^[0-7]{3}$/.test(digits)) throw this.error(escapeAt, `octal escape \\${digits} has a non-octal digit`);
        const value = Number.parseInt(digits, 8);
        if (value > 0o377) throw this.error(escapeAt, `octal escape \\${digits} is above \\377`);
        push(escapeAt, value);
        i += 4;
        continue;
      }
      const hexDigits = c === 0x78 || c === 0x58 ? 2 : c === 0x75 ? 4 : c === 0x55 ? 8 : 0; // \x \X \u \U
      if (hexDigits > 0) {
        const letter = String.fromCharCode(c!);
        if (rest < hexDigits) throw this.error(escapeAt, `escape \\${letter} needs ${hexDigits} hex digits`);
        const digits = printable(text.subarray(i + 2, i + 2 + hexDigits));
        if (!new RegExp(`^[0-9A-Fa-f]{${hexDigits}}$`).test(digits)) {
          throw this.error(escapeAt, `escape \\${letter}${digits} has a non-hex digit`);
        }
        const value = Number.parseInt(digits, 16);
        if (hexDigits === 2) {
          push(escapeAt, value);
        } else {
          if (value > 0x10ffff) throw this.error(escapeAt, `escape \\${letter}${digits} is not a Unicode code point`);
          // Go's string(rune(surrogate)) yields U+FFFD.
          const codePoint = value >= 0xd800 && value <= 0xdfff ? 0xfffd : value;
          push(escapeAt, ...new TextEncoder().encode(String.fromCodePoint(codePoint)));
        }
        i += 2 + hexDigits;
        continue;
      }
      throw this.error(escapeAt, `unknown escape: \\ followed by ${describeByteAt(text, i + 1, to)}`);
    }
  }
}

/** Printable ASCII as is, anything else as \xNN: safe to put in a message. */
function printable(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes)
    out += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return out;
}

/** The character starting at `offset` for a message, or the raw byte when it is not valid UTF-8. */
function describeByteAt(text: Uint8Array, offset: number, end = text.length): string {
  const b = text[offset];
  if (b === undefined || offset >= end) return 'nothing';
  const length = utf8SequenceLength(text, offset, end);
  if (length === 0) return `byte 0x${b.toString(16).padStart(2, '0')}`;
  return `character ${describeChar(UTF8.decode(text.subarray(offset, offset + length)))}`;
}

/** Index of the first byte that is not part of a valid UTF-8 sequence, or -1. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const length = utf8SequenceLength(bytes, i, bytes.length);
    if (length === 0) return i;
    i += length;
  }
  return -1;
}

/** Length of the valid UTF-8 sequence at `i` (shortest form, no surrogates, at most U+10FFFF), or 0. */
function utf8SequenceLength(bytes: Uint8Array, i: number, end: number): number {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < end && bytes[i + k]! >= lo && bytes[i + k]! <= hi;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const [lo, hi] = b0 === 0xe0 ? [0xa0, 0xbf] : b0 === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const [lo, hi] = b0 === 0xf0 ? [0x90, 0xbf] : b0 === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/**
 * Go's `strconv.ParseInt(text, 0, 32)`: optional sign, 0x/0o/0b prefixes, a leading 0 for octal,
 * `_` between digits. Returns undefined where Go returns an error (syntax or out of int32 range).
 */
export function parseGoInt32(text: string): number | undefined {
  let s = text;
  const negative = s.startsWith('-');
  if (negative || s.startsWith('+')) s = s.slice(1);
  if (s === '') return undefined;
  let base = 10;
  if (s[0] === '0') {
    const prefix = s.length >= 3 ? s[1]!.toLowerCase() : '';
    base = prefix === 'x' ? 16 : prefix === 'b' ? 2 : 8;
    s = prefix === 'x' || prefix === 'b' || prefix === 'o' ? s.slice(2) : s.slice(1);
  }
  let value = 0n;
  let underscores = false;
  for (const c of s) {
    if (c === '_') {
      underscores = true;
      continue;
    }
    const digit = Number.parseInt(c, 36);
    if (!(digit < base)) return undefined;
    value = value * BigInt(base) + BigInt(digit);
  }
  if (underscores && !underscoreOK(text)) return undefined;
  const signed = negative ? -value : value;
  return signed >= -(2n ** 31n) && signed < 2n ** 31n ? Number(signed) : undefined;
}

/** Go's rule for `_` in integer literals: only between digits (a base prefix counts as a digit). */
function underscoreOK(text: string): boolean {
  let s = text;
  if (s.startsWith('-') || s.startsWith('+')) s = s.slice(1);
  let saw: '^' | '0' | '_' | '!' = '^';
  let i = 0;
  let hex = false;
  if (s.length >= 2 && s[0] === '0' && 'box'.includes(s[1]!.toLowerCase())) {
    i = 2;
    saw = '0';
    hex = s[1]!.toLowerCase() === 'x';
  }
  for (; i < s.length; i++) {
    const c = s[i]!;
    if ((c >= '0' && c <= '9') || (hex && /^[a-f]$/i.test(c))) {
      saw = '0';
    } else if (c === '_') {
      if (saw !== '0') return false;
      saw = '_';
    } else {
      if (saw === '_') return false;
      saw = '!';
    }
  }
  return saw !== '_';
}
