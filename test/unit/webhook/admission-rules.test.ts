/**
 * Issue 11's admission rules, through admit() (pure, in-process): absent and empty env values,
 * caps and the decode memo, env_var hijack names, containers with their own flytekit settings,
 * group_version found both ways, the injected marker, and a property test over random pods
 * within the caps (behaviour only; time and memory are bench rows).
 */
import { strict as assert } from 'node:assert';
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { admit } from '../../../webhook/admission.js';
import { type InjectionConfig, loadConfig } from '../../../webhook/config.js';
import {
  encodeSecretAnnotation,
  type FlyteSecret,
  MEMO_MAX_BYTES,
  memoBytes,
} from '../../../webhook/flyte/annotations.js';
import { reservedEnvVarProblem } from '../../../webhook/mutate/deliveries.js';
import { podReview } from '../../../webhook/render.js';
import { allowed, denied, patched } from '../../../webhook/responses.js';
import { GOLDEN_ENV, goldenConfig } from '../../support/goldens.js';
import { type Resp, resp, taskPod } from './task-pods.js';

const config = goldenConfig();
const configWith = (env: Record<string, string>): InjectionConfig => {
  const loaded = loadConfig({ ...GOLDEN_ENV, ...env });
  if (!loaded.ok) throw new Error(loaded.problems.join('; '));
  return loaded.config.injection;
};
const secret = (
  key: string,
  mountRequirement: FlyteSecret['mountRequirement'],
  group = 'g',
  extra: Partial<FlyteSecret> = {},
): FlyteSecret => ({ group, groupVersion: '', key, mountRequirement, envVar: '', ...extra });

const pod = taskPod;

const run = (p: V1Pod, c: InjectionConfig = config, uid = 'uid-1') =>
  admit(podReview(p as Record<string, unknown>, { uid }), c);
const applied = (original: V1Pod, r: Resp): V1Pod =>
  r.patch
    ? (fastJsonPatch.applyPatch(
        structuredClone(original),
        JSON.parse(Buffer.from(r.patch, 'base64').toString()) as Operation[],
        true,
        false,
      ).newDocument as V1Pod)
    : original;
const injected = (p: V1Pod, c: InjectionConfig = config): V1Pod => {
  const result = run(p, c);
  assert.equal(result.outcome, 'injected', resp(result).status?.message);
  return applied(p, resp(result));
};
const deniedMessage = (p: V1Pod, c: InjectionConfig = config): string => {
  const r = resp(run(p, c));
  assert.equal(r.allowed, false, 'expected a denial');
  return r.status!.message;
};
const envOf = (c: V1Container) => new Map((c.env ?? []).map((e) => [e.name, e]));

/** What the API server does to a stored pod before it sends it again: `value: ""` is dropped. */
function asStored(p: V1Pod): V1Pod {
  const copy = structuredClone(p);
  for (const c of [...(copy.spec?.initContainers ?? []), ...(copy.spec?.containers ?? [])])
    for (const e of c.env ?? []) if (e.value === '') delete e.value;
  return copy;
}

describe('named admission responses', () => {
  it('allowed, denied and patched have the AdmissionReview v1 shape and nothing else', () => {
    assert.deepEqual(allowed('u'), {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: 'u', allowed: true },
    });
    assert.deepEqual(allowed('u', ['w']).response, { uid: 'u', allowed: true, warnings: ['w'] });
    assert.deepEqual(denied('u', 'no').response, {
      uid: 'u',
      allowed: false,
      status: { code: 400, reason: 'BadRequest', message: 'no' },
    });
    const ops: Operation[] = [{ op: 'add', path: '/a', value: 1 }];
    assert.deepEqual(patched('u', ops, ['w']).response, {
      uid: 'u',
      allowed: true,
      patchType: 'JSONPatch',
      patch: Buffer.from(JSON.stringify(ops)).toString('base64'),
      warnings: ['w'],
    });
    assert.deepEqual(patched('u', []), allowed('u'), 'an empty patch is no patch');
  });
});

describe('absent and empty env values are the same (the API server drops value: "")', () => {
  it('a stored FILE pod sent again (reinvocation) gets no patch and no warning', () => {
    const mutated = injected(pod([secret('cert', 'FILE'), secret('token', 'ENV_VAR')]));
    const again = resp(run(asStored(mutated), config, 'uid-2'));
    assert.equal(again.patch, undefined);
    assert.equal(again.warnings, undefined);
  });
});

describe('caps (WEBHOOK_MAX_*) and the decode memo', () => {
  it('denies past each cap with its name and the fix; at the cap it injects', () => {
    const small = configWith({
      WEBHOOK_MAX_SECRETS_PER_POD: '3',
      WEBHOOK_MAX_WIRED_CONTAINERS: '2',
      WEBHOOK_MAX_PATCH_BYTES: '65536',
    });
    const three = [0, 1, 2].map((i) => secret(`k${i}`, 'ENV_VAR'));
    injected(pod(three, [{ name: 'a' }, { name: 'b' }]), small);
    assert.match(
      deniedMessage(pod([...three, secret('k3', 'ENV_VAR')]), small),
      /requests 4 secrets .*WEBHOOK_MAX_SECRETS_PER_POD=3/,
    );
    assert.match(
      deniedMessage(pod(three, [{ name: 'a' }, { name: 'b' }, { name: 'c' }]), small),
      /3 containers to wire .*WEBHOOK_MAX_WIRED_CONTAINERS=2/,
    );
    // Within the other caps, a patch over its own cap: 2 containers × 3 secrets × ~60 KiB env_var paths.
    const long = [0, 1, 2].map((i) => secret(`k${i}`, 'FILE', 'g', { envVar: `E${i}`, groupVersion: 'v'.repeat(200) }));
    const bigPatch = configWith({
      WEBHOOK_MAX_PATCH_BYTES: '65536',
      WEBHOOK_MAX_SECRETS_PER_POD: '200',
      WEBHOOK_MAX_WIRED_CONTAINERS: '500',
    });
    const many = Array.from({ length: 150 }, (_, i) => ({ name: `c${i}` }));
    assert.match(deniedMessage(pod(long, many), bigPatch), /-byte patch, more than WEBHOOK_MAX_PATCH_BYTES=65536/);
  });

  it('denies an annotation key longer than Kubernetes allows, quoting only its start', () => {
    const p = pod([secret('k', 'FILE')]);
    p.metadata!.annotations![`flyte.secrets/s${'9'.repeat(5000)}`] = encodeSecretAnnotation(secret('j', 'FILE'));
    const message = deniedMessage(p);
    assert.match(message, /is longer than Kubernetes allows \(317 characters/);
    assert.ok(message.length < 400, message);
  });

  it('denied pods do not fill the memo, and admitted ones fill it only up to its byte bound', () => {
    const before = memoBytes();
    for (let i = 0; i < 50; i++) {
      const p = pod([secret(`big-${i}-${'x'.repeat(1000)}`, 'FILE', 'g', { envVar: 'PATH' })]); // denied: env_var PATH
      assert.equal(run(p).outcome, 'denied');
    }
    assert.equal(memoBytes(), before, 'a denied pod left decoded annotations behind');
    for (let i = 0; i < 400; i++)
      assert.equal(run(pod([secret(`admitted-${i}-${'y'.repeat(900)}`, 'ENV_VAR')])).outcome, 'injected');
    assert.ok(memoBytes() <= MEMO_MAX_BYTES, `memo holds ${memoBytes()} bytes`);
    assert.ok(memoBytes() > MEMO_MAX_BYTES / 2, 'admitted pods are remembered');
  });
});

describe('env_var targets that would take over the process are denied with a reason', () => {
  const refused = [
    'LD_PRELOAD',
    'ld_library_path',
    'PATH',
    'Path',
    'PYTHONPATH',
    'PYTHONSTARTUP',
    'HOME',
    'KUBERNETES_SERVICE_HOST',
    'DAP_PLAN',
    'MLP_API_HOST',
    '_FSEC_X',
    '_fsec_x',
    '_FsEc_G_K',
    'NODE_OPTIONS',
    'https_proxy',
    'SSL_CERT_FILE',
    'FLYTE_INTERNAL_EXECUTION_ID',
    'BASH_ENV',
  ];
  for (const name of refused) {
    it(name, () => {
      assert.ok(reservedEnvVarProblem(name), `${name} should be refused`);
      assert.match(
        deniedMessage(pod([secret('k', 'ENV_VAR', 'g', { envVar: name })])),
        new RegExp(`env_var "${name}" .*; choose another env var name`),
      );
    });
  }
  it('ordinary names stay allowed', () => {
    for (const name of ['OPENAI_API_KEY', 'DB_PASSWORD', 'MY_PATH', 'HOMEPAGE_TOKEN', 'LDAP_PASSWORD'])
      assert.equal(reservedEnvVarProblem(name), null, name);
  });
});

describe('a container with its own FLYTE_SECRETS_* settings: secrets where it looks, or a denial', () => {
  const fileSecret = secret('cert', 'FILE', 'tls', { envVar: 'CERT_PATH' });
  const withEnv = (env: V1Container['env'], extra: Partial<V1Container> = {}): V1Container[] => [
    { name: 'own', env, ...extra },
    { name: 'plain' },
  ];

  it('its own FLYTE_SECRETS_DEFAULT_DIR: the volume is mounted there, env_var paths point there, no warning', () => {
    const result = run(pod([fileSecret], withEnv([{ name: 'FLYTE_SECRETS_DEFAULT_DIR', value: '/custom/secrets/' }])));
    assert.equal(resp(result).warnings, undefined);
    const [own, plain] = applied(
      pod([fileSecret], withEnv([{ name: 'FLYTE_SECRETS_DEFAULT_DIR', value: '/custom/secrets/' }])),
      resp(result),
    ).spec!.containers;
    assert.deepEqual(own!.volumeMounts, [{ name: 'dap-flyte-secrets', mountPath: '/custom/secrets', readOnly: true }]);
    assert.equal(envOf(own!).get('CERT_PATH')!.value, '/custom/secrets/tls/cert');
    assert.equal(envOf(own!).get('FLYTE_SECRETS_DEFAULT_DIR')!.value, '/custom/secrets/', 'its own value is kept');
    assert.equal(plain!.volumeMounts![0]!.mountPath, '/etc/flyte/secrets');
    assert.equal(envOf(plain!).get('CERT_PATH')!.value, '/etc/flyte/secrets/tls/cert');
  });

  it("an empty (or absent) value is flytekit's default, /etc/secrets", () => {
    for (const env of [[{ name: 'FLYTE_SECRETS_DEFAULT_DIR', value: '' }], [{ name: 'FLYTE_SECRETS_DEFAULT_DIR' }]]) {
      const own = injected(pod([fileSecret], withEnv(env))).spec!.containers[0]!;
      assert.equal(own.volumeMounts![0]!.mountPath, '/etc/secrets');
    }
  });

  const refusals: [string, V1Container[], RegExp][] = [
    [
      'valueFrom',
      withEnv([{ name: 'FLYTE_SECRETS_DEFAULT_DIR', valueFrom: { configMapKeyRef: { name: 'c', key: 'k' } } }]),
      /takes FLYTE_SECRETS_DEFAULT_DIR from valueFrom/,
    ],
    ['a relative path', withEnv([{ name: 'FLYTE_SECRETS_DEFAULT_DIR', value: 'secrets' }]), /relative path/],
    [
      'a system directory',
      withEnv([{ name: 'FLYTE_SECRETS_DEFAULT_DIR', value: '/etc' }]),
      /would hide the image's \/etc/,
    ],
    [
      'another volume mounted where it looks',
      withEnv([], { volumeMounts: [{ name: 'mine', mountPath: '/etc/flyte/secrets' }] }),
      /already mounts the volume "mine" at "\/etc\/flyte\/secrets"/,
    ],
    [
      'a FILE prefix',
      withEnv([{ name: 'FLYTE_SECRETS_FILE_PREFIX', value: 'sec_' }]),
      /FLYTE_SECRETS_FILE_PREFIX="sec_"/,
    ],
  ];
  for (const [what, containers, message] of refusals) {
    it(`denies ${what}`, () => assert.match(deniedMessage(pod([fileSecret], containers)), message));
  }

  it('denies another FLYTE_SECRETS_ENV_PREFIX only when ENV_VAR secrets are requested', () => {
    const containers = withEnv([{ name: 'FLYTE_SECRETS_ENV_PREFIX', value: 'MY_' }]);
    assert.match(
      deniedMessage(pod([secret('t', 'ENV_VAR')], containers)),
      /FLYTE_SECRETS_ENV_PREFIX="MY_": flytekit would look for ENV_VAR secrets as "MY_<GROUP>_<KEY>"/,
    );
    injected(pod([fileSecret], containers));
  });
});

describe('group_version: get(group, key, group_version=...) and get(group, key) both work where unambiguous', () => {
  it('ENV_VAR and FILE secrets get both names', () => {
    const mutated = injected(
      pod([
        secret('token', 'ENV_VAR', 'vault', { groupVersion: 'kv2' }),
        secret('cert', 'FILE', 'tls', { groupVersion: 'v1' }),
      ]),
    );
    const env = envOf(mutated.spec!.containers[0]!);
    assert.deepEqual(env.get('_FSEC_VAULT_TOKEN')!.valueFrom, env.get('_FSEC_VAULT_KV2_TOKEN')!.valueFrom);
    const plan = JSON.parse(envOf(mutated.spec!.initContainers![0]!).get('DAP_PLAN')!.value!) as {
      files: { mlpSecret: string; path: string }[];
    };
    assert.deepEqual(plan.files, [
      { mlpSecret: 'cert', path: 'tls/v1/cert' },
      { mlpSecret: 'cert', path: 'tls/cert' },
    ]);
  });

  it('a request without group_version owns the plain name', () => {
    const mutated = injected(
      pod([secret('token', 'ENV_VAR', 'vault', { groupVersion: 'kv2' }), secret('token', 'ENV_VAR', 'vault')]),
    );
    assert.equal(envOf(mutated.spec!.containers[0]!).get('_FSEC_VAULT_TOKEN')!.valueFrom!.secretKeyRef!.key, 'token');
  });

  it('two different MLP secrets that would share the plain name: neither gets it, and a warning says so', () => {
    const result = run(
      pod([
        secret('Token', 'FILE', 'vault', { groupVersion: 'a' }),
        secret('token', 'FILE', 'vault', { groupVersion: 'b' }),
      ]),
    );
    assert.equal(result.outcome, 'injected');
    assert.match(
      resp(result).warnings!.join('\n'),
      /differ only in group_version, so get\(\) without group_version finds neither; pass group_version/,
    );
    const mutated = injected(
      pod([
        secret('Token', 'FILE', 'vault', { groupVersion: 'a' }),
        secret('token', 'FILE', 'vault', { groupVersion: 'b' }),
      ]),
    );
    const files = (
      JSON.parse(envOf(mutated.spec!.initContainers![0]!).get('DAP_PLAN')!.value!) as { files: { path: string }[] }
    ).files.map((f) => f.path);
    assert.deepEqual(files, ['vault/a/token', 'vault/b/token']);
  });

  it("no plain-name file where it would be another file's directory", () => {
    // group "a" gv "b" key "c" → alias a/c; key "c" gv... and a request whose file is a/c/d makes a/c a directory.
    const mutated = injected(
      pod([secret('c', 'FILE', 'a', { groupVersion: 'b' }), secret('d', 'FILE', 'a', { groupVersion: 'c' })]),
    );
    const files = (
      JSON.parse(envOf(mutated.spec!.initContainers![0]!).get('DAP_PLAN')!.value!) as { files: { path: string }[] }
    ).files.map((f) => f.path);
    assert.deepEqual(files, ['a/b/c', 'a/c/d', 'a/d']);
  });
});

describe('the injected marker vouches only for what is ours', () => {
  const base = () => injected(pod([secret('t', 'ENV_VAR'), secret('c', 'FILE')]));
  const cases: [string, (p: V1Pod) => void, RegExp][] = [
    [
      'another fetcher image',
      (p) => (p.spec!.initContainers![0]!.image = 'evil.example/fetcher:1'),
      /runs "evil\.example\/fetcher:1", not this webhook's fetcher image/,
    ],
    [
      "a plan that is not this pod's",
      (p) => (envOf(p.spec!.initContainers![0]!).get('DAP_PLAN')!.value = '{"version":1}'),
      /DAP_PLAN is not the plan for this pod's secret annotations/,
    ],
    [
      'a Secret name not made for this pod',
      (p) => (p.metadata!.annotations!['dap-secret-webhook.caraml.dev/secret-name'] = 'someone-elses-secret'),
      /"someone-elses-secret" was not made for this pod/,
    ],
    ['a copy under another name', (p) => (p.metadata!.name = 'copied-pod'), /was not made for this pod/],
  ];
  for (const [what, edit, message] of cases) {
    it(`denies ${what} as a stale injection`, () => {
      const p = base();
      edit(p);
      const m = deniedMessage(p);
      assert.match(m, message);
      assert.match(m, /remove the dap-secret-webhook\.caraml\.dev\/injected .* and create it again/);
    });
  }

  it('trusts the real thing (reinvocation of the same pod), also when a later webhook added an fsGroup', () => {
    assert.equal(run(asStored(base()), config, 'another-request').outcome, 'unchanged');
    const withFsGroup = asStored(base());
    withFsGroup.spec!.securityContext = { fsGroup: 2000 };
    assert.equal(run(withFsGroup, config, 'another-request').outcome, 'unchanged');
  });
});

describe('property: random pods within the caps', () => {
  const arbSecret = fc.record({
    group: fc.constantFrom('', 'g', 'My-Group', 'db.creds', 'a'),
    groupVersion: fc.constantFrom('', 'v2', 'B'),
    key: fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/),
    mountRequirement: fc.constantFrom('ANY', 'ENV_VAR', 'FILE'),
    envVar: fc.constantFrom('', 'EXTRA_ONE', 'EXTRA_TWO', 'PATH'),
  }) as fc.Arbitrary<FlyteSecret>;
  const arbEnv = fc.array(
    fc.record({
      name: fc.constantFrom(
        'FLYTE_SECRETS_DEFAULT_DIR',
        'FLYTE_SECRETS_FILE_PREFIX',
        'FLYTE_SECRETS_ENV_PREFIX',
        'OTHER',
        '_FSEC_G_K',
      ),
      value: fc.constantFrom('', '/custom/dir', '/etc', 'x', '_FSEC_'),
    }),
    { maxLength: 3 },
  );
  const arbContainer = (i: number) =>
    fc.record({ env: arbEnv, mount: fc.constantFrom(undefined, '/etc/flyte/secrets', '/data') }).map(
      ({ env, mount }): V1Container => ({
        name: `c${i}`,
        env,
        ...(mount ? { volumeMounts: [{ name: `v${i}`, mountPath: mount }] } : {}),
      }),
    );
  const caps = configWith({ WEBHOOK_MAX_SECRETS_PER_POD: '8', WEBHOOK_MAX_WIRED_CONTAINERS: '4' });

  it('never throws; denies with a reason or injects a pod that a second pass (as the API server re-sends it) leaves alone; every container is wired where it looks', () => {
    fc.assert(
      fc.property(
        fc.array(arbSecret, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 4 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => arbContainer(i)))),
        (secrets, containers) => {
          const p = pod(secrets, containers);
          const first = run(p, caps, 'first');
          if (first.outcome === 'denied') {
            assert.ok(first.denialReasons.length > 0);
            assert.match(resp(first).status!.message, /^pod proj-dev\/task-pod: /);
            return;
          }
          assert.equal(first.outcome, 'injected');
          const mutated = applied(p, resp(first));
          const second = resp(run(asStored(mutated), caps, 'second'));
          assert.equal(second.allowed, true);
          assert.equal(second.patch, undefined, 'a second pass must not patch');
          assert.deepEqual(
            second.warnings ?? [],
            resp(first).warnings ?? [],
            'a second pass warns only about what the first did',
          );
          const plan = JSON.parse(envOf(mutated.spec!.initContainers![0]!).get('DAP_PLAN')!.value!) as {
            files: unknown[];
          };
          if (plan.files.length > 0) {
            for (const c of mutated.spec!.containers) {
              const own = envOf(c).get('FLYTE_SECRETS_DEFAULT_DIR')?.value;
              const dir = own === undefined ? '/etc/flyte/secrets' : own === '' ? '/etc/secrets' : own;
              assert.ok(
                c.volumeMounts?.some((m) => m.name === 'dap-flyte-secrets' && m.mountPath === dir),
                `${c.name} sees the files at ${dir}`,
              );
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
