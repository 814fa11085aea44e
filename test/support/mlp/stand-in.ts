/**
 * An MLP API stand-in that follows mlp-swagger.yaml and what the real server does
 * (test/integration/real-mlp/stand-in-parity.test.ts compares the two request by request):
 * `GET /v1/projects?name=` matches like SQL `LIKE 'name%'` (prefix, case-sensitive, `_` and `%`
 * are wildcards), secrets come back with plaintext `data` plus `project_id` and an embedded
 * `secret_storage`, errors are `{"error": "..."}`, an unknown project id is 404, unknown routes
 * get the router's plain-text 404, a trailing slash gets the router's 301 (to a path without
 * `/v1`, as MLP's router does), and a wrong method an empty 405.
 *
 * Like MLP it trusts `User-Email` and does no authorization itself: put gateway.ts in front.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

export interface StandInProject {
  id: number;
  name: string;
  administrators: string[] | null;
  readers: string[] | null;
  team: string;
  stream: string;
  /** Omitted from answers when absent, like MLP's `omitempty`. */
  labels?: { key: string; value: string }[];
  mlflow_tracking_url: string;
  created_at: string;
  updated_at: string;
}

export interface StandInSecret {
  id: number;
  name: string;
  data: string;
  project_id: number;
  secret_storage_id: number;
}

export interface NewStandInProject {
  name: string;
  readers?: string[];
  administrators?: string[];
  /** Secret name → plaintext value. */
  secrets?: Record<string, string>;
}

/** MLP fills a project's MLflow URL from its own config when the project has none. */
const DEFAULT_MLFLOW_TRACKING_URL = 'http://mlflow.invalid';

const INTERNAL_STORAGE = {
  id: 1,
  name: 'internal',
  type: 'internal',
  scope: 'global',
  config: {},
  created_at: '2024-01-01T00:00:00Z',
  updated_at: '2024-01-01T00:00:00Z',
};

/** SQL LIKE 'name%' as MLP's query runs it: `_` any one character, `%` any run, case-sensitive. */
export function likePrefix(pattern: string): RegExp {
  const body = [...pattern]
    .map((c) => (c === '_' ? '.' : c === '%' ? '.*' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}`, 's');
}

export class MlpData {
  readonly projects: StandInProject[] = [];
  readonly secrets: StandInSecret[] = [];
  #nextProjectId = 1;
  #nextSecretId = 1;

  addProject(p: NewStandInProject): StandInProject {
    const now = new Date().toISOString();
    const project: StandInProject = {
      id: this.#nextProjectId++,
      name: p.name,
      administrators: p.administrators ?? null,
      readers: p.readers ?? null,
      team: 'team',
      stream: 'stream',
      mlflow_tracking_url: DEFAULT_MLFLOW_TRACKING_URL,
      created_at: now,
      updated_at: now,
    };
    this.projects.push(project);
    for (const [name, data] of Object.entries(p.secrets ?? {})) this.addSecret(project.id, name, data);
    return project;
  }

  addSecret(projectId: number, name: string, data: string): StandInSecret {
    const secret = {
      id: this.#nextSecretId++,
      name,
      data,
      project_id: projectId,
      secret_storage_id: INTERNAL_STORAGE.id,
    };
    this.secrets.push(secret);
    return secret;
  }

  /** The authorization MLP's Keto policies express: readers and administrators may read a project. */
  canRead(identity: string, projectId: number | null): boolean {
    if (projectId === null) return true;
    const project = this.projects.find((p) => p.id === projectId);
    if (!project) return true; // let MLP answer 404 for an unknown id
    return [...(project.readers ?? []), ...(project.administrators ?? [])].includes(identity);
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`; // Go's JSON encoder ends with a newline
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function notFoundRoute(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
  res.end('404 page not found\n');
}

/** MLP's router (gorilla/mux, StrictSlash) redirects a known route's trailing-slash form — to a path without the /v1 prefix. */
function trailingSlashRedirect(res: ServerResponse, path: string): void {
  const location = path.replace(/^\/v1/, '').replace(/\/+$/, '');
  const body = `<a href="${location}">Moved Permanently</a>.\n\n`;
  res.writeHead(301, {
    location,
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

const KNOWN_ROUTE = /^\/v1\/projects(\/\d+(\/secrets)?)?$/;

export function createMlpStandIn(data: MlpData): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://mlp');
    const path = url.pathname;
    if (path.endsWith('/') && KNOWN_ROUTE.test(path.replace(/\/+$/, ''))) return trailingSlashRedirect(res, path);
    if (req.method !== 'GET') {
      // Seeding goes through MlpData; MLP answers a known route's other methods with an empty 405.
      res.writeHead(
        KNOWN_ROUTE.test(path) ? 405 : 404,
        KNOWN_ROUTE.test(path) ? { 'content-length': 0 } : { 'content-type': 'text/plain; charset=utf-8' },
      );
      return res.end(KNOWN_ROUTE.test(path) ? '' : '404 page not found\n');
    }
    if (path === '/v1/internal/live' || path === '/v1/internal/ready') return json(res, 200, {});
    if (path === '/v1/projects') {
      const name = url.searchParams.get('name');
      const matches =
        name === null || name === '' ? data.projects : data.projects.filter((p) => likePrefix(name).test(p.name));
      return json(res, 200, matches);
    }
    const one = /^\/v1\/projects\/([^/]+)(\/secrets)?\/?$/.exec(path);
    if (!one) return notFoundRoute(res);
    if (!/^\d+$/.test(one[1] as string)) return notFoundRoute(res);
    const id = Number(one[1]);
    const project = data.projects.find((p) => p.id === id);
    if (!project) return json(res, 404, { error: `project with ID ${id} not found` });
    if (!one[2]) return json(res, 200, project);
    return json(
      res,
      200,
      data.secrets
        .filter((s) => s.project_id === id)
        .map((s) => ({
          ...s,
          secret_storage: INTERNAL_STORAGE,
          created_at: project.created_at,
          updated_at: project.updated_at,
        })),
    );
  };
}
