import assert from 'node:assert/strict';
import { type Env, loadConfig, terminationLogPath } from '../../../fetcher/config.js';

const filePlan = {
  version: 1,
  project: 'ads',
  fileRoot: '/flyte-secrets',
  files: [{ mlpSecret: 'pw', path: 'db/pw' }],
  fileMode: 0o440,
  dirMode: 0o750,
  secret: null,
};
const envPlan = {
  ...filePlan,
  fileRoot: '',
  files: [],
  secret: { name: 'pod-secrets', keys: [{ mlpSecret: 'tok', key: 'tok' }] },
};

function env(overrides: Env = {}, plan: unknown = filePlan): Env {
  return {
    DAP_PLAN: JSON.stringify(plan),
    POD_NAME: 'wf-n0-0',
    POD_NAMESPACE: 'ads',
    POD_UID: '6f1b2a44-58f1-4a43-9d7a-0c6e2b9c1f10',
    POD_SERVICE_ACCOUNT: 'runner',
    MLP_API_HOST: 'http://mlp.caraml.svc:8080',
    ...overrides,
  };
}

function problems(e: Env): string[] {
  const result = loadConfig(e);
  assert.equal(result.ok, false);
  return result.ok ? [] : result.problems;
}

describe('fetcher/config', function () {
  it('applies the defaults', function () {
    const result = loadConfig(env());
    assert.ok(result.ok);
    const { config } = result;
    assert.deepEqual(config.auth, {
      mode: 'serviceaccount',
      tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/mlp/token',
    });
    assert.equal(config.mlpBaseUrl.href, 'http://mlp.caraml.svc:8080/');
    assert.equal(config.deadlineMs, 60_000);
    assert.equal(config.terminationLog, '/dev/termination-log');
    assert.equal(config.kube, null, 'no Kubernetes access needed without env-var secrets');
    assert.deepEqual(config.pod, {
      name: 'wf-n0-0',
      namespace: 'ads',
      uid: '6f1b2a44-58f1-4a43-9d7a-0c6e2b9c1f10',
      serviceAccount: 'runner',
    });
  });

  it('keeps a path prefix in MLP_API_HOST', function () {
    const result = loadConfig(env({ MLP_API_HOST: 'https://caraml.example.com/mlp?x=1' }));
    assert.ok(result.ok);
    assert.equal(new URL('v1/projects', result.config.mlpBaseUrl).href, 'https://caraml.example.com/mlp/v1/projects');
  });

  it('names every problem with its variable, all at once', function () {
    const found = problems(
      env({
        POD_UID: undefined,
        POD_NAME: 'Not_A_Name',
        MLP_API_HOST: 'mlp:8080',
        MLP_AUTH_MODE: 'kerberos',
        DAP_DEADLINE_SECONDS: 'soon',
      }),
    );
    assert.equal(found.length, 5, found.join('\n'));
    assert.match(
      found.join('\n'),
      /POD_UID is not set \(the webhook sets it from the downward API, fieldRef metadata\.uid\)/,
    );
    assert.match(found.join('\n'), /POD_NAME="Not_A_Name" is not a valid pod name/);
    assert.match(found.join('\n'), /MLP_API_HOST="mlp:8080" must start with http:\/\/ or https:\/\//);
    assert.match(
      found.join('\n'),
      /MLP_AUTH_MODE="kerberos" is not an auth mode; expected one of serviceaccount, token-exchange, gcp-workload-identity/,
    );
    assert.match(found.join('\n'), /DAP_DEADLINE_SECONDS="soon" must be a number of seconds/);
  });

  it('reports plan problems under DAP_PLAN and keeps the parsed plan when only the env is wrong', function () {
    assert.match(
      problems(env({}, { ...filePlan, files: [{ mlpSecret: 'x', path: '../x' }] })).join(),
      /DAP_PLAN: files\[0\]\.path "\.\.\/x" has a "\.\." segment/,
    );
    assert.match(problems(env({ DAP_PLAN: '{oops' })).join(), /DAP_PLAN is not valid JSON/);
    const result = loadConfig(env({ MLP_API_HOST: undefined }));
    assert.ok(!result.ok && result.plan?.project === 'ads');
  });

  it('needs the Kubernetes API only for env-var secrets', function () {
    assert.match(problems(env({}, envPlan)).join(), /neither DAP_KUBE_API_URL nor KUBERNETES_SERVICE_HOST is set/);
    const inCluster = loadConfig(env({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' }, envPlan));
    assert.ok(inCluster.ok);
    assert.equal(inCluster.config.kube?.apiUrl.href, 'https://[fd00::1]:6443/');
    assert.equal(inCluster.config.kube?.tokenFile, '/var/run/secrets/kubernetes.io/serviceaccount/kube/token');
    assert.equal(inCluster.config.kube?.caFile, '/var/run/secrets/kubernetes.io/serviceaccount/kube/ca.crt');
    const explicit = loadConfig(
      env({ DAP_KUBE_API_URL: 'https://127.0.0.1:6443', KUBERNETES_SERVICE_HOST: '10.0.0.1' }, envPlan),
    );
    assert.ok(explicit.ok);
    assert.equal(explicit.config.kube?.apiUrl.href, 'https://127.0.0.1:6443/');
  });

  it('token-exchange needs an https issuer; client settings are optional', function () {
    assert.match(problems(env({ MLP_AUTH_MODE: 'token-exchange' })).join(), /MLP_TOKEN_EXCHANGE_ISSUER is not set/);
    assert.match(
      problems(env({ MLP_AUTH_MODE: 'token-exchange', MLP_TOKEN_EXCHANGE_ISSUER: 'http://issuer' })).join(),
      /must be an https:\/\/ URL/,
    );
    const result = loadConfig(
      env({
        MLP_AUTH_MODE: 'token-exchange',
        MLP_TOKEN_EXCHANGE_ISSUER: 'https://issuer.example.com',
        MLP_TOKEN_EXCHANGE_SCOPE: 'mlp',
      }),
    );
    assert.ok(result.ok);
    assert.deepEqual(
      { ...result.config.auth, issuer: String((result.config.auth as { issuer: URL }).issuer) },
      {
        mode: 'token-exchange',
        tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/mlp/token',
        issuer: 'https://issuer.example.com/',
        audience: null,
        scope: 'mlp',
        clientCredentialsFile: null,
        clientId: 'dap-secret-fetcher',
      },
    );
  });

  it('gcp-workload-identity defaults to metadata.google.internal and audience api.caraml', function () {
    const result = loadConfig(env({ MLP_AUTH_MODE: 'gcp-workload-identity' }));
    assert.ok(result.ok);
    assert.deepEqual(result.config.auth, {
      mode: 'gcp-workload-identity',
      metadataHost: 'metadata.google.internal',
      audience: 'api.caraml',
    });
    assert.match(
      problems(env({ MLP_AUTH_MODE: 'gcp-workload-identity', GCE_METADATA_HOST: 'http://169.254.169.254' })).join(),
      /GCE_METADATA_HOST="http:\/\/169\.254\.169\.254" must be a host or host:port/,
    );
  });

  it('accepts fractional deadlines and refuses silly ones', function () {
    const result = loadConfig(env({ DAP_DEADLINE_SECONDS: '1.5' }));
    assert.ok(result.ok && result.config.deadlineMs === 1500);
    assert.match(problems(env({ DAP_DEADLINE_SECONDS: '0' })).join(), /above 0 and at most 3600/);
    assert.match(problems(env({ DAP_DEADLINE_SECONDS: '7200' })).join(), /above 0 and at most 3600/);
  });

  it('knows where the termination message goes even when nothing else is valid', function () {
    assert.equal(terminationLogPath({}), '/dev/termination-log');
    assert.equal(terminationLogPath({ DAP_TERMINATION_LOG: '/tmp/t' }), '/tmp/t');
  });
});
