import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { CONFIG_VARS, loadConfig, parseQuantity } from '../../../webhook/config.js';

const minimal = { FETCHER_IMAGE: 'registry.example.com/dap-secret-fetcher:1', MLP_API_HOST: 'http://mlp:8080' };

describe('webhook config (env vars only)', () => {
  it('applies the documented defaults', () => {
    const r = loadConfig(minimal);
    assert.ok(r.ok);
    const { injection, registration, server } = r.config;
    assert.equal(injection.secretsDir, '/etc/flyte/secrets');
    assert.equal(injection.defaultMountType, 'FILE');
    assert.equal(injection.mlp.projectSource, 'namespace');
    assert.equal(injection.mlp.authMode, 'serviceaccount');
    assert.equal(injection.mlp.tokenAudience, 'api.caraml');
    assert.deepEqual(
      [
        injection.fetcher.cpuRequest,
        injection.fetcher.cpuLimit,
        injection.fetcher.memoryRequest,
        injection.fetcher.memoryLimit,
      ],
      ['50m', '1', '64Mi', '256Mi'],
    );
    assert.equal(registration.failurePolicy, 'Fail');
    assert.equal(registration.timeoutSeconds, 5);
    assert.equal(registration.serviceNamespace, 'default');
    assert.equal(registration.mutatePath, '/mutate');
    assert.deepEqual([server.port, server.healthPort], [8443, 8080]);
  });

  it('is documented in the README: one table row per variable with its default', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    for (const v of CONFIG_VARS) {
      const row = `| \`${v.name}\` | ${v.default === '' ? '' : `\`${v.default}\``} |`;
      assert.ok(readme.includes(row), `README.md lacks the row starting ${row}`);
    }
    assert.equal(new Set(CONFIG_VARS.map((v) => v.name)).size, CONFIG_VARS.length);
  });

  it('falls back from WEBHOOK_SERVICE_NAMESPACE to WEBHOOK_NAMESPACE to the pod namespace', () => {
    const a = loadConfig({ ...minimal, WEBHOOK_NAMESPACE: 'flyte' }, 'ignored');
    assert.ok(a.ok && a.config.registration.serviceNamespace === 'flyte');
    const b = loadConfig(minimal, 'dap-system\n');
    assert.ok(b.ok && b.config.registration.serviceNamespace === 'dap-system');
  });

  it('parses quantities as Kubernetes does and refuses a request above its limit', () => {
    assert.equal(parseQuantity('500m'), 0.5);
    assert.equal(parseQuantity('64Mi'), 64 * 2 ** 20);
    assert.equal(parseQuantity('1.5'), 1.5);
    assert.equal(parseQuantity('2e3'), 2000);
    for (const bad of ['1..5', '', 'lots', '1 Gi', '-1', '1mi', '.']) assert.equal(parseQuantity(bad), null, bad);
    const r = loadConfig({ ...minimal, FETCHER_CPU_REQUEST: '2', FETCHER_MEMORY_REQUEST: '1Gi' });
    assert.deepEqual((r as { problems: string[] }).problems, [
      'FETCHER_CPU_REQUEST=2 is more than FETCHER_CPU_LIMIT=1; Kubernetes refuses a request above its limit',
      'FETCHER_MEMORY_REQUEST=1Gi is more than FETCHER_MEMORY_LIMIT=256Mi; Kubernetes refuses a request above its limit',
    ]);
  });

  it('keeps credentials out of URLs that are copied into every pod spec, and wants an https issuer', () => {
    const r = loadConfig({
      ...minimal,
      MLP_API_HOST: 'http://user:pw@mlp:8080',
      MLP_AUTH_MODE: 'token-exchange',
      MLP_TOKEN_EXCHANGE_ISSUER: 'http://issuer.example',
    });
    assert.deepEqual((r as { problems: string[] }).problems, [
      'MLP_API_HOST must not contain a user name or password (it is copied into every pod spec)',
      'MLP_TOKEN_EXCHANGE_ISSUER="http://issuer.example" must be a https URL',
    ]);
  });

  it("refuses a secrets directory that would hide the image's system files", () => {
    for (const dir of ['/', '/etc', '/etc/', '/usr', '/tmp']) {
      const r = loadConfig({ ...minimal, FLYTE_SECRETS_DEFAULT_DIR: dir });
      assert.match((r as { problems: string[] }).problems[0] ?? '', /would hide the image's/, dir);
    }
    assert.ok(loadConfig({ ...minimal, FLYTE_SECRETS_DEFAULT_DIR: '/secrets' }).ok);
  });

  it('refuses an in-flight body budget smaller than one body, naming both settings', () => {
    const r = loadConfig({
      FETCHER_IMAGE: 'f:1',
      MLP_API_HOST: 'http://mlp',
      WEBHOOK_MAX_BODY_BYTES: '4096',
      WEBHOOK_MAX_INFLIGHT_BODY_BYTES: '2048',
    });
    assert.equal(r.ok, false);
    assert.deepEqual((r as { problems: string[] }).problems, [
      'WEBHOOK_MAX_INFLIGHT_BODY_BYTES=2048 is less than WEBHOOK_MAX_BODY_BYTES=4096: ' +
        'no request of the largest allowed size could ever be read; raise it or lower WEBHOOK_MAX_BODY_BYTES',
    ]);
  });

  it('reports one line per problem', () => {
    const r = loadConfig({
      MLP_API_HOST: 'ftp://mlp',
      DEFAULT_MOUNT_TYPE: 'ANY',
      MLP_AUTH_MODE: 'token-exchange',
      FETCHER_MEMORY_LIMIT: 'lots',
      WEBHOOK_TIMEOUT_SECONDS: '60',
      WEBHOOK_FAILURE_POLICY: 'fail',
      TLS_SERVER_CERT_FILE: '/tls/tls.crt',
      WEBHOOK_NAMESPACE_SELECTOR: '[1]',
      FLYTE_SECRETS_DEFAULT_DIR: 'etc/secrets',
      WEBHOOK_URL: 'http://insecure',
    });
    assert.equal(r.ok, false);
    assert.deepEqual((r as { problems: string[] }).problems, [
      'FETCHER_IMAGE is required but not set',
      'FETCHER_MEMORY_LIMIT="lots" is not a Kubernetes quantity (e.g. 100m, 64Mi)',
      'MLP_API_HOST="ftp://mlp" must be a http or https URL',
      'MLP_TOKEN_EXCHANGE_ISSUER is required when MLP_AUTH_MODE=token-exchange',
      'FLYTE_SECRETS_DEFAULT_DIR="etc/secrets" must be an absolute path without ".."',
      'DEFAULT_MOUNT_TYPE="ANY" must be one of FILE, ENV_VAR',
      'WEBHOOK_URL="http://insecure" must be a https URL',
      'WEBHOOK_FAILURE_POLICY="fail" must be one of Fail, Ignore',
      'WEBHOOK_TIMEOUT_SECONDS="60" must be a whole number from 1 to 30',
      'WEBHOOK_NAMESPACE_SELECTOR must be a JSON object (a Kubernetes label selector)',
      'TLS_SERVER_CERT_FILE and TLS_SERVER_KEY_FILE must be set together',
    ]);
  });
});
