import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { Base32Error, decodeBase32, encodeBase32, FLYTE_BASE32_ALPHABET } from '../../../webhook/flyte/base32.js';

const ascii = (text: string) => new TextEncoder().encode(text);

/** RFC 4648 base32 by the book (bit string, 5 bits at a time), mapped to Flyte's alphabet, padding dropped. */
function referenceEncode(bytes: Uint8Array): string {
  const bits = [...bytes].map((b) => b.toString(2).padStart(8, '0')).join('');
  const padded = bits.padEnd(Math.ceil(bits.length / 5) * 5, '0');
  let out = '';
  for (let i = 0; i < padded.length; i += 5)
    out += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[Number.parseInt(padded.slice(i, i + 5), 2)];
  return out.toLowerCase().replace(/[2-7]/g, (d) => String(Number(d) - 1));
}

function decodeError(text: string): Base32Error {
  try {
    decodeBase32(text);
  } catch (error) {
    assert.ok(error instanceof Base32Error);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(text)} to be rejected`);
}

describe("Flyte's base32", () => {
  it('uses the alphabet a-z then 1-6 (flytepropeller pkg/utils/encoder.go)', () => {
    assert.equal(FLYTE_BASE32_ALPHABET, 'abcdefghijklmnopqrstuvwxyz123456');
    // The 5-bit values 0, 1, ..., 31 in a row.
    const counting = Uint8Array.from([
      0x00, 0x44, 0x32, 0x14, 0xc7, 0x42, 0x54, 0xb6, 0x35, 0xcf, 0x84, 0x65, 0x3a, 0x56, 0xd7, 0xc6, 0x75, 0xbe, 0x77,
      0xdf,
    ]);
    assert.equal(encodeBase32(counting), FLYTE_BASE32_ALPHABET);
    assert.deepEqual(decodeBase32(FLYTE_BASE32_ALPHABET), counting);
  });

  it("writes a final partial group without padding, as Go's NoPadding does", () => {
    // 1, 2, 3, 4 bytes past a multiple of 5 -> 2, 4, 5, 7 characters.
    assert.equal(encodeBase32(ascii('k')), 'nm');
    assert.equal(encodeBase32(ascii('ke')), 'nnsq');
    assert.equal(encodeBase32(ascii('key')), 'nnsxs');
    assert.equal(encodeBase32(ascii('key:')), 'nnsxsoq');
    assert.equal(encodeBase32(ascii('key: ')), 'nnsxsora');
    assert.equal(encodeBase32(new Uint8Array()), '');
  });

  it('matches RFC 4648 base32 with the alphabet swapped and the padding dropped, for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) =>
        assert.equal(encodeBase32(bytes), referenceEncode(bytes)),
      ),
      { numRuns: 2000 },
    );
  });

  it('decodes what it encodes, for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) =>
        assert.deepEqual(decodeBase32(encodeBase32(bytes)), bytes),
      ),
      { numRuns: 2000 },
    );
  });

  it("ignores CR and LF anywhere, as Go's DecodeString does", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 40 }),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom('\n', '\r', '\r\n'))),
        (bytes, breaks) => {
          let text = encodeBase32(bytes);
          for (const [at, lineEnd] of breaks) {
            const i = at % (text.length + 1);
            text = text.slice(0, i) + lineEnd + text.slice(i);
          }
          assert.deepEqual(decodeBase32(text), bytes);
        },
      ),
    );
  });

  it('ignores non-zero bits left over in the last character, as Go does', () => {
    assert.deepEqual(decodeBase32('aa'), Uint8Array.of(0));
    assert.deepEqual(decodeBase32('ab'), Uint8Array.of(0));
    assert.deepEqual(decodeBase32('a6'), Uint8Array.of(0x07));
  });

  describe('rejects, naming the 1-based character position and the character', () => {
    const cases: [string, string, number | undefined][] = [
      ['nnsx!ora', "not valid base32 at character 5 ('!')", 5],
      ['NNSXSORA', "not valid base32 at character 1 ('N'); Flyte writes lowercase letters only", 1],
      ['nnsxsorA', "not valid base32 at character 8 ('A'); Flyte writes lowercase letters only", 8],
      ['nnsxso7a', "not valid base32 at character 7 ('7'); Flyte's base32 digits are 1-6", 7],
      ['nnsxs0ra', "not valid base32 at character 6 ('0'); Flyte's base32 digits are 1-6", 6],
      ['nnsxsoq=', "not valid base32 at character 8 ('='); Flyte writes no padding", 8],
      ['nn xsora', 'not valid base32 at character 3 (U+0020)', 3],
      ['nn\txsora', 'not valid base32 at character 3 (U+0009)', 3],
      ['nnéxsora', "not valid base32 at character 3 ('é', U+00E9)", 3],
      ['n😀nsxsora', "not valid base32 at character 2 ('😀', U+1F600)", 2],
      ['😀!', "not valid base32 at character 1 ('😀', U+1F600)", 1],
      ['nn\n\n!', "not valid base32 at character 5 ('!')", 5],
    ];
    for (const [text, message, position] of cases) {
      it(JSON.stringify(text), () => {
        const error = decodeError(text);
        assert.equal(error.message, message);
        assert.equal(error.position, position);
      });
    }
  });

  describe('rejects a length Flyte never writes (1, 3 or 6 past a multiple of 8), which Go would silently truncate', () => {
    for (const length of [1, 3, 6, 9, 11, 14, 17]) {
      it(`${length} characters`, () => {
        const error = decodeError('a'.repeat(length));
        assert.equal(
          error.message,
          `not valid base32: ${length} characters is a length Flyte never writes (the value looks cut short or has a stray character)`,
        );
        assert.equal(error.position, undefined);
      });
    }
    it('counts characters without the ignored line ends', () => {
      assert.match(decodeError('aaa\n\n\n\n\n').message, /: 3 characters/);
    });
  });
});
