/**
 * What the real CaraML MLP API server (pinned release, own migrations, `internal` secret storage)
 * does with the calls the fetcher makes — the facts contract.md §5 states, checked against MLP
 * itself. The gateway in front of it is tested in gateway.test.ts.
 */
import assert from 'node:assert/strict';
import { describeSocket, isLoopback, listeningSockets } from '../../e2e/harness/sockets.js';
import {
  MlpApiError,
  type MlpProject,
  type RealMlp,
  SEEDER_EMAIL,
  startRealMlp,
} from '../../support/real-mlp/index.js';

/** Cold provisioning may build MLP first (about a minute); a warm start takes a second or two. */
const START_TIMEOUT_MS = 20 * 60 * 1000;

interface Answer {
  status: number;
  contentType: string | null;
  body: string;
  json(): unknown;
}

describe('real MLP API server (contract.md §5)', function () {
  let mlp: RealMlp;
  let ads: MlpProject;
  let adsRanking: MlpProject;

  const get = async (path: string, identity = 'bob@example.com'): Promise<Answer> => {
    const res = await fetch(`${mlp.url}${path}`, {
      headers: { 'User-Email': identity },
      signal: AbortSignal.timeout(10_000),
    });
    const body = await res.text();
    return { status: res.status, contentType: res.headers.get('content-type'), body, json: () => JSON.parse(body) };
  };

  before(async function () {
    this.timeout(START_TIMEOUT_MS);
    mlp = await startRealMlp();
    // One project's name is a prefix of the other's: the fetcher must pick the exact one.
    ({ project: ads } = await mlp.seedProject({
      name: 'ads',
      readers: ['bob@example.com'],
      administrators: ['alice@example.com'],
      secrets: { 'db-password': 'ads-db-value', 'api-token': 'ads-token-value' },
    }));
    ({ project: adsRanking } = await mlp.seedProject({
      name: 'ads-ranking',
      secrets: { 'db-password': 'ranking-db-value' },
    }));
  });

  after(async function () {
    this.timeout(30_000);
    if (this.currentTest?.state === 'failed') console.error(mlp?.logTails());
    await mlp?.stop();
  });

  it('listens on loopback only (MLP, patched by mlp.sh), and PostgreSQL on no TCP socket at all (Unix socket only)', async function () {
    // What the kernel says the running processes listen on, not the config they were given.
    const mlpSockets = await listeningSockets(mlp.processes.mlp.pid);
    assert.deepEqual(
      mlpSockets.map((s) => s.port),
      [Number(new URL(mlp.url).port)],
      'MLP listens on its one port',
    );
    assert.deepEqual(mlpSockets.filter((s) => !isLoopback(s)).map(describeSocket), [], 'MLP listens beyond loopback');
    assert.deepEqual(
      (await listeningSockets(mlp.processes.postgres.pid)).map(describeSocket),
      [],
      'PostgreSQL listens on TCP',
    );
  });

  describe('GET /v1/projects?name=', function () {
    it('matches by prefix: "ads" also returns "ads-ranking"', async function () {
      const answer = await get('/v1/projects?name=ads');
      assert.equal(answer.status, 200);
      const names = (answer.json() as MlpProject[]).map((p) => p.name).sort();
      assert.deepEqual(names, ['ads', 'ads-ranking']);
    });

    it('returns only the longer name for its own prefix', async function () {
      const names = ((await get('/v1/projects?name=ads-r')).json() as MlpProject[]).map((p) => p.name);
      assert.deepEqual(names, ['ads-ranking']);
    });

    it('answers an empty array (not null) when nothing matches', async function () {
      const answer = await get('/v1/projects?name=nothing-like-this');
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.json(), []);
    });

    it('is case-sensitive', async function () {
      assert.deepEqual((await get('/v1/projects?name=ADS')).json(), []);
    });

    it('passes SQL LIKE wildcards through: "_" and "%" in the name match any character', async function () {
      // MLP builds `name LIKE '<name>%'` without escaping, so the client must compare names exactly.
      const underscore = ((await get('/v1/projects?name=ad_')).json() as MlpProject[]).map((p) => p.name).sort();
      assert.deepEqual(underscore, ['ads', 'ads-ranking']);
      const percent = ((await get(`/v1/projects?name=${encodeURIComponent('a%king')}`)).json() as MlpProject[]).map(
        (p) => p.name,
      );
      assert.deepEqual(percent, ['ads-ranking']);
    });

    it('returns the access lists, with the creator added to administrators', async function () {
      const [found] = ((await get('/v1/projects?name=ads')).json() as MlpProject[]).filter((p) => p.name === 'ads');
      assert.ok(found);
      assert.equal(found.id, ads.id);
      assert.deepEqual(found.readers, ['bob@example.com']);
      assert.deepEqual(found.administrators, ['alice@example.com', SEEDER_EMAIL]);
      // readers absent at creation come back as null, not [].
      const ranking = (await get(`/v1/projects/${adsRanking.id}`)).json() as MlpProject;
      assert.equal(ranking.readers, null);
      assert.deepEqual(ranking.administrators, [SEEDER_EMAIL]);
    });
  });

  describe('GET /v1/projects/{id}/secrets', function () {
    it("lists only that project's secrets, values in plaintext, with project_id and secret_storage", async function () {
      const answer = await get(`/v1/projects/${ads.id}/secrets`);
      assert.equal(answer.status, 200);
      assert.match(answer.contentType ?? '', /^application\/json/);
      const secrets = answer.json() as Array<Record<string, unknown>>;
      assert.deepEqual(secrets.map((s) => [s.name, s.data]).sort(), [
        ['api-token', 'ads-token-value'],
        ['db-password', 'ads-db-value'],
      ]);
      for (const s of secrets) {
        assert.equal(s.project_id, ads.id);
        assert.equal(typeof s.id, 'number');
        assert.equal(typeof s.secret_storage_id, 'number');
        assert.deepEqual(Object.keys(s).sort(), [
          'created_at',
          'data',
          'id',
          'name',
          'project_id',
          'secret_storage',
          'secret_storage_id',
          'updated_at',
        ]);
        const storage = s.secret_storage as Record<string, unknown>;
        assert.equal(storage.id, s.secret_storage_id);
        assert.equal(storage.type, 'internal');
        assert.equal(storage.scope, 'global');
        assert.equal(storage.name, 'internal');
      }
      const ranking = (await get(`/v1/projects/${adsRanking.id}/secrets`)).json() as Array<{
        name: string;
        data: string;
      }>;
      assert.deepEqual(
        ranking.map((s) => [s.name, s.data]),
        [['db-password', 'ranking-db-value']],
      );
    });

    it('answers [] for a project without secrets', async function () {
      const empty = await mlp.createProject({ name: 'no-secrets' });
      const answer = await get(`/v1/projects/${empty.id}/secrets`);
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.json(), []);
    });

    it('answers 404 {"error": ...} for an unknown project id', async function () {
      const answer = await get('/v1/projects/999999/secrets');
      assert.equal(answer.status, 404);
      assert.match(answer.contentType ?? '', /^application\/json/);
      assert.deepEqual(answer.json(), { error: 'project with ID 999999 not found' });
    });

    it("answers a plain-text 404 (the router's, not MLP's JSON) for a non-numeric project id", async function () {
      const answer = await get('/v1/projects/ads/secrets');
      assert.equal(answer.status, 404);
      assert.match(answer.contentType ?? '', /^text\/plain/);
      assert.equal(answer.body.trim(), '404 page not found');
    });
  });

  describe('GET /v1/projects/{id}', function () {
    it('answers 404 {"error": ...} for an unknown id', async function () {
      const answer = await get('/v1/projects/999999');
      assert.equal(answer.status, 404);
      assert.deepEqual(answer.json(), { error: 'project with ID 999999 not found' });
    });
  });

  describe('seeding errors', function () {
    it('refuses a second project with the same name with 400 (the spec says 409)', async function () {
      await assert.rejects(mlp.createProject({ name: 'ads' }), (err: unknown) => {
        assert.ok(err instanceof MlpApiError);
        assert.equal(err.status, 400);
        assert.deepEqual(JSON.parse(err.body), { error: 'Project ads already exists' });
        return true;
      });
    });

    it('refuses a second secret with the same name in a project with 500, naming the constraint', async function () {
      await assert.rejects(mlp.createSecret(ads.id, { name: 'db-password', data: 'again' }), (err: unknown) => {
        assert.ok(err instanceof MlpApiError);
        assert.equal(err.status, 500);
        assert.match((JSON.parse(err.body) as { error: string }).error, /secrets_project_id_name_key/);
        return true;
      });
    });
  });

  describe('health', function () {
    it('answers /v1/internal/live and /v1/internal/ready with 200', async function () {
      assert.equal((await get('/v1/internal/live')).status, 200);
      assert.equal((await get('/v1/internal/ready')).status, 200);
    });
  });
});
