/**
 * The admin's fetcher additions: a CA bundle for MLP behind a private CA (fetcher only), extra
 * env, and image pull secrets for a private fetcher image; their bounds and error lines.
 */
import { strict as assert } from 'node:assert';
import type { V1Pod } from '@kubernetes/client-node';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { IDENTITY_MOUNT_PATH } from '../../../contract/fetcher-env.js';
import { admit } from '../../../webhook/admission.js';
import { type InjectionConfig, loadConfig } from '../../../webhook/config.js';
import { encodeSecretAnnotation } from '../../../webhook/flyte/annotations.js';
import { injectSecrets } from '../../../webhook/mutate/inject.js';
import { podReview } from '../../../webhook/render.js';

const base = { FETCHER_IMAGE: 'registry.internal/dap-secret-fetcher:1', MLP_API_HOST: 'https://mlp.internal' };
const problems = (env: Record<string, string>) => {
  const r = loadConfig({ ...base, ...env });
  return r.ok ? [] : r.problems;
};
const configWith = (env: Record<string, string>): InjectionConfig => {
  const r = loadConfig({ ...base, ...env });
  if (!r.ok) throw new Error(r.problems.join('; '));
  return r.config.injection;
};

function flytePod(mount: 'FILE' | 'ENV_VAR', extra: Partial<V1Pod['spec']> = {}): V1Pod {
  const annotation = encodeSecretAnnotation({
    group: 'g',
    groupVersion: '',
    key: 'k',
    mountRequirement: mount,
    envVar: '',
  });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'task',
      namespace: 'team',
      labels: { 'inject-flyte-secrets': 'true' },
      annotations: { 'flyte.secrets/s0': annotation },
    },
    spec: { containers: [{ name: 'main', image: 'python:3.11' }], ...extra },
  };
}

function inject(pod: V1Pod, config: InjectionConfig): V1Pod {
  const outcome = injectSecrets({ pod, namespace: 'team', nonce: 'n', config });
  assert.equal(outcome.kind, 'inject');
  return (outcome as { pod: V1Pod }).pod;
}

describe('fetcher admin settings: private CA, extra env, pull secrets', () => {
  it('a CA ConfigMap is projected into the fetcher-only identity volume and named by NODE_EXTRA_CA_CERTS; task containers get neither', () => {
    for (const authMode of ['serviceaccount', 'gcp-workload-identity'] as const) {
      const pod = inject(
        flytePod('FILE'),
        configWith({ FETCHER_CA_CONFIGMAP: 'mlp-ca', FETCHER_CA_CONFIGMAP_KEY: 'bundle.pem', MLP_AUTH_MODE: authMode }),
      );
      const fetcher = pod.spec!.initContainers!.find((c) => c.name === 'fetcher')!;
      const caEnv = fetcher.env!.find((e) => e.name === 'NODE_EXTRA_CA_CERTS');
      assert.equal(caEnv?.value, `${IDENTITY_MOUNT_PATH}/tls/ca-bundle.crt`, authMode);
      const identity = pod.spec!.volumes!.find((v) => v.name === 'dap-fetcher-identity');
      assert.deepEqual(
        identity?.projected?.sources?.find((s) => s.configMap?.name === 'mlp-ca')?.configMap,
        { name: 'mlp-ca', items: [{ key: 'bundle.pem', path: 'tls/ca-bundle.crt' }] },
        authMode,
      );
      assert.ok(
        fetcher.volumeMounts!.some(
          (m) => m.name === 'dap-fetcher-identity' && m.mountPath === IDENTITY_MOUNT_PATH && m.readOnly,
        ),
        authMode,
      );
      const main = pod.spec!.containers[0]!;
      assert.ok(
        !(main.env ?? []).some((e) => e.name === 'NODE_EXTRA_CA_CERTS'),
        'the task container does not get the CA env',
      );
      assert.ok(!(main.volumeMounts ?? []).some((m) => m.name === 'dap-fetcher-identity'), 'nor the identity volume');
    }
  });

  it('without a CA ConfigMap nothing is added', () => {
    const pod = inject(flytePod('FILE'), configWith({}));
    const fetcher = pod.spec!.initContainers!.find((c) => c.name === 'fetcher')!;
    assert.ok(!fetcher.env!.some((e) => e.name === 'NODE_EXTRA_CA_CERTS'));
    assert.ok(!JSON.stringify(pod.spec!.volumes).includes('ca-bundle'));
    assert.equal(pod.spec!.imagePullSecrets, undefined);
  });

  it("extra env goes to the fetcher only, after the webhook's own env, in the given order", () => {
    const pod = inject(
      flytePod('ENV_VAR'),
      configWith({
        FETCHER_EXTRA_ENV: JSON.stringify({
          HTTPS_PROXY: 'http://proxy:3128',
          NODE_USE_ENV_PROXY: '1',
          NO_PROXY: '10.0.0.1',
        }),
      }),
    );
    const fetcher = pod.spec!.initContainers!.find((c) => c.name === 'fetcher')!;
    assert.deepEqual(fetcher.env!.slice(-3), [
      { name: 'HTTPS_PROXY', value: 'http://proxy:3128' },
      { name: 'NODE_USE_ENV_PROXY', value: '1' },
      { name: 'NO_PROXY', value: '10.0.0.1' },
    ]);
    assert.ok(!(pod.spec!.containers[0]!.env ?? []).some((e) => e.name === 'HTTPS_PROXY'));
  });

  it("pull secrets are added to the pod once, after the pod's own, and the input pod is not modified", () => {
    const input = flytePod('FILE', { imagePullSecrets: [{ name: 'team-registry' }, { name: 'fetcher-registry' }] });
    const before = structuredClone(input);
    const pod = inject(
      input,
      configWith({ FETCHER_IMAGE_PULL_SECRETS: 'fetcher-registry, mirror-registry,mirror-registry' }),
    );
    assert.deepEqual(pod.spec!.imagePullSecrets, [
      { name: 'team-registry' },
      { name: 'fetcher-registry' },
      { name: 'mirror-registry' },
    ]);
    assert.deepEqual(input, before);
    assert.deepEqual(inject(flytePod('FILE'), configWith({ FETCHER_IMAGE_PULL_SECRETS: 'r' })).spec!.imagePullSecrets, [
      { name: 'r' },
    ]);
  });

  it("the admission response's patch carries the pull secrets (the API server stores only what the patch says)", () => {
    const config = configWith({ FETCHER_IMAGE_PULL_SECRETS: 'fetcher-registry' });
    for (const spec of [{}, { imagePullSecrets: [{ name: 'team-registry' }] }]) {
      const pod = flytePod('FILE', spec);
      const result = admit(podReview(pod as Record<string, unknown>, { uid: 'u1' }), config);
      const ops = JSON.parse(
        Buffer.from((result.review.response as { patch: string }).patch, 'base64').toString('utf8'),
      ) as Operation[];
      const patched = fastJsonPatch.applyPatch(structuredClone(pod), ops, true, false).newDocument;
      assert.deepEqual(patched.spec!.imagePullSecrets, [
        ...(spec.imagePullSecrets ?? []),
        { name: 'fetcher-registry' },
      ]);
    }
  });

  it('a reinvocation adds no second copy of the pull secrets', () => {
    const config = configWith({ FETCHER_IMAGE_PULL_SECRETS: 'r' });
    const once = inject(flytePod('FILE'), config);
    const twice = inject(once, config);
    assert.deepEqual(twice.spec!.imagePullSecrets, [{ name: 'r' }]);
  });

  it('refuses bad values, one line each, naming the variable and the fix', () => {
    assert.match(
      problems({ FETCHER_CA_CONFIGMAP: 'Not_A_Name' }).join('\n'),
      /FETCHER_CA_CONFIGMAP="Not_A_Name" is not a valid ConfigMap name/,
    );
    assert.match(
      problems({ FETCHER_CA_CONFIGMAP_KEY: '../ca' }).join('\n'),
      /FETCHER_CA_CONFIGMAP_KEY="\.\.\/ca" is not a valid ConfigMap key/,
    );
    assert.match(problems({ FETCHER_EXTRA_ENV: '[1]' }).join('\n'), /FETCHER_EXTRA_ENV must be a JSON object/);
    assert.match(problems({ FETCHER_EXTRA_ENV: '{"1X":"a"}' }).join('\n'), /"1X" is not an env var name/);
    assert.match(problems({ FETCHER_EXTRA_ENV: '{"X":1}' }).join('\n'), /the value of X must be a string/);
    assert.match(
      problems({ FETCHER_EXTRA_ENV: '{"NODE_EXTRA_CA_CERTS":"/x"}' }).join('\n'),
      /NODE_EXTRA_CA_CERTS is set by the webhook itself; use FETCHER_CA_CONFIGMAP/,
    );
    assert.match(
      problems({ FETCHER_EXTRA_ENV: '{"MLP_API_HOST":"http://evil"}' }).join('\n'),
      /MLP_API_HOST is set by the webhook itself/,
    );
    assert.match(
      problems({ FETCHER_IMAGE_PULL_SECRETS: 'ok,Bad Name' }).join('\n'),
      /FETCHER_IMAGE_PULL_SECRETS: "Bad Name" is not a valid Secret name/,
    );
  });

  it('bounds what is copied into every pod: 32 env vars, 16 KiB, 16 pull secrets', () => {
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`V${i}`, 'x']));
    assert.match(problems({ FETCHER_EXTRA_ENV: JSON.stringify(many) }).join('\n'), /has 33 variables; at most 32/);
    assert.deepEqual(
      problems({ FETCHER_EXTRA_ENV: JSON.stringify(Object.fromEntries(Object.entries(many).slice(0, 32))) }),
      [],
    );
    assert.match(
      problems({ FETCHER_EXTRA_ENV: JSON.stringify({ BIG: 'x'.repeat(17_000) }) }).join('\n'),
      /bytes; at most 16384/,
    );
    const secrets = Array.from({ length: 17 }, (_, i) => `s${i}`);
    assert.match(
      problems({ FETCHER_IMAGE_PULL_SECRETS: secrets.join(',') }).join('\n'),
      /names 17 Secrets; at most 16/,
    );
    assert.deepEqual(problems({ FETCHER_IMAGE_PULL_SECRETS: secrets.slice(0, 16).join(',') }), []);
  });
});
