/**
 * The MLP peer the fetcher tests rely on — the stand-in behind the Oathkeeper-like gateway — is
 * itself checked here against contract §5 and the behaviour test/integration/real-mlp records for
 * the real server, so a test that passes against it means something.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGateway, likePrefix, type MlpPeer, startMlp } from '../../support/mlp/index.js';
import { createJwtIssuer, type JwtIssuer, serviceAccountClaims } from '../../support/oidc/jwt-issuer.js';

describe('test peer: MLP stand-in behind the gateway', function () {
  let issuer: JwtIssuer;
  let mlp: MlpPeer;
  let reader: string;

  before(async function () {
    issuer = await createJwtIssuer('https://kubernetes.default.svc');
    mlp = await startMlp({ jwks: issuer.jwks, issuer: issuer.issuer, audience: 'api.caraml' });
    mlp.data.addProject({
      name: 'ads',
      readers: ['system:serviceaccount:ads:runner'],
      secrets: { token: 'ads-token-value' },
    });
    mlp.data.addProject({
      name: 'ads-ranking',
      administrators: ['alice@example.com'],
      secrets: { token: 'ranking-value' },
    });
    mlp.data.addProject({ name: 'empty' });
    reader = await issuer.sign(serviceAccountClaims('ads', 'runner', 'api.caraml'));
  });

  after(async function () {
    await mlp.close();
  });

  async function get(path: string, token?: string, headers: Record<string, string> = {}) {
    const res = await fetch(`${mlp.url}${path}`, {
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type') ?? '', text, json: () => JSON.parse(text) };
  }

  it("matches project names like SQL LIKE 'name%' (prefix, `_` and `%` wildcards, case-sensitive)", async function () {
    assert.deepEqual(
      (await get('/v1/projects?name=ads', reader)).json().map((p: { name: string }) => p.name),
      ['ads', 'ads-ranking'],
    );
    assert.deepEqual(
      (await get('/v1/projects?name=a_s-', reader)).json().map((p: { name: string }) => p.name),
      ['ads-ranking'],
    );
    assert.deepEqual((await get('/v1/projects?name=ADS', reader)).json(), []);
    assert.ok(likePrefix('a%g').test('ads-ranking'));
  });

  it('returns plaintext secrets with project_id and an embedded secret_storage', async function () {
    const ads = mlp.data.projects.find((p) => p.name === 'ads');
    const answer = await get(`/v1/projects/${ads?.id}/secrets`, reader);
    assert.equal(answer.status, 200);
    const [secret] = answer.json();
    assert.deepEqual(Object.keys(secret).sort(), [
      'created_at',
      'data',
      'id',
      'name',
      'project_id',
      'secret_storage',
      'secret_storage_id',
      'updated_at',
    ]);
    assert.equal(secret.data, 'ads-token-value');
    assert.equal(secret.secret_storage.id, secret.secret_storage_id);
  });

  it('answers like MLP for unknown ids and routes', async function () {
    const all = await issuer.sign({ sub: 'alice', email: 'alice@example.com', aud: 'api.caraml' });
    const unknown = await get('/v1/projects/999/secrets', all);
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.json(), { error: 'project with ID 999 not found' });
    const notNumeric = await get('/v1/projects/abc/secrets', all);
    assert.equal(notNumeric.status, 404);
    assert.match(notNumeric.type, /^text\/plain/);
  });

  it('gateway: 401 without a valid token, 403 for a non-reader, health checks public', async function () {
    const ranking = mlp.data.projects.find((p) => p.name === 'ads-ranking');
    assert.equal((await get('/v1/projects?name=ads')).status, 401);
    const wrongAudience = await issuer.sign(serviceAccountClaims('ads', 'runner', 'kubernetes'));
    const rejected = await get('/v1/projects?name=ads', wrongAudience);
    assert.equal(rejected.status, 401);
    assert.deepEqual(rejected.json().error.code, 401);
    const forbidden = await get(`/v1/projects/${ranking?.id}/secrets`, reader);
    assert.equal(forbidden.status, 403);
    assert.equal(forbidden.json().error.status, 'Forbidden');
    assert.equal((await get('/v1/internal/ready')).status, 200);
    assert.deepEqual(mlp.decisions.filter((d) => d.outcome === 'forbidden').at(-1), {
      method: 'GET',
      path: `/v1/projects/${ranking?.id}/secrets`,
      projectId: ranking?.id,
      identity: 'system:serviceaccount:ads:runner',
      outcome: 'forbidden',
    });
  });

  it("gateway: forwards the token's identity as User-Email (email claim first) and drops a client-sent one", async function () {
    const seen: (string | undefined)[] = [];
    const upstream = createServer((req, res) => {
      seen.push(req.headers['user-email'] as string | undefined);
      res.end('[]');
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const gatewayServer = createServer(
      createGateway({
        jwks: issuer.jwks,
        issuer: issuer.issuer,
        audience: 'api.caraml',
        authorize: () => true,
        upstream: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      }),
    );
    await new Promise<void>((resolve) => gatewayServer.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(gatewayServer.address() as AddressInfo).port}/v1/projects`;
      const withEmail = await issuer.sign({ sub: '1234', email: 'bob@example.com', aud: 'api.caraml' });
      await (
        await fetch(url, { headers: { authorization: `Bearer ${withEmail}`, 'user-email': 'admin@example.com' } })
      ).text();
      await (await fetch(url, { headers: { authorization: `Bearer ${reader}` } })).text();
      assert.deepEqual(seen, ['bob@example.com', 'system:serviceaccount:ads:runner']);
    } finally {
      gatewayServer.closeAllConnections();
      upstream.closeAllConnections();
      await new Promise((resolve) => gatewayServer.close(resolve));
      await new Promise((resolve) => upstream.close(resolve));
    }
  });

  it('fault knobs: a queued reset comes first, then 429 + Retry-After, then 5xx', async function () {
    mlp.faults.failNext(1, 502).rateLimitNext(1, '7').resetNext(1);
    await assert.rejects(fetch(`${mlp.url}/v1/internal/live`), /fetch failed/);
    const limited = await fetch(`${mlp.url}/v1/internal/live`);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '7');
    assert.equal((await fetch(`${mlp.url}/v1/internal/live`)).status, 502);
    assert.equal((await fetch(`${mlp.url}/v1/internal/live`)).status, 200);
    assert.deepEqual(
      mlp.faults.requests.slice(-4).map((r) => r.fault),
      ['reset', 'rate-limited', 'failed', null],
    );
  });
});
