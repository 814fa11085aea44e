/**
 * The CaraML-like gateway in front of the real MLP: tokens are checked, the identity comes from
 * the token, access comes from the project's readers/administrators as MLP stores them, and MLP
 * sees the identity as `User-Email`.
 */
import assert from 'node:assert/strict';
import { createJwtIssuer, type JwtIssuer, serviceAccountClaims } from '../../support/oidc/jwt-issuer.js';
import { type RealMlpGateway, startRealMlpGateway } from '../../support/real-mlp/gateway.js';
import { type MlpProject, type RealMlp, startRealMlp } from '../../support/real-mlp/index.js';

const START_TIMEOUT_MS = 20 * 60 * 1000;
const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const AUDIENCE = 'api.caraml';
const BOB = 'bob@example.com';
const ALICE = 'alice@example.com';
const SA_NAMESPACE = 'ads-ranking';
const SA_IDENTITY = `system:serviceaccount:${SA_NAMESPACE}:flyte-task`;

describe('gateway in front of the real MLP', function () {
  let mlp: RealMlp;
  let gateway: RealMlpGateway;
  let cluster: JwtIssuer;
  let ads: MlpProject;
  let adsRanking: MlpProject;

  const bearer = (claims: Parameters<JwtIssuer['sign']>[0], issuer = cluster) => issuer.sign(claims);
  const emailToken = (email: string) => bearer({ sub: `user-${email}`, email, aud: AUDIENCE });
  const call = async (path: string, token?: string, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    if (token) headers.set('Authorization', `Bearer ${token}`);
    const res = await fetch(`${gateway.url}${path}`, { ...init, headers, signal: AbortSignal.timeout(10_000) });
    const body = await res.text();
    return { status: res.status, body, json: () => JSON.parse(body) as unknown };
  };

  before(async function () {
    this.timeout(START_TIMEOUT_MS);
    cluster = await createJwtIssuer(ISSUER);
    mlp = await startRealMlp();
    gateway = await startRealMlpGateway(mlp, { jwks: cluster.jwks, issuer: ISSUER, audience: AUDIENCE });
    ({ project: ads } = await mlp.seedProject({
      name: 'ads',
      readers: [BOB],
      administrators: [ALICE],
      secrets: { 'db-password': 'ads-db-value' },
    }));
    ({ project: adsRanking } = await mlp.seedProject({
      name: 'ads-ranking',
      readers: [SA_IDENTITY],
      secrets: { 'db-password': 'ranking-db-value' },
    }));
  });

  after(async function () {
    this.timeout(30_000);
    await gateway?.close();
    await mlp?.stop();
  });

  it("lets a reader (email claim) list projects by prefix and read the exact project's secrets in plaintext", async function () {
    const projects = await call('/v1/projects?name=ads', await emailToken(BOB));
    assert.equal(projects.status, 200);
    const exact = (projects.json() as MlpProject[]).find((p) => p.name === 'ads');
    assert.equal(exact?.id, ads.id);
    const secrets = await call(`/v1/projects/${ads.id}/secrets`, await emailToken(BOB));
    assert.equal(secrets.status, 200);
    assert.deepEqual(
      (secrets.json() as Array<{ name: string; data: string }>).map((s) => [s.name, s.data]),
      [['db-password', 'ads-db-value']],
    );
  });

  it('lets an administrator read', async function () {
    assert.equal((await call(`/v1/projects/${ads.id}/secrets`, await emailToken(ALICE))).status, 200);
  });

  it("takes a service-account token's `sub` as the identity (it has no email)", async function () {
    const token = await bearer(serviceAccountClaims(SA_NAMESPACE, 'flyte-task', AUDIENCE));
    const secrets = await call(`/v1/projects/${adsRanking.id}/secrets`, token);
    assert.equal(secrets.status, 200);
    assert.deepEqual(
      (secrets.json() as Array<{ data: string }>).map((s) => s.data),
      ['ranking-db-value'],
    );
    assert.equal(gateway.decisions.at(-1)?.identity, SA_IDENTITY);
  });

  it('refuses an identity that is neither reader nor administrator with 403, without any secret in the body', async function () {
    const token = await bearer(serviceAccountClaims(SA_NAMESPACE, 'flyte-task', AUDIENCE));
    const answer = await call(`/v1/projects/${ads.id}/secrets`, token);
    assert.equal(answer.status, 403);
    assert.deepEqual(answer.json(), {
      error: {
        code: 403,
        status: 'Forbidden',
        message: 'Access credentials are not sufficient to access this resource',
      },
    });
    assert.doesNotMatch(answer.body, /ads-db-value/);
    assert.equal(gateway.decisions.at(-1)?.outcome, 'forbidden');
  });

  it('refuses a missing, foreign, wrong-audience or expired token with 401', async function () {
    const stranger = await createJwtIssuer(ISSUER); // same issuer name, key the gateway does not trust
    const tokens = {
      none: undefined,
      foreign: await bearer({ sub: BOB, email: BOB, aud: AUDIENCE }, stranger),
      audience: await bearer({ sub: BOB, email: BOB, aud: 'someone-else' }),
      expired: await cluster.sign({ sub: BOB, email: BOB, aud: AUDIENCE }, { expiresInSeconds: -60 }),
    };
    for (const [kind, token] of Object.entries(tokens)) {
      const answer = await call(`/v1/projects/${ads.id}/secrets`, token);
      assert.equal(answer.status, 401, `${kind} token`);
      // Oathkeeper's shape, not MLP's flat {"error": "..."} (see contract.md §5 for MLP's own 401).
      assert.deepEqual(
        answer.json(),
        { error: { code: 401, status: 'Unauthorized', message: 'Access credentials are invalid' } },
        `${kind} token`,
      );
    }
  });

  it('passes MLP\'s own 404 {"error": ...} for an unknown project id', async function () {
    const answer = await call('/v1/projects/999999/secrets', await emailToken(BOB));
    assert.equal(answer.status, 404);
    assert.deepEqual(answer.json(), { error: 'project with ID 999999 not found' });
  });

  it("serves MLP's health checks without a token", async function () {
    assert.equal((await call('/v1/internal/ready')).status, 200);
  });

  it("forwards the token's identity as User-Email and drops the one the client sent", async function () {
    // MLP adds the requester (User-Email) to a new project's administrators: that shows what it saw.
    const answer = await call('/v1/projects', await emailToken('carol@example.com'), {
      method: 'POST',
      headers: { 'User-Email': 'mallory@example.com', 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'carols-project', team: 't', stream: 's' }),
    });
    assert.equal(answer.status, 201, answer.body);
    assert.deepEqual((answer.json() as MlpProject).administrators, ['carol@example.com']);
  });

  it('reads the access lists from MLP on every request: adding a reader takes effect at once', async function () {
    const project = await mlp.createProject({ name: 'late-readers' });
    const token = await emailToken(BOB);
    assert.equal((await call(`/v1/projects/${project.id}/secrets`, token)).status, 403);
    await mlp.client.updateProject(project.id, { readers: [BOB] });
    assert.equal((await call(`/v1/projects/${project.id}/secrets`, token)).status, 200);
  });
});
