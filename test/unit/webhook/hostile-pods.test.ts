/**
 * Review of issue 11's admission rules as an attacker and as a user whose pod must start:
 * fields of the wrong type reach the mutation (500s), unbounded echoes of user input, warnings
 * without a bound, mounts that stop a container from starting, env_var names that load code,
 * and pods the fetcher cannot run in. Pure, through admit().
 */
import { strict as assert } from 'node:assert';
import type { V1Pod } from '@kubernetes/client-node';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { admit, InvalidReviewError } from '../../../webhook/admission.js';
import { loadConfig } from '../../../webhook/config.js';
import type { FlyteSecret } from '../../../webhook/flyte/annotations.js';
import { reservedEnvVarProblem } from '../../../webhook/mutate/deliveries.js';
import { podReview } from '../../../webhook/render.js';
import { goldenConfig } from '../../support/goldens.js';
import { taskPod } from './task-pods.js';

const config = goldenConfig();
const secret = (
  key: string,
  mountRequirement: FlyteSecret['mountRequirement'],
  extra: Partial<FlyteSecret> = {},
): FlyteSecret => ({ group: 'g', groupVersion: '', key, mountRequirement, envVar: '', ...extra });

const pod = taskPod;
type Resp = { allowed: boolean; status?: { message: string }; warnings?: string[] };
const review = (p: unknown, uid = 'uid-1') => podReview(p as Record<string, unknown>, { uid });
const resp = (p: unknown) => admit(review(p), config).review.response as Resp;
const deniedMessage = (p: unknown): string => {
  const r = resp(p);
  assert.equal(r.allowed, false, 'expected a denial');
  return r.status!.message;
};
/** The admission request is refused as bad input (HTTP 400), never a crash (500). */
const invalid = (body: unknown, message: RegExp) =>
  assert.throws(
    () => admit(body, config),
    (e: unknown) => e instanceof InvalidReviewError && message.test(e.message),
  );

describe('hostile pods: wrong types are 400s, never a crash', () => {
  it('a fetcher init container whose image is not a string (the injected-marker check reads it)', () => {
    const p = pod([secret('k', 'FILE')]) as unknown as {
      metadata: V1Pod['metadata'];
      spec: { initContainers: unknown[] };
    };
    p.metadata!.annotations!['dap-secret-webhook.caraml.dev/injected'] = 'true';
    p.spec.initContainers = [{ name: 'fetcher', image: 5 }];
    invalid(review(p), /spec\.initContainers\[0\]\.image must be a string/);
  });

  it('a request namespace that is not a string (it becomes the MLP project)', () => {
    const r = review(pod([secret('k', 'FILE')])) as { request: Record<string, unknown> };
    r.request.namespace = 42;
    invalid(r, /request\.namespace must be a string/);
  });

  it('spec.os that is not an object', () => {
    const p = pod([secret('k', 'FILE')]) as unknown as { spec: Record<string, unknown> };
    p.spec.os = 'windows';
    invalid(review(p), /spec\.os must be an object/);
  });
});

describe('hostile pods: user input is echoed only up to a bound', () => {
  it('a pod name far beyond the 253 characters Kubernetes allows is cut in the denial message', () => {
    const p = pod([secret('k', 'FILE', { envVar: 'PATH' })], undefined, 'n'.repeat(100_000));
    const message = deniedMessage(p);
    assert.match(message, /^pod proj-dev\/n{64}… \(100000 characters\): /);
    assert.ok(message.length < 1000, `${message.length} characters`);
  });

  it('a valid long name (253 characters) is shown whole', () => {
    const name = 'a'.repeat(253);
    assert.match(
      deniedMessage(pod([secret('k', 'FILE', { envVar: 'PATH' })], undefined, name)),
      new RegExp(`^pod proj-dev/${name}: `),
    );
  });

  it('a request uid far longer than a UID (the response must echo it) is a 400', () => {
    const r = review(pod([secret('k', 'FILE')]), 'u'.repeat(100_000));
    assert.throws(
      () => admit(r, config),
      (e: unknown) =>
        e instanceof InvalidReviewError &&
        /request\.uid is 100000 characters long/.test(e.message) &&
        e.message.length < 400,
    );
    assert.equal(admit(review(pod([secret('k', 'FILE')]), 'u'.repeat(256)), config).outcome, 'injected');
  });

  it('a huge apiVersion is quoted only up to a bound in the 400', () => {
    assert.throws(
      () => admit({ apiVersion: 'x'.repeat(100_000), kind: 'AdmissionReview' }, config),
      (e: unknown) =>
        e instanceof InvalidReviewError && e.message.length < 400 && /\(100000 characters\)/.test(e.message),
    );
  });

  it('warnings are bounded: many collisions give a few warnings and a count of the rest', () => {
    // 32 containers that each already set all 3 env names of 64 secrets: 6,144 collisions.
    const secrets = Array.from({ length: 64 }, (_, i) =>
      secret(`key${i}`, 'ENV_VAR', { groupVersion: 'v', envVar: `E${i}` }),
    );
    const env = secrets
      .flatMap((_, i) => [`_FSEC_G_V_KEY${i}`, `_FSEC_G_KEY${i}`, `E${i}`])
      .map((name) => ({ name, value: 'mine' }));
    const containers = Array.from({ length: 32 }, (_, i) => ({ name: `c${i}`, env }));
    const result = admit(review(pod(secrets, containers)), config);
    const warnings = (result.review.response as Resp).warnings ?? [];
    assert.equal(result.warnings.length, 6144, 'every collision is still counted (logs)');
    assert.ok(warnings.length <= 21, `${warnings.length} warnings sent`);
    assert.match(warnings.at(-1)!, /^and 6124 more warnings like these$/);
    assert.match(warnings[0]!, /container "c0" already sets "_FSEC_G_V_KEY0"/);
  });
});

describe('hostile pods: a denial lists a bounded number of problems', () => {
  it('32 containers with 3 problems each: the first 10 problems and how many more', () => {
    const containers = Array.from({ length: 32 }, (_, i) => ({
      name: `c${i}`,
      env: [
        { name: 'FLYTE_SECRETS_DEFAULT_DIR', value: '/data' },
        { name: 'FLYTE_SECRETS_FILE_PREFIX', value: 'p' },
      ],
      volumeMounts: [
        { name: 'own', mountPath: '/data' },
        { name: 'below', mountPath: '/data/x' },
      ],
    }));
    const result = admit(review(pod([secret('cert', 'FILE')], containers)), config);
    assert.equal(result.denialReasons.length, 96, 'every problem is still counted (metrics)');
    const message = (result.review.response as Resp).status!.message;
    assert.match(message, /; and 86 more problems like these$/);
    assert.match(message, /container "c0" sets FLYTE_SECRETS_FILE_PREFIX="p"/);
    assert.ok(message.length < 4000, `${message.length} characters`);
  });
});

describe('hostile pods: admitted only if every container can start', () => {
  const fileSecret = secret('cert', 'FILE');
  it('a container that mounts another volume inside the secrets directory is denied (the read-only secrets volume has no mount point for it)', () => {
    const containers = [{ name: 'main', volumeMounts: [{ name: 'extra', mountPath: '/etc/flyte/secrets/extra' }] }];
    assert.match(
      deniedMessage(pod([fileSecret], containers)),
      /container "main" mounts the volume "extra" at "\/etc\/flyte\/secrets\/extra", inside "\/etc\/flyte\/secrets" where the secrets volume is mounted read-only/,
    );
  });

  it('its own FLYTE_SECRETS_DEFAULT_DIR above the ServiceAccount token mount is denied, naming both', () => {
    const containers = [
      {
        name: 'main',
        env: [{ name: 'FLYTE_SECRETS_DEFAULT_DIR', value: '/var/run/secrets' }],
        volumeMounts: [
          { name: 'kube-api-access-abcde', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
        ],
      },
    ];
    assert.match(
      deniedMessage(pod([fileSecret], containers)),
      /mounts the volume "kube-api-access-abcde" at "\/var\/run\/secrets\/kubernetes\.io\/serviceaccount", inside "\/var\/run\/secrets"/,
    );
  });

  it('mounts next to the secrets directory, or without FILE secrets, are fine', () => {
    const containers = [
      {
        name: 'main',
        volumeMounts: [
          { name: 'data', mountPath: '/etc/flyte/secrets-extra' },
          { name: 'cfg', mountPath: '/etc/flyte' },
        ],
      },
    ];
    assert.equal(admit(review(pod([fileSecret], containers)), config).outcome, 'injected');
    const below = [{ name: 'main', volumeMounts: [{ name: 'extra', mountPath: '/etc/flyte/secrets/extra' }] }];
    assert.equal(admit(review(pod([secret('t', 'ENV_VAR')], below)), config).outcome, 'injected');
  });

  it('a Windows pod is denied: the fetcher is a Linux container', () => {
    const p = pod([fileSecret]);
    p.spec!.os = { name: 'windows' };
    assert.match(
      deniedMessage(p),
      /spec\.os\.name is "windows", but the secret fetcher init container runs only on Linux/,
    );
    const bySelector = pod([fileSecret]);
    bySelector.spec!.nodeSelector = { 'kubernetes.io/os': 'windows' };
    assert.match(
      deniedMessage(bySelector),
      /nodeSelector kubernetes\.io\/os is "windows", but the secret fetcher init container runs only on Linux/,
    );
  });

  it('its own FLYTE_SECRETS_DEFAULT_DIR with a $(VAR) reference (the kubelet expands it) is denied as such', () => {
    for (const value of ['/$(BASE)/secrets', '$(HOME)/secrets']) {
      const containers = [{ name: 'main', env: [{ name: 'FLYTE_SECRETS_DEFAULT_DIR', value }] }];
      assert.match(
        deniedMessage(pod([fileSecret], containers)),
        /Kubernetes expands \$\(VAR\) references in env values/,
        value,
      );
    }
  });
});

describe('hostile pods: env_var names that make a runtime load code or options are refused', () => {
  for (const name of [
    'JDK_JAVA_OPTIONS',
    'OPENSSL_CONF',
    'OPENSSL_MODULES',
    'PERL5OPT',
    'PERL5LIB',
    'RUBYOPT',
    'RUBYLIB',
    'NODE_PATH',
    'GLIBC_TUNABLES',
    'BASH_FUNC_ls%%',
    'CLASSPATH',
  ]) {
    it(name, () => assert.ok(reservedEnvVarProblem(name), `${name} should be refused`));
  }
});

describe('config: FLYTE_SECRETS_DEFAULT_DIR spelled unusually still cannot hide a system directory', () => {
  for (const dir of ['/etc/.', '//etc', '/usr/./']) {
    it(dir, () => {
      const r = loadConfig({ FETCHER_IMAGE: 'f:1', MLP_API_HOST: 'http://mlp:8080', FLYTE_SECRETS_DEFAULT_DIR: dir });
      assert.match((r as { problems?: string[] }).problems?.[0] ?? 'accepted', /would hide the image's/);
    });
  }
});

describe('reinvocation after a later webhook pinned the fetcher image to a digest (Kyverno mutateDigest, k8s-digester)', () => {
  const digest = `sha256:${'ab'.repeat(32)}`;
  function injectedPod(): V1Pod {
    const p = pod([secret('t', 'ENV_VAR'), secret('c', 'FILE')]);
    const result = admit(review(p), config);
    const ops = JSON.parse(
      Buffer.from((result.review.response as { patch: string }).patch, 'base64').toString(),
    ) as Operation[];
    return fastJsonPatch.applyPatch(structuredClone(p), ops, true, false).newDocument;
  }
  const fetcherImage = config.fetcher.image; // registry.example.com/caraml/dap-secret-fetcher:0.1.0
  const repository = fetcherImage.slice(0, fetcherImage.lastIndexOf(':'));

  for (const pinned of [`${fetcherImage}@${digest}`, `${repository}@${digest}`]) {
    it(`${pinned.replace(digest, 'sha256:…')} is still ours: no denial, no patch`, () => {
      const p = injectedPod();
      p.spec!.initContainers![0]!.image = pinned;
      const result = admit(review(p, 'uid-2'), config);
      assert.equal(result.outcome, 'unchanged', (result.review.response as Resp).status?.message);
    });
  }

  for (const other of [
    `evil.example/fetcher@${digest}`,
    `${fetcherImage}@sha256:short`,
    `${repository}-evil@${digest}`,
    `${fetcherImage}x@${digest}`,
  ]) {
    it(`${other.replace(digest, 'sha256:…')} is not`, () => {
      const p = injectedPod();
      p.spec!.initContainers![0]!.image = other;
      assert.match(deniedMessage(p), /not this webhook's fetcher image/);
    });
  }
});
