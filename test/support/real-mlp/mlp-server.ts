/**
 * The real CaraML MLP API server (built by test/e2e/provision/mlp.sh) on a free loopback port,
 * with a config file written here: its own SQL migrations, the default `internal` secret
 * storage, authorization off (so it trusts the `User-Email` header, as behind CaraML's gateway).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { freePort } from '../../e2e/harness/ports.js';
import { type ManagedProcess, startProcess } from '../../e2e/harness/processes.js';
import { waitFor } from '../../e2e/harness/wait.js';
import type { Postgres } from './postgres.js';
import { mlpServerFiles } from './provisioned.js';

export interface MlpServer {
  /** http://127.0.0.1:<port>; the API is under /v1. */
  url: string;
  port: number;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export interface MlpServerOptions {
  /** Where the config file and the log go. */
  dir: string;
  readyTimeoutMs?: number;
  /** Listen on this port (one attempt): a restart after an outage keeps the URL clients know. */
  port?: number;
}

/** Another process may take the free port before MLP binds it; MLP then exits, and we pick again. */
const PORT_ATTEMPTS = 3;

export async function startMlpServer(pg: Postgres, opts: MlpServerOptions): Promise<MlpServer> {
  const files = await mlpServerFiles();
  const failures: string[] = [];
  const attempts = opts.port === undefined ? PORT_ATTEMPTS : 1;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const port = opts.port ?? (await freePort());
    const url = `http://127.0.0.1:${port}`;
    const configPath = join(opts.dir, `mlp-config-${attempt}.yaml`);
    await writeFile(configPath, stringify(mlpConfig(pg, port, files.migrationsDir)), { mode: 0o600 });
    const mlp = startProcess('mlp-api', files.binary, ['serve', `--config=${configPath}`], {
      logPath: join(opts.dir, 'mlp-api.log'),
      cwd: opts.dir,
      // Only the config file configures it: MLP also reads every environment variable as config.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    try {
      await waitFor(async () => ((await fetch(`${url}/v1/internal/ready`)).ok ? true : undefined), {
        what: `MLP at ${url}/v1/internal/ready`,
        timeoutMs: opts.readyTimeoutMs ?? 60_000,
        intervalMs: 100,
        abortIf: () => (mlp.hasExited ? `${mlp.describeExit()}\n${mlp.tail(20)}` : undefined),
      });
      return { url, port, process: mlp, stop: () => mlp.stop(5_000) };
    } catch (err) {
      await mlp.stop(5_000);
      failures.push(`attempt ${attempt} on port ${port}: ${(err as Error).message}`);
    }
  }
  throw new Error(`MLP did not become ready (log: ${join(opts.dir, 'mlp-api.log')}):\n${failures.join('\n')}`);
}

/**
 * MLP's database pool (api/config/config.go DatabaseConfig → database/sql's SetMaxIdleConns,
 * SetMaxOpenConns, SetConnMaxIdleTime, SetConnMaxLifetime). Durations as Go parses them.
 */
export const MLP_DATABASE_POOL = {
  maxIdleConns: 10,
  maxOpenConns: 20,
  connMaxIdleTime: '5m',
  connMaxLifetime: '30m',
} as const;

/** MLP's config (api/config/config.go at the pinned release); omitted keys keep MLP's defaults. */
function mlpConfig(pg: Postgres, port: number, migrationsDir: string) {
  return {
    apiHost: `http://127.0.0.1:${port}/v1`,
    environment: 'dap-e2e',
    port,
    database: {
      // lib/pq: a host starting with "/" is a Unix-socket directory.
      host: pg.socketDir,
      port: pg.port,
      user: pg.user,
      // Required by MLP's config validation; the cluster authenticates by `trust` on a private socket.
      password: 'unused-trust-auth',
      database: pg.database,
      migrationPath: pathToFileURL(migrationsDir).href,
      // MLP's defaults (all zero) keep no idle connection: every query opens a PostgreSQL
      // connection (~10 ms of PostgreSQL CPU each), and past ~100 requests in flight MLP answers
      // 500 "too many clients". Production runs MLP with a pool; so does this tier
      // (deploy/README.md, "MLP at scale"). MAX_OPEN stays well under PostgreSQL's max_connections.
      ...MLP_DATABASE_POOL,
    },
    mlflow: { trackingURL: 'http://mlflow.invalid' },
    authorization: { enabled: false },
    // Spelled out although it is MLP's default: the secrets live in MLP's own database.
    // (v1.12.0's internal storage needs no encryption key.)
    defaultSecretStorage: { name: 'internal', type: 'internal' },
  };
}
