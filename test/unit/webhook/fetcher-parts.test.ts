import { strict as assert } from 'node:assert';
import type { Plan } from '../../../contract/plan.js';
import { type InjectionConfig, loadConfig } from '../../../webhook/config.js';
import { fetcherContainer, fetcherVolumes } from '../../../webhook/mutate/fetcher-parts.js';

const base = { FETCHER_IMAGE: 'f:1', MLP_API_HOST: 'http://mlp:8080' };
const configWith = (env: Record<string, string>): InjectionConfig => {
  const r = loadConfig({ ...base, ...env });
  if (!r.ok) throw new Error(r.problems.join('; '));
  return r.config.injection;
};
const filesOnly: Plan = {
  version: 1,
  project: 'p',
  fileRoot: '/flyte-secrets',
  files: [{ mlpSecret: 'a', path: 'g/a' }],
  fileMode: 0o444,
  dirMode: 0o755,
  secret: null,
};
const envOnly: Plan = {
  ...filesOnly,
  fileRoot: '',
  files: [],
  secret: { name: 's', keys: [{ mlpSecret: 'a', key: 'a' }] },
};
const envNames = (plan: Plan, config: InjectionConfig) => fetcherContainer(plan, config).env!.map((e) => e.name);
const sources = (plan: Plan, config: InjectionConfig) =>
  fetcherVolumes(plan, config).find((v) => v.projected)?.projected?.sources ?? [];

describe('fetcher init container per auth mode', () => {
  it('serviceaccount: projects a token for the MLP audience, and an API token + CA only when a Secret must be created', () => {
    const config = configWith({ MLP_TOKEN_AUDIENCE: 'mlp.example' });
    assert.deepEqual(
      sources(filesOnly, config).map(
        (s) => s.serviceAccountToken?.audience ?? s.serviceAccountToken?.path ?? s.configMap?.name,
      ),
      ['mlp.example'],
    );
    assert.deepEqual(
      sources(envOnly, config).map((s) => s.serviceAccountToken?.path ?? s.configMap?.name),
      ['mlp/token', 'kube/token', 'kube-root-ca.crt'],
    );
    assert.ok(envNames(envOnly, config).includes('DAP_KUBE_TOKEN_FILE'));
    assert.ok(!envNames(filesOnly, config).includes('DAP_KUBE_TOKEN_FILE'));
  });

  it('token-exchange: passes issuer, audience, scope, client id, and mounts the client credentials Secret only for the fetcher', () => {
    const config = configWith({
      MLP_AUTH_MODE: 'token-exchange',
      MLP_TOKEN_EXCHANGE_ISSUER: 'https://issuer.example',
      MLP_TOKEN_EXCHANGE_AUDIENCE: 'mlp',
      MLP_TOKEN_EXCHANGE_SCOPE: 'openid email',
      MLP_TOKEN_EXCHANGE_CLIENT_ID: 'fetcher',
      MLP_TOKEN_EXCHANGE_CLIENT_SECRET_NAME: 'exchange-client',
    });
    const env = Object.fromEntries(fetcherContainer(filesOnly, config).env!.map((e) => [e.name, e.value]));
    assert.equal(env.MLP_TOKEN_EXCHANGE_ISSUER, 'https://issuer.example');
    assert.equal(env.MLP_TOKEN_EXCHANGE_AUDIENCE, 'mlp');
    assert.equal(env.MLP_TOKEN_EXCHANGE_SCOPE, 'openid email');
    assert.equal(env.MLP_TOKEN_EXCHANGE_CLIENT_ID, 'fetcher');
    assert.equal(
      env.MLP_TOKEN_EXCHANGE_CLIENT_CREDENTIALS_FILE,
      '/var/run/secrets/kubernetes.io/serviceaccount/exchange/client-credentials.json',
    );
    assert.ok(sources(filesOnly, config).some((s) => s.secret?.name === 'exchange-client'));
  });

  it('gcp-workload-identity: no service-account token for MLP (the metadata server answers)', () => {
    const config = configWith({ MLP_AUTH_MODE: 'gcp-workload-identity' });
    assert.ok(!envNames(filesOnly, config).includes('MLP_TOKEN_FILE'));
    // Still an identity volume (the namespace only): it occupies the ServiceAccount plugin's path.
    assert.deepEqual(sources(filesOnly, config), [
      {
        downwardAPI: {
          items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
        },
      },
    ]);
  });

  it('mounts its identity volume where the ServiceAccount plugin would mount the API token, in every auth mode', () => {
    for (const mode of ['serviceaccount', 'token-exchange', 'gcp-workload-identity']) {
      const config = configWith({ MLP_AUTH_MODE: mode, MLP_TOKEN_EXCHANGE_ISSUER: 'https://issuer.example' });
      const mounts = fetcherContainer(filesOnly, config).volumeMounts!;
      // The plugin compares the path exactly (plugin/pkg/admission/serviceaccount: DefaultAPITokenMountPath).
      assert.ok(
        mounts.some(
          (m) =>
            m.mountPath === '/var/run/secrets/kubernetes.io/serviceaccount' &&
            m.name === 'dap-fetcher-identity' &&
            m.readOnly,
        ),
        mode,
      );
    }
  });

  it('runs restricted: non-root fixed uid, no privilege escalation, no capabilities, read-only root, RuntimeDefault seccomp, requests and limits', () => {
    const c = fetcherContainer(filesOnly, configWith({ FETCHER_RUN_AS_USER: '10001' }));
    assert.deepEqual(c.securityContext, {
      runAsNonRoot: true,
      runAsUser: 10001,
      runAsGroup: 10001,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    assert.ok(c.resources?.requests?.cpu && c.resources.limits?.memory);
    assert.equal(c.terminationMessagePolicy, 'FallbackToLogsOnError');
  });
});

describe('fetcher byte caps', () => {
  it('are passed to the fetcher only when an admin changed them (pods stay as they were otherwise)', () => {
    assert.ok(!envNames(filesOnly, configWith({})).some((n) => n.startsWith('DAP_MAX_')));
    const env = Object.fromEntries(
      fetcherContainer(
        filesOnly,
        configWith({ FETCHER_MAX_SECRET_BYTES: '2097152', FETCHER_MAX_PROJECTS_BYTES: '4194304' }),
      ).env!.map((e) => [e.name, e.value]),
    );
    assert.equal(env.DAP_MAX_SECRET_BYTES, '2097152');
    assert.equal(env.DAP_MAX_PROJECTS_BYTES, undefined, 'the default is not repeated');
  });

  it('refuses a cap outside 1 KiB – 1 GiB', () => {
    const r = loadConfig({ ...base, FETCHER_MAX_SECRETS_BYTES: '12' });
    assert.ok(!r.ok && r.problems.some((p) => p.startsWith('FETCHER_MAX_SECRETS_BYTES')), JSON.stringify(r));
  });
});
