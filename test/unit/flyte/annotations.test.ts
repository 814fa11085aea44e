import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  AnnotationError,
  decodeSecretAnnotation,
  encodeSecretAnnotation,
  type FlyteSecret,
  readSecretAnnotations,
  SECRET_ANNOTATION_PREFIX,
} from '../../../webhook/flyte/annotations.js';
import { encodeBase32 } from '../../../webhook/flyte/base32.js';
import { formatSecretText } from '../../../webhook/flyte/prototext.js';
import { arbitrarySecret } from './secret-arbitraries.js';

const secret = (fields: Partial<FlyteSecret>): FlyteSecret => ({
  group: '',
  groupVersion: '',
  key: '',
  mountRequirement: 'ANY',
  envVar: '',
  ...fields,
});
const annotationOfText = (text: string) => encodeBase32(new TextEncoder().encode(text));

function decodeError(key: string, value: string): AnnotationError {
  try {
    decodeSecretAnnotation(key, value);
  } catch (error) {
    assert.ok(error instanceof AnnotationError, `expected AnnotationError, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${key}=${JSON.stringify(value)} to be rejected`);
}

describe('Flyte secret annotations', () => {
  it('uses the flyte.secrets/s prefix', () => {
    assert.equal(SECRET_ANNOTATION_PREFIX, 'flyte.secrets/s');
  });

  describe('decodeSecretAnnotation', () => {
    it('decodes a value Flyte wrote', () => {
      assert.deepEqual(
        decodeSecretAnnotation(
          'flyte.secrets/s0',
          'm4zg54lqhiqce2lzl4txe22voarau12fpe4caitnpfpwwzlzeifg122vnz1f53tfof1ws3tfnvsw34b1ebcu3vs6kzavecq',
        ),
        secret({ group: 'my_group', key: 'my_key', mountRequirement: 'ENV_VAR' }),
      );
    });

    it('decodes an empty value to the default Secret, as Flyte does (judging it is up to the caller)', () => {
      assert.deepEqual(decodeSecretAnnotation('flyte.secrets/s0', ''), secret({}));
    });

    it('names the annotation, what is wrong and where, for bad base32', () => {
      const value = 'm4zg54lqhiqce2lz!vzwky2s';
      const error = decodeError('flyte.secrets/s1', value);
      assert.equal(error.message, "flyte.secrets/s1: not valid base32 at character 17 ('!')");
      assert.equal(error.annotation, 'flyte.secrets/s1');
      assert.equal(error.problem, "not valid base32 at character 17 ('!')");
      assert.equal(error.name, 'AnnotationError');
      assert.ok(error instanceof Error);
    });

    it('refuses uppercase, which Flyte never writes and Go does not decode', () => {
      assert.equal(
        decodeError('flyte.secrets/s0', 'NNSXSORAEJWXSX2LMV3SECQ').message,
        "flyte.secrets/s0: not valid base32 at character 1 ('N'); Flyte writes lowercase letters only",
      );
    });

    it('refuses a truncated value', () => {
      assert.equal(
        decodeError('flyte.secrets/s2', 'nnsxsoraejwxsx2lmv3sec').message,
        'flyte.secrets/s2: not valid base32: 22 characters is a length Flyte never writes (the value looks cut short or has a stray character)',
      );
    });

    it('names the annotation, what is wrong and where in the decoded text, for bad text format', () => {
      const error = decodeError('flyte.secrets/s3', annotationOfText('group: "g"\ngrp: "x"\n'));
      assert.equal(
        error.message,
        'flyte.secrets/s3: unknown field "grp" at line 2, column 1 of the decoded text; a Secret has the fields group, group_version, key, mount_requirement and env_var',
      );
      assert.equal(
        decodeError('flyte.secrets/s0', annotationOfText('mount_requirement: 5\n')).message,
        'flyte.secrets/s0: mount_requirement 5 is not a known mount type at line 1, column 20 of the decoded text; use ANY, ENV_VAR or FILE (or 0, 1, 2)',
      );
      assert.equal(
        decodeError('flyte.secrets/s0', annotationOfText('key: "k"\nkey: "k"\n')).message,
        'flyte.secrets/s0: key is set a second time at line 2, column 1 of the decoded text; each field may appear only once',
      );
      assert.equal(
        decodeError('flyte.secrets/s0', annotationOfText('key: "\\377"')).message,
        'flyte.secrets/s0: key is not valid UTF-8 (byte 0xff) at line 1, column 7 of the decoded text; octal and \\x escapes must spell whole UTF-8 characters',
      );
      assert.equal(
        decodeError('flyte.secrets/s0', annotationOfText('key: "k')).message,
        'flyte.secrets/s0: quoted string is not closed at line 1, column 6 of the decoded text; add the closing " before the end of the line',
      );
      assert.equal(
        decodeError('flyte.secrets/s0', annotationOfText('key: k')).message,
        'flyte.secrets/s0: key must be a quoted string, found "k" at line 1, column 6 of the decoded text',
      );
    });

    it('refuses a value that is not a string (admission JSON is not schema-checked)', () => {
      assert.equal(
        decodeError('flyte.secrets/s0', 42 as unknown as string).message,
        'flyte.secrets/s0: the value is not a string',
      );
    });

    it('never echoes secret names beyond the one offending character or token', () => {
      fc.assert(
        fc.property(
          arbitrarySecret(),
          fc.constantFrom('grp: "x"\n', 'key: "\\q"\n', 'mount_requirement: 9\n', 'key: "a"\n', '"'),
          (s, damage) => {
            const text = formatSecretText({ ...s, group: 'PAYROLL_DB', key: 'PAYROLL_DB_PASSWORD' });
            const error = decodeError('flyte.secrets/s0', annotationOfText(`${text}${damage}`));
            assert.doesNotMatch(error.message, /PAYROLL/);
          },
        ),
        { numRuns: 200 },
      );
    });
  });

  describe('encodeSecretAnnotation', () => {
    it("matches flytepropeller's marshaler_test.go ('forbidden characters')", () => {
      assert.equal(encodeSecretAnnotation(secret({ group: ";':/\\" })), 'm4zg54lqhiqceozhhixvyxbcbi');
    });

    it("matches flytepropeller's marshaler_test.go ('Without group')", () => {
      assert.equal(encodeSecretAnnotation(secret({ key: 'my_key' })), 'nnsxsoraejwxsx2lmv3secq');
    });

    it('writes only lowercase letters and digits 1-6', () => {
      fc.assert(
        fc.property(arbitrarySecret(), (s) => assert.match(encodeSecretAnnotation(s), /^[a-z1-6]*$/)),
        { numRuns: 500 },
      );
    });

    it('round-trips any secret (quotes, backslashes, line ends, NUL, non-ASCII, emoji) through encode and decode', () => {
      fc.assert(
        fc.property(arbitrarySecret(), (s) =>
          assert.deepEqual(decodeSecretAnnotation('flyte.secrets/s0', encodeSecretAnnotation(s)), s),
        ),
        { numRuns: 3000 },
      );
    });
  });

  describe('readSecretAnnotations', () => {
    const a = secret({ group: 'a', key: 'k', mountRequirement: 'ENV_VAR' });
    const b = secret({ group: 'b', key: 'k', mountRequirement: 'FILE' });
    const c = secret({ key: 'c' });

    it('returns nothing for a pod without annotations', () => {
      assert.deepEqual(readSecretAnnotations(undefined), { secrets: [], errors: [] });
      assert.deepEqual(readSecretAnnotations({}), { secrets: [], errors: [] });
    });

    it('reads only keys that start with flyte.secrets/s', () => {
      const result = readSecretAnnotations({
        'flyte.secrets/s0': encodeSecretAnnotation(a),
        'flyte.secrets/x0': '!!!',
        'flyte.secret/s1': '!!!',
        'example.com/flyte.secrets/s2': '!!!',
        'inject-flyte-secrets': 'true',
      });
      assert.deepEqual(result, { secrets: [{ annotation: 'flyte.secrets/s0', secret: a }], errors: [] });
    });

    it('orders by numeric index (s2 before s10), whatever the order of the keys', () => {
      const annotations: Record<string, string> = {};
      for (const i of [10, 2, 0, 11, 1, 3])
        annotations[`flyte.secrets/s${i}`] = encodeSecretAnnotation(secret({ key: `k${i}` }));
      const result = readSecretAnnotations(annotations);
      assert.deepEqual(
        result.secrets.map((s) => s.annotation),
        [
          'flyte.secrets/s0',
          'flyte.secrets/s1',
          'flyte.secrets/s2',
          'flyte.secrets/s3',
          'flyte.secrets/s10',
          'flyte.secrets/s11',
        ],
      );
      assert.deepEqual(
        result.secrets.map((s) => s.secret.key),
        ['k0', 'k1', 'k2', 'k3', 'k10', 'k11'],
      );
    });

    it('reads keys Flyte would also read but never writes (non-numeric suffix) after the numbered ones', () => {
      const result = readSecretAnnotations({
        'flyte.secrets/sx': encodeSecretAnnotation(c),
        'flyte.secrets/s': encodeSecretAnnotation(b),
        'flyte.secrets/s1': encodeSecretAnnotation(a),
        'flyte.secrets/s01': encodeSecretAnnotation(a),
      });
      assert.deepEqual(
        result.secrets.map((s) => s.annotation),
        ['flyte.secrets/s01', 'flyte.secrets/s1', 'flyte.secrets/s', 'flyte.secrets/sx'],
      );
    });

    it('collects every error and still returns the good secrets', () => {
      const result = readSecretAnnotations({
        'flyte.secrets/s0': encodeSecretAnnotation(a),
        'flyte.secrets/s1': 'not!base32',
        'flyte.secrets/s2': encodeSecretAnnotation(b),
        'flyte.secrets/s3': annotationOfText('colour: "red"'),
        'flyte.secrets/s10': encodeSecretAnnotation(c),
      });
      assert.deepEqual(result.secrets, [
        { annotation: 'flyte.secrets/s0', secret: a },
        { annotation: 'flyte.secrets/s2', secret: b },
        { annotation: 'flyte.secrets/s10', secret: c },
      ]);
      assert.deepEqual(
        result.errors.map((e) => [e.annotation, e.message]),
        [
          ['flyte.secrets/s1', "flyte.secrets/s1: not valid base32 at character 4 ('!')"],
          [
            'flyte.secrets/s3',
            'flyte.secrets/s3: unknown field "colour" at line 1, column 1 of the decoded text; a Secret has the fields group, group_version, key, mount_requirement and env_var',
          ],
        ],
      );
    });
  });
});
