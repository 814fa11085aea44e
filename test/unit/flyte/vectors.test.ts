import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import {
  type FlyteSecret,
  type MountRequirement,
  decodeSecretAnnotation,
  encodeSecretAnnotation,
  readSecretAnnotations,
} from '../../../webhook/flyte/annotations.js';
import { decodeBase32 } from '../../../webhook/flyte/base32.js';
import { formatSecretText, parseSecretText } from '../../../webhook/flyte/prototext.js';

/** One worked example from Flyte's sources and fixtures (contract.md §1). */
interface Vector {
  name: string;
  secret: { group?: string; group_version?: string; key?: string; mount_requirement?: MountRequirement; env_var?: string };
  annotation_key: string;
  annotation_value: string;
  text_format: string;
}

const sharedUrl = new URL('../../../../shared/reference/flyte-secret-vectors.json', import.meta.url);
const fixtureUrl = new URL('../../fixtures/flyte-secret-vectors.json', import.meta.url);
const fixture = JSON.parse(readFileSync(fixtureUrl, 'utf8')) as Vector[];

const secretOf = (v: Vector): FlyteSecret => ({
  group: v.secret.group ?? '',
  groupVersion: v.secret.group_version ?? '',
  key: v.secret.key ?? '',
  mountRequirement: v.secret.mount_requirement ?? 'ANY',
  envVar: v.secret.env_var ?? '',
});

describe('Flyte secret vectors (shared/reference/flyte-secret-vectors.json)', () => {
  it('the fixture copy equals the shared reference', function () {
    if (!existsSync(sharedUrl)) this.skip();
    assert.deepEqual(fixture, JSON.parse(readFileSync(sharedUrl, 'utf8')));
  });

  it('has vectors to check', () => {
    assert.ok(fixture.length >= 10);
  });

  for (const v of fixture) {
    describe(v.name, () => {
      it('decodes the annotation to the secret', () => {
        assert.deepEqual(decodeSecretAnnotation(v.annotation_key, v.annotation_value), secretOf(v));
      });
      it('encodes the secret to the exact annotation', () => {
        assert.equal(encodeSecretAnnotation(secretOf(v)), v.annotation_value);
      });
      it('the annotation is the base32 of the text format', () => {
        assert.equal(new TextDecoder().decode(decodeBase32(v.annotation_value)), v.text_format);
      });
      it('prints and parses the text format', () => {
        assert.equal(formatSecretText(secretOf(v)), v.text_format);
        assert.deepEqual(parseSecretText(new TextEncoder().encode(v.text_format)), secretOf(v));
      });
    });
  }

  it('reads the multi-secret pod in annotation order', () => {
    const multi = fixture.filter((v) => v.name.startsWith('multi-secret pod'));
    assert.equal(multi.length, 3);
    const annotations = Object.fromEntries([...multi].reverse().map((v) => [v.annotation_key, v.annotation_value]));
    assert.deepEqual(readSecretAnnotations(annotations), {
      secrets: multi.map((v) => ({ annotation: v.annotation_key, secret: secretOf(v) })),
      errors: [],
    });
  });
});
