/**
 * Flyte's base32: Go's `base32.NewEncoding(ALPHABET).WithPadding(base32.NoPadding)` with the alphabet
 * from flytepropeller `pkg/utils/encoder.go`. It is RFC 4648 bit packing with a different alphabet
 * (digits 1-6 instead of 2-7), lowercase, and no `=` padding: a final partial group of 1-4 bytes is
 * written as 2, 4, 5 or 7 characters.
 *
 * Decoding accepts exactly what Go's `DecodeString` accepts, with one deliberate exception:
 * - `\r` and `\n` anywhere are ignored (Go strips them before decoding);
 * - uppercase letters, `0 7 8 9`, `=` and anything else outside the alphabet are rejected (Go's
 *   decode map is built from the lowercase alphabet only);
 * - non-zero bits left over in the last character are ignored (Go has no strict mode for base32);
 * - EXCEPTION: a length of 1, 3 or 6 past a multiple of 8 is rejected. Go silently drops such a
 *   trailing group, i.e. decodes a damaged value into a shorter text; Flyte never writes one.
 */

export const FLYTE_BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz123456';

const DECODE_MAP: ReadonlyMap<string, number> = new Map([...FLYTE_BASE32_ALPHABET].map((c, i) => [c, i]));

/** Characters in the final group (after the last full 8) → bytes it carries; absent = impossible. */
const TAIL_BYTES: Readonly<Record<number, number>> = { 0: 0, 2: 1, 4: 2, 5: 3, 7: 4 };

export class Base32Error extends Error {
  override name = 'Base32Error';
  constructor(
    /** What is wrong, as a sentence fragment without the location ("not valid base32 ..."). */
    message: string,
    /** 1-based character (code point) position in the input, when one character is at fault. */
    readonly position?: number,
  ) {
    super(message);
  }
}

export function encodeBase32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += FLYTE_BASE32_ALPHABET[(buffer >> bits) & 31];
    }
  }
  // The last partial character is padded with zero bits on the right, as Go does.
  if (bits > 0) out += FLYTE_BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}

export function decodeBase32(text: string): Uint8Array {
  const values: number[] = [];
  let position = 0;
  for (const char of text) {
    position += 1;
    if (char === '\n' || char === '\r') continue;
    const value = DECODE_MAP.get(char);
    if (value === undefined) {
      throw new Base32Error(`not valid base32 at character ${position} (${describeChar(char)})${hintFor(char)}`, position);
    }
    values.push(value);
  }

  const tail = values.length % 8;
  const tailBytes = TAIL_BYTES[tail];
  if (tailBytes === undefined) {
    throw new Base32Error(
      `not valid base32: ${values.length} characters is a length Flyte never writes (the value looks cut short or has a stray character)`,
    );
  }

  const out = new Uint8Array(Math.floor(values.length / 8) * 5 + tailBytes);
  let buffer = 0;
  let bits = 0;
  let n = 0;
  for (const value of values) {
    buffer = ((buffer << 5) | value) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (buffer >> bits) & 0xff;
    }
  }
  // Leftover bits (< 8) belong to the final character's padding and are ignored, as in Go.
  return out;
}

function hintFor(char: string): string {
  if (char >= 'A' && char <= 'Z') return '; Flyte writes lowercase letters only';
  if ('0789'.includes(char)) return "; Flyte's base32 digits are 1-6";
  if (char === '=') return '; Flyte writes no padding';
  return '';
}

/** A character for an error message: quoted when printable, else its code point. */
export function describeChar(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  if (/^[\p{L}\p{N}\p{P}\p{S}]$/u.test(char)) return code < 0x80 ? `'${char}'` : `'${char}', ${hex}`;
  return hex;
}
