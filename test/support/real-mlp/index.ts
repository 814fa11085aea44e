/**
 * The real CaraML MLP API server on a throw-away PostgreSQL, for tests that must agree with MLP
 * itself rather than with a stand-in written from its specification.
 *
 *   const mlp = await startRealMlp();
 *   try {
 *     const { project } = await mlp.seedProject({ name: 'ads', readers: ['bob@example.com'], secrets: { token: 'x' } });
 *     ... fetch(`${mlp.url}/v1/projects/${project.id}/secrets`, { headers: { 'User-Email': ... } })
 *   } finally {
 *     await mlp.stop();
 *   }
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keepTempDir, type ManagedProcess, registerTempDir, removeTempDir } from '../../e2e/harness/processes.js';
import { MlpClient, type MlpProject, type MlpSecret, type NewProject } from './client.js';
import { type MlpServer, startMlpServer } from './mlp-server.js';
import { type Postgres, startPostgres } from './postgres.js';

export { MlpApiError, type MlpProject, type MlpSecret } from './client.js';

/**
 * MLP adds whoever creates a project to its administrators, so the seeding identity ends up an
 * administrator of every seeded project: keep it out of the identities a test checks.
 */
export const SEEDER_EMAIL = 'mlp-seeder@dap-e2e.invalid';

export interface SeedProject extends NewProject {
  /** Secret name → value, created in the project in this order. */
  secrets?: Record<string, string>;
}

export interface RealMlp {
  /** http://127.0.0.1:<port>; MLP's API is under /v1. Trusts `User-Email`: put a gateway in front. */
  url: string;
  /** A client acting as SEEDER_EMAIL. */
  client: MlpClient;
  createProject(p: NewProject): Promise<MlpProject>;
  createSecret(projectId: number, s: { name: string; data: string }): Promise<MlpSecret>;
  /** A project and its secrets, through MLP's own API. */
  seedProject(p: SeedProject): Promise<{ project: MlpProject; secrets: MlpSecret[] }>;
  /** The running servers, e.g. to check what they listen on (`mlp` is the current one after a restart). */
  readonly processes: { postgres: ManagedProcess; mlp: ManagedProcess };
  /** Stops the MLP server alone (PostgreSQL stays): an outage. */
  stopServer(): Promise<void>;
  /** Starts the MLP server again after `stopServer()`, on the same URL. */
  startServer(): Promise<void>;
  /** The last log lines of PostgreSQL and MLP, for failure reports. */
  logTails(lines?: number): string;
  /** Stops MLP, then PostgreSQL, by PID; removes the temp dirs unless `keepDir`. */
  stop(opts?: { keepDir?: boolean }): Promise<void>;
}

export interface RealMlpOptions {
  /** Bound on each readiness wait. */
  readyTimeoutMs?: number;
}

export async function startRealMlp(opts: RealMlpOptions = {}): Promise<RealMlp> {
  const dir = await mkdtemp(join(tmpdir(), 'dap-real-mlp-'));
  registerTempDir(dir);
  let pg: Postgres | undefined;
  let server: MlpServer | undefined;
  const logTails = (lines = 30) =>
    [pg?.process, server?.process]
      .filter((p) => p !== undefined)
      .map((p) => `----- ${p.describeExit()}, last lines of ${p.logPath} -----\n${p.tail(lines)}`)
      .join('\n');
  const stopAll = async (keepDir: boolean) => {
    await server?.stop();
    await pg?.stop({ keepDir });
    if (keepDir) keepTempDir(dir);
    else await removeTempDir(dir);
  };
  try {
    pg = await startPostgres(opts.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: opts.readyTimeoutMs });
    server = await startMlpServer(pg, {
      dir,
      ...(opts.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: opts.readyTimeoutMs }),
    });
  } catch (err) {
    const report = logTails();
    await stopAll(true);
    throw new Error(`the real MLP did not start: ${(err as Error).message}\n(files kept in ${dir})\n${report}`, {
      cause: err,
    });
  }

  const client = new MlpClient(server.url, SEEDER_EMAIL);
  return {
    url: server.url,
    client,
    createProject: (p) => client.createProject(p),
    createSecret: (projectId, s) => client.createSecret(projectId, s),
    async seedProject({ secrets = {}, ...p }) {
      const project = await client.createProject(p);
      const created: MlpSecret[] = [];
      for (const [name, data] of Object.entries(secrets))
        created.push(await client.createSecret(project.id, { name, data }));
      return { project, secrets: created };
    },
    processes: {
      postgres: pg.process,
      get mlp() {
        return server!.process;
      },
    },
    stopServer: () => server!.stop(),
    async startServer() {
      const { port } = server!;
      server = await startMlpServer(pg!, {
        dir,
        port,
        ...(opts.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: opts.readyTimeoutMs }),
      });
    },
    logTails,
    stop: ({ keepDir = false } = {}) => stopAll(keepDir),
  };
}
