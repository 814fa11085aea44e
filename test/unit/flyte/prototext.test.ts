import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  emptySecret,
  type FlyteSecret,
  formatSecretText,
  type MountRequirement,
  parseGoInt32,
  parseSecretText,
  TextFormatError,
} from '../../../webhook/flyte/prototext.js';
import { arbitrarySecret, respell } from './secret-arbitraries.js';
import { ACCEPTED, REJECTED, type TextFormatCase } from './text-format-cases.js';

const bytesOf = (text: TextFormatCase['text']) =>
  typeof text === 'string' ? new TextEncoder().encode(text) : Uint8Array.from(text);
const parseText = (text: string) => parseSecretText(new TextEncoder().encode(text));

function parseError(text: TextFormatCase['text']): TextFormatError {
  try {
    parseSecretText(bytesOf(text));
  } catch (error) {
    assert.ok(error instanceof TextFormatError, `expected TextFormatError, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(text)} to be rejected`);
}

describe('flyteidl.core.Secret text format: parser', () => {
  describe('accepts every syntax golang/protobuf UnmarshalText accepts', () => {
    for (const c of ACCEPTED) {
      it(c.name, () => {
        assert.deepEqual(parseSecretText(bytesOf(c.text)), { ...emptySecret(), ...c.secret });
      });
    }
  });

  describe('rejects with a message naming what is wrong and where', () => {
    for (const c of REJECTED) {
      it(c.name, () => {
        const error = parseError(c.text);
        assert.equal(error.message, c.error);
        assert.ok(error.line >= 1 && error.column >= 1);
        assert.equal(error.message.startsWith(error.problem), true);
      });
    }
  });

  it('keeps line, column, problem and hint as fields', () => {
    const error = parseError('key: "k"\n  foo: "x"');
    assert.deepEqual(
      { problem: error.problem, line: error.line, column: error.column, hint: error.hint },
      {
        problem: 'unknown field "foo"',
        line: 2,
        column: 3,
        hint: 'a Secret has the fields group, group_version, key, mount_requirement and env_var',
      },
    );
  });

  it('does not repeat the content of a string in its errors', () => {
    const marker = 'PAYROLL_DB';
    for (const text of [
      `key: "${marker}\\q"`,
      `key: "${marker}\\377"`,
      `key: "${marker}`,
      `key: "${marker}"\nkey: "x"`,
      `key: "${marker}" group: 1`,
      `key: "${marker}" mount_requirement: 7`,
      `group: '${marker}' "\\x4"`,
    ]) {
      assert.doesNotMatch(parseError(text).message, new RegExp(marker), text);
    }
  });

  it('never fails with anything but a TextFormatError, on any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          parseSecretText(bytes);
        } catch (error) {
          assert.ok(error instanceof TextFormatError, String(error));
          assert.ok(error.line >= 1 && error.column >= 1);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('never fails with anything but a TextFormatError, on near-valid texts', () => {
    const pieces = [
      'key',
      'group',
      'mount_requirement',
      ':',
      ' ',
      '\n',
      '"',
      "'",
      '\\',
      '\\x',
      '\\u',
      '\\0',
      '1',
      'FILE',
      ';',
      ',',
      '#',
      'é',
      '\0',
    ];
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...pieces), { maxLength: 30 }), (parts) => {
        try {
          parseText(parts.join(''));
        } catch (error) {
          assert.ok(error instanceof TextFormatError, String(error));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('reads any respelling of a secret (quotes, adjacent strings, escapes, numeric enums, comments, order) as the same secret', () => {
    fc.assert(
      fc.property(arbitrarySecret(), fc.array(fc.nat(), { minLength: 1, maxLength: 64 }), (secret, tape) => {
        const text = respell(secret, tape);
        assert.deepEqual(parseText(text), secret, text);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('flyteidl.core.Secret text format: printer (proto.MarshalTextString)', () => {
  const full: FlyteSecret = { group: 'g', groupVersion: 'v', key: 'k', mountRequirement: 'FILE', envVar: 'E' };

  it('writes one name: value line per non-default field, in field-number order', () => {
    assert.equal(
      formatSecretText(full),
      'group: "g"\ngroup_version: "v"\nkey: "k"\nmount_requirement: FILE\nenv_var: "E"\n',
    );
  });

  it('leaves out empty strings and ANY (the defaults)', () => {
    assert.equal(formatSecretText({ ...emptySecret(), key: 'k' }), 'key: "k"\n');
    assert.equal(formatSecretText(emptySecret()), '');
  });

  it('writes each enum by name', () => {
    for (const m of ['ENV_VAR', 'FILE'] as MountRequirement[]) {
      assert.equal(formatSecretText({ ...emptySecret(), mountRequirement: m }), `mount_requirement: ${m}\n`);
    }
  });

  it('escapes \\n \\r \\t \\" \\\\ by name, other bytes outside 0x20-0x7E in octal, and leaves \' alone', () => {
    assert.equal(
      formatSecretText({ ...emptySecret(), key: 'a\nb\rc\td"e\\f\'g' }),
      'key: "a\\nb\\rc\\td\\"e\\\\f\'g"\n',
    );
    assert.equal(formatSecretText({ ...emptySecret(), key: '\0\x07\x1f\x7f ~' }), 'key: "\\000\\007\\037\\177 ~"\n');
  });

  it('writes non-ASCII text as its UTF-8 bytes in octal', () => {
    assert.equal(formatSecretText({ ...emptySecret(), group: 'é😀' }), 'group: "\\303\\251\\360\\237\\230\\200"\n');
  });

  it('refuses what Go could not hold: a lone surrogate, an unknown mount requirement', () => {
    assert.throws(() => formatSecretText({ ...emptySecret(), key: 'a\ud800' }), {
      name: 'RangeError',
      message: 'key contains a lone UTF-16 surrogate and cannot be encoded',
    });
    assert.throws(() => formatSecretText({ ...emptySecret(), mountRequirement: 'BOTH' as MountRequirement }), {
      name: 'RangeError',
      message: 'mountRequirement must be ANY, ENV_VAR or FILE, got "BOTH"',
    });
  });

  it('round-trips any secret through print and parse, and prints only printable ASCII lines', () => {
    fc.assert(
      fc.property(arbitrarySecret(), (secret) => {
        const text = formatSecretText(secret);
        assert.match(text, /^([a-z_]+: [\x20-\x7e]+\n)*$/);
        assert.deepEqual(parseText(text), secret);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("Go's strconv.ParseInt(s, 0, 32) for numeric enums", () => {
  const cases: [string, number | undefined][] = [
    ['0', 0],
    ['7', 7],
    ['+7', 7],
    ['-7', -7],
    ['-0', 0],
    ['007', 7],
    ['010', 8],
    ['0o10', 8],
    ['0O10', 8],
    ['0x1f', 31],
    ['0X1F', 31],
    ['0b101', 5],
    ['0B1', 1],
    ['1_000', 1000],
    ['0x_1f', 31],
    ['0_7', 7],
    ['2147483647', 2147483647],
    ['-2147483648', -2147483648],
    ['2147483648', undefined],
    ['-2147483649', undefined],
    ['', undefined],
    ['+', undefined],
    ['-', undefined],
    ['08', undefined],
    ['0b2', undefined],
    ['0x', undefined],
    ['0b', undefined],
    ['0o', undefined],
    ['_1', undefined],
    ['1_', undefined],
    ['1__0', undefined],
    ['0x_', undefined],
    ['1.0', undefined],
    ['1e3', undefined],
    ['+-1', undefined],
    ['ANY', undefined],
    ['0xg', undefined],
    ['1_0x', undefined],
  ];
  for (const [text, expected] of cases) {
    it(`${JSON.stringify(text)} -> ${String(expected)}`, () => assert.equal(parseGoInt32(text), expected));
  }
});
