import { strict as assert } from 'node:assert';
import {
  isDnsSubdomain,
  isSecretDataKey,
  type Plan,
  parsePlan,
  requestedSecrets,
  unsafePathReason,
  validatePlan,
} from '../../../contract/plan.js';

const good: Plan = {
  version: 1,
  project: 'flytesnacks-development',
  fileRoot: '/flyte-secrets',
  files: [{ mlpSecret: 'password', path: 'db-creds/password' }],
  fileMode: 0o440,
  dirMode: 0o750,
  secret: {
    name: 'pod-a-flyte-secrets-0123456789',
    keys: [
      { mlpSecret: 'api_token', key: 'api_token' },
      { mlpSecret: 'password', key: 'password' },
    ],
  },
};

describe('plan validation (the webhook ↔ fetcher interface)', () => {
  it('accepts a well-formed plan and returns it unchanged', () => {
    assert.deepEqual(validatePlan(structuredClone(good)), { ok: true, plan: good });
  });

  it('round-trips through JSON as the webhook writes it into DAP_PLAN', () => {
    assert.deepEqual(parsePlan(JSON.stringify(good)), { ok: true, plan: good });
  });

  it('lists each requested MLP secret once', () => {
    assert.deepEqual(requestedSecrets(good), ['password', 'api_token']);
  });

  it('names the variable when DAP_PLAN is unset or not JSON', () => {
    const unset = parsePlan(undefined);
    assert.equal(unset.ok, false);
    assert.match((unset as { problems: string[] }).problems[0]!, /DAP_PLAN is not set/);
    const broken = parsePlan('{"version":');
    assert.match((broken as { problems: string[] }).problems[0]!, /DAP_PLAN is not valid JSON/);
  });

  it('rejects a plan from another version with a fix', () => {
    const r = validatePlan({ ...good, version: 2 });
    assert.deepEqual(r, {
      ok: false,
      problems: [
        'plan version 2 is not supported (this fetcher reads version 1); use a fetcher image that matches the webhook',
      ],
    });
  });

  it('reports every problem at once', () => {
    const r = validatePlan({
      version: 1,
      project: '',
      fileRoot: 'relative',
      files: [
        { mlpSecret: 'a', path: '../etc/passwd' },
        { mlpSecret: 'b', path: '/abs' },
        { mlpSecret: 'c', path: 'x/./y' },
      ],
      fileMode: 0o1777,
      dirMode: 'rwx',
      secret: { name: 'Not_A_Name', keys: [{ mlpSecret: 'a', key: 'bad key' }] },
    });
    assert.equal(r.ok, false);
    const problems = (r as { problems: string[] }).problems;
    for (const expected of [
      /"project" must be a non-empty string/,
      /"fileMode"/,
      /"dirMode"/,
      /files\[0\].path "..\/etc\/passwd" has a "\.\." segment/,
      /files\[1\].path "\/abs" is absolute/,
      /files\[2\].path "x\/.\/y" has a "\." segment/,
      /"fileRoot" must be an absolute path/,
      /secret.name "Not_A_Name" is not a valid Kubernetes object name/,
      /secret.keys\[0\].key "bad key" is not a valid Secret data key/,
    ]) {
      assert.ok(
        problems.some((p) => expected.test(p)),
        `missing ${expected} in ${JSON.stringify(problems)}`,
      );
    }
  });

  it('rejects duplicate file paths and data keys, and a plan that asks for nothing', () => {
    const dupes = validatePlan({
      ...good,
      files: [good.files[0], good.files[0]],
      secret: {
        name: 'x',
        keys: [
          { mlpSecret: 'a', key: 'k' },
          { mlpSecret: 'b', key: 'k' },
        ],
      },
    });
    assert.deepEqual((dupes as { problems: string[] }).problems, [
      'files[1].path "db-creds/password" appears twice',
      'secret.keys[1].key "k" appears twice',
    ]);
    assert.deepEqual(validatePlan({ ...good, files: [], secret: null }), {
      ok: false,
      problems: ['the plan requests no secrets'],
    });
  });

  it('knows safe paths, Secret names and data keys', () => {
    assert.equal(unsafePathReason('a/b/c'), null);
    assert.equal(unsafePathReason('a//b'), 'has an empty path segment');
    assert.equal(unsafePathReason('a\\b'), 'contains a backslash');
    assert.equal(unsafePathReason('x'.repeat(256)), 'has a path segment longer than 255 bytes');
    assert.equal(isDnsSubdomain('a'.repeat(253)), true);
    assert.equal(isDnsSubdomain('a'.repeat(254)), false);
    assert.equal(isDnsSubdomain('-a'), false);
    assert.equal(isSecretDataKey('Some.Key-Name_V2'), true);
    assert.equal(isSecretDataKey('..'), false);
    assert.equal(isSecretDataKey('..foo'), false, 'Kubernetes refuses a leading ".." in keys and secretKeyRefs');
    assert.equal(isSecretDataKey('.foo'), true);
    assert.equal(isSecretDataKey('a/b'), false);
  });
});
