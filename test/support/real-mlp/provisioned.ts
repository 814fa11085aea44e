/**
 * Where the real-MLP tools are: asks the idempotent provision scripts, which print their result
 * (well under a second when cached; on a fresh machine they install / build first).
 */
import { join } from 'node:path';
import { provision } from '../../e2e/harness/provisioned.js';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  createdb: string;
}

export async function postgresBinaries(): Promise<PostgresBinaries> {
  const bin = await provision('postgres.sh');
  return { initdb: join(bin, 'initdb'), postgres: join(bin, 'postgres'), createdb: join(bin, 'createdb') };
}

export interface MlpServerFiles {
  /** The API server executable (github.com/caraml-dev/mlp/api, listening on 127.0.0.1 only). */
  binary: string;
  /** The SQL migrations MLP runs at startup, from the same release. */
  migrationsDir: string;
}

export async function mlpServerFiles(): Promise<MlpServerFiles> {
  const dir = await provision('mlp.sh');
  return { binary: join(dir, 'bin', 'mlp-api'), migrationsDir: join(dir, 'db-migrations') };
}
