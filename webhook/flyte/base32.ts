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
 *
 * The bit packing is the `rfc4648` package's (a custom alphabet). This module keeps what it does not
 * do as Go does: it stops at `\r`/`\n` (Go skips them), rejects a final character with non-zero
 * leftover bits (Go ignores those bits: we clear them first), and names no position in its errors.
 */
import { codec } from 'rfc4648';

export const FLYTE_BASE32_ALPHABET = 'abcdefghijklmnopqrstuvwxyz123456';

const DECODE_MAP: ReadonlyMap<string, number> = new Map([...FLYTE_BASE32_ALPHABET].map((c, i) => [c, i]));

/** Lengths of the final group (after the last full 8) that carry whole bytes: 0-4 bytes. */
const VALID_TAILS: ReadonlySet<number> = new Set([0, 2, 4, 5, 7]);

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

const ENCODING = { chars: FLYTE_BASE32_ALPHABET, bits: 5 };

export function encodeBase32(bytes: Uint8Array): string {
  // The last partial character is padded with zero bits on the right, as Go does.
  return codec.stringify(bytes, ENCODING, { pad: false });
}

export function decodeBase32(text: string): Uint8Array {
  const values: number[] = [];
  let position = 0;
  for (const char of text) {
    position += 1;
    if (char === '\n' || char === '\r') continue;
    const value = DECODE_MAP.get(char);
    if (value === undefined) {
      throw new Base32Error(
        `not valid base32 at character ${position} (${describeChar(char)})${hintFor(char)}`,
        position,
      );
    }
    values.push(value);
  }

  if (!VALID_TAILS.has(values.length % 8)) {
    throw new Base32Error(
      `not valid base32: ${values.length} characters is a length Flyte ` +
        `never writes (the value looks cut short or has a stray character)`,
    );
  }
  // Bits of the final character past the last whole byte are padding; Go ignores them.
  const leftoverBits = (values.length * 5) % 8;
  if (leftoverBits > 0) values[values.length - 1]! &= ~((1 << leftoverBits) - 1);
  return codec.parse(values.map((v) => FLYTE_BASE32_ALPHABET[v]).join(''), ENCODING, { loose: true });
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
