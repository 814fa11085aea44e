/**
 * The log never carries what a pod holds: no annotation value, no decoded secret field, no env
 * value; every admission still gets exactly one summary line. Driven through every outcome and
 * every kind of bad input, over both protocols, with pino's output captured.
 */
import assert from 'node:assert/strict';
import { encodeSecretAnnotation } from '../../../webhook/flyte/annotations.js';
import { admissionReview, flytePod, PROTOCOLS, post, secret, startTestServer, type TestServer } from './support.js';

// Distinctive strings: none of them may show up in any log line.
const FILE_SECRET = secret({
  group: 'grp-kx93q',
  key: 'key-vb27w',
  mountRequirement: 'FILE',
  envVar: 'EXTRA_FILE_PATH_QP55',
});
const ENV_SECRET = secret({
  group: 'grp-hh21r',
  key: 'key-ne81t',
  mountRequirement: 'ENV_VAR',
  envVar: 'EXTRA_VALUE_ZX70',
});
const UNDELIVERABLE = secret({ group: '../grp-esc4p', key: 'key-ud66s', mountRequirement: 'FILE' });
const POD_ENV: Record<string, string> = {
  DB_PASSWORD: 'hunter2-lm44-pod-env-value',
  '_FSEC_GRP-HH21R_KEY-NE81T': 'collide-value-ww11',
};
const GARBAGE_ANNOTATION = 'zzzz-not-base32-secret-tt00';

const forbidden = [
  ...[FILE_SECRET, ENV_SECRET, UNDELIVERABLE].map((s) => encodeSecretAnnotation(s)),
  'grp-kx93q',
  'key-vb27w',
  'EXTRA_FILE_PATH_QP55',
  'grp-hh21r',
  'key-ne81t',
  'EXTRA_VALUE_ZX70',
  'grp-esc4p',
  'key-ud66s',
  ...Object.values(POD_ENV),
  GARBAGE_ANNOTATION,
];

describe('webhook server: logs hold no secret annotation values and no pod env values', function () {
  let server: TestServer;
  before(async function () {
    server = await startTestServer();
  });
  after(async function () {
    await server?.stop();
  });

  it('logs one summary line per admission and nothing from the pod', async function () {
    const send = (protocol: (typeof PROTOCOLS)[number], body: string, extra: { contentType?: string } = {}) =>
      post(protocol, { port: server.running.port, ca: server.ca, body, ...extra });
    const reviews = {
      injected: admissionReview(flytePod({ secrets: [FILE_SECRET, ENV_SECRET], env: POD_ENV }), {
        uid: 'log-injected',
      }),
      undeliverable: admissionReview(flytePod({ secrets: [UNDELIVERABLE], env: POD_ENV }), {
        uid: 'log-undeliverable',
      }),
      malformed: admissionReview(flytePod({ annotations: { 'flyte.secrets/s0': GARBAGE_ANNOTATION }, env: POD_ENV }), {
        uid: 'log-malformed',
      }),
      unlabelled: admissionReview(flytePod({ labelled: false, secrets: [FILE_SECRET], env: POD_ENV }), {
        uid: 'log-unlabelled',
      }),
    };
    const full = JSON.stringify(reviews.injected);
    for (const protocol of PROTOCOLS) {
      const statuses = [
        (await send(protocol, JSON.stringify(reviews.injected))).status,
        (await send(protocol, JSON.stringify(reviews.undeliverable))).status,
        (await send(protocol, JSON.stringify(reviews.malformed))).status,
        (await send(protocol, JSON.stringify(reviews.unlabelled))).status,
        // Bad input that still carries the pod: not JSON, not an AdmissionReview, wrong type, too large.
        (await send(protocol, full.slice(0, -7))).status,
        (await send(protocol, JSON.stringify({ ...reviews.injected, apiVersion: 'admission.k8s.io/v1beta1' }))).status,
        (await send(protocol, full, { contentType: 'text/plain' })).status,
        (await send(protocol, JSON.stringify({ ...reviews.injected, pad: 'x'.repeat(70 * 1024) }))).status,
      ];
      assert.deepEqual(statuses, [200, 200, 200, 200, 400, 400, 415, 413]);
    }

    const text = server.log.text();
    for (const value of forbidden) assert.ok(!text.includes(value), `the log contains ${JSON.stringify(value)}`);
    assert.ok(
      !text.includes('"spec"') && !text.includes('initContainers') && !text.includes('annotations'),
      'no pod spec in the log',
    );

    const admissions = server.log.lines.filter((l) => l.msg === 'admission');
    assert.equal(admissions.length, 8, 'one line per admitted review (4 per protocol)');
    const byOutcome = (outcome: string) => admissions.filter((l) => l.outcome === outcome);
    assert.equal(byOutcome('injected').length, 2);
    assert.equal(byOutcome('denied').length, 4);
    assert.equal(byOutcome('unchanged').length, 2);
    for (const line of byOutcome('injected')) {
      assert.equal(line.pod, 'ml-team/a7xk2-n0-0');
      assert.equal(line.dryRun, false);
      assert.equal(line.warnings, 1, 'the colliding env var is a warning, counted');
      assert.deepEqual(line.secrets, { FILE: 1, ENV_VAR: 1 });
      assert.equal(typeof line.durationMs, 'number');
    }
    assert.deepEqual(
      new Set(byOutcome('denied').flatMap((l) => l.denialReasons as string[])),
      new Set(['undeliverable-secret', 'malformed-annotation']),
    );
    assert.equal(server.log.lines.filter((l) => l.msg === 'admission request rejected').length, 8);
  });
});
