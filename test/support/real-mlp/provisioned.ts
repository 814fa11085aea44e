/**
 * Where the real-MLP tools are: asks the idempotent provision scripts, which print their result
 * (well under a second when cached; on a fresh machine they install / build first).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const provisionDir = fileURLToPath(new URL('../../e2e/provision/', import.meta.url));
/** Cold: apt-get install postgresql, or compiling MLP (about a minute on 2 cores). */
const PROVISION_TIMEOUT_MS = 20 * 60 * 1000;

const cache = new Map<string, Promise<string>>();

function provision(script: string): Promise<string> {
  let result = cache.get(script);
  if (!result) {
    result = run('bash', [join(provisionDir, script)], { timeout: PROVISION_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 })
      .then(({ stdout }) => stdout.trim().split('\n').at(-1) ?? '')
      .catch((err: Error & { stderr?: string }) => {
        cache.delete(script);
        const tail = (err.stderr ?? '').trimEnd().split('\n').slice(-30).join('\n');
        throw new Error(`provisioning with test/e2e/provision/${script} failed; run \`bash test/e2e/provision/${script}\` to see why.\n${tail}`);
      });
    cache.set(script, result);
  }
  return result;
}

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
