/**
 * The MLP stand-in (test/support/mlp) against the real MLP server, on the same seeded data:
 * every request the fetcher makes, and the errors it must understand, must get the same status,
 * media type and body from both. Differences that carry no meaning for a client are normalised
 * away (timestamps' values, JSON key order, the trailing newline of Go's JSON encoder, charset
 * case, list order — MLP's queries have no ORDER BY, so clients may not rely on it).
 */
import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { closeServer, createMlpStandIn, listen, MlpData } from '../../support/mlp/index.js';
import { type RealMlp, SEEDER_EMAIL, type SeedProject, startRealMlp } from '../../support/real-mlp/index.js';

const START_TIMEOUT_MS = 20 * 60 * 1000;

/** Seeded identically in both: MLP's creator becomes an administrator, so the stand-in lists it too. */
const SEEDS: SeedProject[] = [
  {
    name: 'ads',
    readers: ['bob@example.com'],
    administrators: ['alice@example.com'],
    secrets: { 'db-password': 'v-ads-db', 'api-token': 'v-ads-token' },
  },
  { name: 'ads-ranking', secrets: { 'db-password': 'v-ranking-db' } },
  { name: 'no-secrets', readers: [], administrators: [] },
];

/** What a client can observe of one answer, with meaningless differences normalised. */
interface Observed {
  status: number;
  mediaType: string;
  location: string | null;
  body: unknown;
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function normalise(value: unknown, key = ''): unknown {
  if (typeof value === 'string' && TIMESTAMP.test(value)) return '<timestamp>';
  // MLP fills it from its config when a project has none; a stand-in must not answer ''.
  if (key === 'mlflow_tracking_url' && typeof value === 'string' && value !== '') return '<url>';
  if (Array.isArray(value)) {
    const items = value.map((v) => normalise(v));
    const byId = (x: unknown) =>
      x !== null && typeof x === 'object' && 'id' in x ? Number((x as { id: unknown }).id) : NaN;
    return items.every((x) => !Number.isNaN(byId(x))) ? items.sort((a, b) => byId(a) - byId(b)) : items;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).map(([k, v]) => [k, normalise(v, k)] as const);
    return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
  }
  return value;
}

async function observe(base: string, method: string, path: string): Promise<Observed> {
  const res = await fetch(`${base}${path}`, {
    method,
    redirect: 'manual',
    headers: { 'User-Email': 'bob@example.com' },
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  const mediaType = (res.headers.get('content-type') ?? '').toLowerCase().replace(/\s+/g, '');
  let body: unknown = text;
  if (mediaType.startsWith('application/json') && text.trim() !== '') body = normalise(JSON.parse(text));
  else if (mediaType.startsWith('text/html')) body = '<html>'; // Go's redirect page; the Location header carries the meaning
  return { status: res.status, mediaType, location: res.headers.get('location'), body };
}

describe('MLP stand-in matches the real MLP server', function () {
  let mlp: RealMlp;
  let standIn: { server: Server; url: string } | undefined;

  before(async function () {
    this.timeout(START_TIMEOUT_MS);
    mlp = await startRealMlp();
    const data = new MlpData();
    standIn = await listen(createMlpStandIn(data));
    for (const seed of SEEDS) {
      // MLP's project form requires team and stream; give the stand-in's fixed values.
      const { project } = await mlp.seedProject({ ...seed, team: 'team', stream: 'stream' });
      const twin = data.addProject({ ...seed, administrators: [...(seed.administrators ?? []), SEEDER_EMAIL] });
      assert.equal(twin.id, project.id, 'both assign ids in seeding order');
    }
  });

  after(async function () {
    this.timeout(30_000);
    if (standIn) await closeServer(standIn.server);
    await mlp?.stop();
  });

  const cases: Array<[method: string, path: string, why: string]> = [
    ['GET', '/v1/projects?name=ads', "the fetcher's project lookup: prefix match"],
    ['GET', '/v1/projects?name=ads-ranking', "exact name that is nobody's prefix"],
    ['GET', '/v1/projects?name=nothing', 'no match: []'],
    ['GET', '/v1/projects?name=ad_', 'LIKE wildcard _'],
    ['GET', `/v1/projects?name=${encodeURIComponent('%ranking')}`, 'LIKE wildcard %'],
    ['GET', '/v1/projects?name=', 'empty filter: every project'],
    ['GET', '/v1/projects', 'no filter'],
    ['GET', '/v1/projects/1', 'one project'],
    ['GET', '/v1/projects/3', 'a project with empty access lists'],
    ['GET', '/v1/projects/1/secrets', "the fetcher's secrets list"],
    ['GET', '/v1/projects/3/secrets', 'no secrets: []'],
    ['GET', '/v1/projects/999/secrets', 'unknown project id: 404 {"error"}'],
    ['GET', '/v1/projects/999', 'unknown project id: 404 {"error"}'],
    ['GET', '/v1/projects/ads/secrets', "non-numeric id: the router's plain-text 404"],
    ['GET', '/v1/projects/-1/secrets', "negative id: the router's plain-text 404"],
    ['GET', '/v1/projects/01/secrets', 'leading zero'],
    ['GET', '/v1/projects/1/secrets/', 'trailing slash: MLP redirects (to a path without /v1)'],
    ['GET', '/v1/projects/', 'trailing slash on the list'],
    ['GET', '/v1/nothing-here', 'unknown route'],
    ['DELETE', '/v1/projects/1/secrets', 'method not allowed'],
    ['GET', '/v1/internal/live', 'health'],
    ['GET', '/v1/internal/ready', 'health'],
  ];

  for (const [method, path, why] of cases) {
    it(`${method} ${path} (${why})`, async function () {
      const real = await observe(mlp.url, method, path);
      const stand = await observe(standIn!.url, method, path);
      assert.deepEqual(stand, real, `the stand-in differs from MLP for ${method} ${path}`);
    });
  }
});
