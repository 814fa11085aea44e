import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  decodeSecretAnnotation,
  encodeSecretAnnotation,
  type FlyteSecret,
  type MountRequirement,
  readSecretAnnotations,
} from '../../../webhook/flyte/annotations.js';
import { decodeBase32 } from '../../../webhook/flyte/base32.js';
import { formatSecretText, parseSecretText } from '../../../webhook/flyte/prototext.js';
import { skipFor } from '../../support/skips.js';

/** One worked example from Flyte's sources and fixtures (contract.md §1). */
interface Vector {
  name: string;
  secret: {
    group?: string;
    group_version?: string;
    key?: string;
    mount_requirement?: MountRequirement;
    env_var?: string;
  };
  annotation_key: string;
  annotation_value: string;
  text_format: string;
}

const fixtureUrl = new URL('../../fixtures/flyte-secret-vectors.json', import.meta.url);
const fixture = JSON.parse(readFileSync(fixtureUrl, 'utf8')) as Vector[];

/**
 * The project's shared reference copy, when this checkout can see one: $DAP_SHARED_DIR, shared/
 * beside the checkout (CI), or beside the main checkout of a git worktree. The tests below need
 * only the in-repo fixture; this just keeps the two copies from drifting apart.
 */
function sharedReference(): string | undefined {
  const checkout = fileURLToPath(new URL('../../../', import.meta.url));
  const roots = [process.env.DAP_SHARED_DIR, join(checkout, '..', 'shared')];
  const dotGit = join(checkout, '.git');
  if (existsSync(dotGit) && statSync(dotGit).isFile()) {
    // A worktree: .git says "gitdir: <main checkout>/.git/worktrees/<name>".
    const gitdir = /^gitdir: (.*)$/m.exec(readFileSync(dotGit, 'utf8'))?.[1];
    if (gitdir) roots.push(join(dirname(dirname(dirname(resolve(checkout, gitdir.trim())))), '..', 'shared'));
  }
  return roots
    .filter((r): r is string => !!r)
    .map((r) => join(r, 'reference', 'flyte-secret-vectors.json'))
    .find((f) => existsSync(f));
}

const secretOf = (v: Vector): FlyteSecret => ({
  group: v.secret.group ?? '',
  groupVersion: v.secret.group_version ?? '',
  key: v.secret.key ?? '',
  mountRequirement: v.secret.mount_requirement ?? 'ANY',
  envVar: v.secret.env_var ?? '',
});

describe('Flyte secret vectors (test/fixtures/flyte-secret-vectors.json)', () => {
  it('the fixture equals the shared reference copy, where one is present', function () {
    const shared = sharedReference();
    if (shared === undefined)
      skipFor(
        this,
        'no shared/reference copy visible (set DAP_SHARED_DIR to compare); the in-repo fixture is tested below',
      );
    assert.deepEqual(
      fixture,
      JSON.parse(readFileSync(shared, 'utf8')),
      `test/fixtures/flyte-secret-vectors.json differs from ${shared}`,
    );
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
