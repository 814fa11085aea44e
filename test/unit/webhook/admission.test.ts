import { strict as assert } from 'node:assert';
import type { V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { isDnsSubdomain, isSecretDataKey, validatePlan } from '../../../contract/plan.js';
import { admit, InvalidReviewError } from '../../../webhook/admission.js';
import { encodeSecretAnnotation, type FlyteSecret } from '../../../webhook/flyte/annotations.js';
import { injectSecrets, perPodSecretName } from '../../../webhook/mutate/inject.js';
import { podReview } from '../../../webhook/render.js';
import { goldenConfig } from '../../support/goldens.js';
import { type Resp, resp } from './task-pods.js';

const config = goldenConfig();
const secret = (
  key: string,
  mountRequirement: FlyteSecret['mountRequirement'],
  group = 'g',
  extra: Partial<FlyteSecret> = {},
): FlyteSecret => ({ group, groupVersion: '', key, mountRequirement, envVar: '', ...extra });

function pod(secrets: FlyteSecret[], labels: Record<string, string> = { 'inject-flyte-secrets': 'true' }): V1Pod {
  const annotations = Object.fromEntries(secrets.map((s, i) => [`flyte.secrets/s${i}`, encodeSecretAnnotation(s)]));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'task-pod', namespace: 'proj-dev', labels, annotations },
    spec: { containers: [{ name: 'main', image: 'python:3.11' }] },
  };
}

const review = (p: V1Pod, uid = 'uid-1', overrides: Record<string, unknown> = {}) => {
  const r = podReview(p as Record<string, unknown>, { uid }) as { request: Record<string, unknown> };
  Object.assign(r.request, overrides);
  return r;
};

const applied = (original: V1Pod, r: Resp) =>
  fastJsonPatch.applyPatch(
    structuredClone(original),
    JSON.parse(Buffer.from(r.patch!, 'base64').toString()) as Operation[],
    true,
    false,
  ).newDocument;

describe('admission (AdmissionReview v1 in, AdmissionReview v1 out)', () => {
  it('rejects a body that is not an AdmissionReview request', () => {
    for (const body of [
      null,
      [],
      'x',
      { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'u' } },
      { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' },
      { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: '' } },
    ]) {
      assert.throws(() => admit(body, config), InvalidReviewError);
    }
  });

  it('echoes the uid and patches a labelled pod with a JSONPatch that yields the mutated pod', () => {
    const p = pod([secret('token', 'ENV_VAR'), secret('cert', 'FILE')]);
    const result = admit(review(p, 'abc-123'), config);
    const r = resp(result);
    assert.equal(r.uid, 'abc-123');
    assert.equal(r.allowed, true);
    assert.equal(r.patchType, 'JSONPatch');
    const outcome = injectSecrets({ pod: p, namespace: 'proj-dev', nonce: 'abc-123', config });
    assert.equal(outcome.kind, 'inject');
    assert.deepEqual(applied(p, r), (outcome as { pod: V1Pod }).pod);
    assert.equal(result.outcome, 'injected');
    assert.deepEqual(result.secretsByMount, { FILE: 1, ENV_VAR: 1 });
  });

  it('answers without patch and patchType for anything it leaves alone', () => {
    const cases = [
      review(pod([secret('t', 'ENV_VAR')], {})), // not labelled
      review(pod([], { 'inject-flyte-secrets': 'true' })), // label, no annotations
      review(pod([secret('t', 'ENV_VAR')]), 'u', { operation: 'UPDATE' }),
      review(pod([secret('t', 'ENV_VAR')]), 'u', { subResource: 'status' }),
      review(pod([secret('t', 'ENV_VAR')]), 'u', { resource: { group: '', version: 'v1', resource: 'configmaps' } }),
    ];
    for (const c of cases) {
      const r = resp(admit(c, config));
      assert.deepEqual(Object.keys(r).sort(), ['allowed', 'uid']);
      assert.equal(r.allowed, true);
    }
  });

  it('treats dry-run like any other request (no side effects exist here)', () => {
    const p = pod([secret('t', 'ENV_VAR')]);
    const result = admit(review(p, 'u', { dryRun: true }), config);
    assert.equal(result.dryRun, true);
    assert.equal(resp(result).patchType, 'JSONPatch');
  });

  it('denies with 400 and a message naming the pod, the annotation and the fix', () => {
    const p = pod([secret('t', 'ENV_VAR')]);
    p.metadata!.annotations!['flyte.secrets/s1'] = '0000';
    const result = admit(review(p), config);
    const r = resp(result);
    assert.equal(r.allowed, false);
    assert.equal(r.status!.code, 400);
    assert.match(r.status!.message, /^pod proj-dev\/task-pod: flyte\.secrets\/s1: /);
    assert.equal(r.patch, undefined);
    assert.deepEqual(result.denialReasons, ['malformed-annotation']);
  });

  it('is idempotent: admitting the mutated pod again changes nothing (reinvocation)', () => {
    const arbSecret = fc.record({
      group: fc.constantFrom('', 'g', 'My-Group', 'db.creds'),
      groupVersion: fc.constantFrom('', 'v2'),
      key: fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/),
      mountRequirement: fc.constantFrom('ANY', 'ENV_VAR', 'FILE'),
      envVar: fc.constantFrom('', 'EXTRA_ONE', 'EXTRA_TWO'),
    }) as fc.Arbitrary<FlyteSecret>;
    fc.assert(
      fc.property(fc.array(arbSecret, { minLength: 1, maxLength: 6 }), (secrets) => {
        const p = pod(secrets);
        const first = admit(review(p, 'first'), config);
        if (first.outcome === 'denied') return; // conflicting random requests are covered elsewhere
        const mutated = applied(p, resp(first)) as V1Pod;
        const second = resp(admit(review(mutated, 'second'), config));
        assert.equal(second.patch, undefined, 'a second pass must not patch');
        assert.equal(second.warnings, undefined, 'a second pass must not warn about our own env');
        const fetchers = mutated.spec!.initContainers!.filter((c) => c.name === 'fetcher');
        assert.equal(fetchers.length, 1);
        assert.equal(mutated.spec!.initContainers![0]!.name, 'fetcher');
        const planEnv = fetchers[0]!.env!.find((e) => e.name === 'DAP_PLAN')!.value!;
        assert.equal(validatePlan(JSON.parse(planEnv)).ok, true);
      }),
      { numRuns: 200 },
    );
  });
});

const dnsLabel = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/);
const dnsSubdomain = fc
  .array(dnsLabel, { minLength: 1, maxLength: 6 })
  .map((labels) => labels.join('.'))
  .filter((n) => n.length <= 253);

describe('malformed pod specs are left to the API server, never a 500', () => {
  it('treats containers: null (as Go serialises a nil slice) as no containers', () => {
    const p = pod([secret('t', 'ENV_VAR')]);
    (p.spec as unknown as { containers: null }).containers = null;
    assert.equal(admit(review(p), config).outcome, 'injected');
  });
});

describe('the per-pod Secret name', () => {
  it('is a DNS subdomain of at most 253 characters, also for long names and generateName', () => {
    fc.assert(
      fc.property(dnsSubdomain, fc.boolean(), fc.uuid(), (name, generate, uid) => {
        const p: V1Pod = { metadata: generate ? { generateName: `${name}-` } : { name } };
        const secretName = perPodSecretName(p, uid);
        assert.ok(isDnsSubdomain(secretName), secretName);
      }),
    );
  });

  it("names a pod's Secret after its name, or after its generateName cut where the API server cuts it (58), in a form of its own", () => {
    const long = `${'g'.repeat(57)}-${'h'.repeat(20)}-`;
    assert.match(perPodSecretName({ metadata: { name: 'wf-n0-0' } }, 'u'), /^wf-n0-0-flyte-secrets-[0-9a-f]{10}$/);
    assert.match(
      perPodSecretName({ metadata: { generateName: 'task-' } }, 'u'),
      /^task-flyte-secrets-gen-[0-9a-f]{10}$/,
    );
    // The API server names it g×57 + '-' + 5 random characters: the base is that name minus 5, minus the trailing '-'.
    assert.match(
      perPodSecretName({ metadata: { generateName: long } }, 'u'),
      new RegExp(`^${'g'.repeat(57)}-flyte-secrets-gen-[0-9a-f]{10}$`),
    );
    fc.assert(
      fc.property(dnsSubdomain, dnsSubdomain, fc.uuid(), fc.uuid(), (named, generated, a, b) => {
        const n = perPodSecretName({ metadata: { name: named } }, a);
        const g = perPodSecretName({ metadata: { generateName: generated } }, b);
        assert.ok(!/-flyte-secrets-gen-[0-9a-f]{10}$/.test(n), `named form read as generated: ${n}`);
        assert.ok(!/-flyte-secrets-[0-9a-f]{10}$/.test(g), `generated form read as named: ${g}`);
      }),
    );
  });

  it('differs per admission request, so pods created by generateName never share one', () => {
    const p: V1Pod = { metadata: { generateName: 'task-' } };
    assert.notEqual(perPodSecretName(p, 'uid-a'), perPodSecretName(p, 'uid-b'));
  });
});

describe('Secret data keys', () => {
  it('stay valid and unique when MLP names differ only in case or in characters a key cannot hold', () => {
    const p = pod([
      secret('Token', 'ENV_VAR', 'a'),
      secret('token', 'ENV_VAR', 'b'),
      secret('a b', 'ENV_VAR', 'c'),
      secret('a_b', 'ENV_VAR', 'd'),
      secret('a/b', 'ENV_VAR', 'e'),
      secret('..x', 'ENV_VAR', 'f'),
      secret('.', 'ENV_VAR', 'h'),
    ]);
    const outcome = injectSecrets({ pod: p, namespace: 'ns', nonce: 'n', config });
    assert.equal(outcome.kind, 'inject');
    const keys = (outcome as { plan: { secret: { keys: { mlpSecret: string; key: string }[] } } }).plan.secret.keys;
    assert.deepEqual(
      keys.map((k) => k.mlpSecret),
      ['Token', 'token', 'a b', 'a_b', 'a/b', '..x', '.'],
    );
    assert.equal(new Set(keys.map((k) => k.key)).size, 7);
    for (const k of keys) assert.ok(isSecretDataKey(k.key), k.key);
  });
});
