/**
 * A throw-away PostgreSQL cluster for one test run: initdb into a temp dir, the server reachable
 * only through a Unix socket in that dir (no TCP at all), started and stopped by PID.
 * PostgreSQL refuses to run as root, so when the tests run as root the server runs as the
 * `postgres` user the Debian package creates.
 */
import { execFile } from 'node:child_process';
import { chown, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  keepTempDir,
  type ManagedProcess,
  registerTempDir,
  removeTempDir,
  startProcess,
} from '../../e2e/harness/processes.js';
import { waitFor } from '../../e2e/harness/wait.js';
import { postgresBinaries } from './provisioned.js';

const run = promisify(execFile);

export interface Postgres {
  /** Directory holding the server's socket: libpq's `host` for a Unix-socket connection. */
  socketDir: string;
  port: number;
  /** Superuser; authentication is `trust`, reachable only by this user and root (socket mode 0700). */
  user: string;
  database: string;
  process: ManagedProcess;
  dir: string;
  stop(opts?: { keepDir?: boolean }): Promise<void>;
}

export interface PostgresOptions {
  database?: string;
  readyTimeoutMs?: number;
}

const SUPERUSER = 'mlp';
const PORT = 5432; // only names the socket file; nothing listens on TCP

export async function startPostgres(opts: PostgresOptions = {}): Promise<Postgres> {
  const database = opts.database ?? 'mlp';
  const bins = await postgresBinaries();
  const dir = await mkdtemp(join(tmpdir(), 'dap-real-mlp-pg-'));
  registerTempDir(dir);
  const dataDir = join(dir, 'data');
  const asServerUser = await serverUserPrefix(dir);
  let server: ManagedProcess | undefined;
  try {
    const [cmd, ...prefix] = [...asServerUser, bins.initdb];
    await run(
      cmd!,
      [
        ...prefix,
        `--pgdata=${dataDir}`,
        `--username=${SUPERUSER}`,
        '--auth=trust',
        '--encoding=UTF8',
        '--no-locale',
        '--no-sync',
      ],
      {
        timeout: 60_000,
      },
    ).catch((err: Error & { stderr?: string }) => {
      throw new Error(`initdb failed in ${dataDir}: ${err.stderr?.trim() || err.message}`);
    });

    const [serverCmd, ...serverPrefix] = [...asServerUser, bins.postgres];
    server = startProcess(
      'postgres',
      serverCmd!,
      [
        ...serverPrefix,
        `-D${dataDir}`,
        `-k${dir}`,
        `-p${PORT}`,
        '-clisten_addresses=',
        '-cunix_socket_permissions=0700',
        // Throw-away data: durability buys nothing and costs time.
        '-cfsync=off',
        '-cfull_page_writes=off',
        '-csynchronous_commit=off',
        // Dynamic shared memory as files in the data dir, not /dev/shm/PostgreSQL.*: removed with the
        // dir even if the server dies by SIGKILL.
        '-cdynamic_shared_memory_type=mmap',
      ],
      {
        logPath: join(dir, 'postgres.log'),
        // SIGINT is PostgreSQL's "fast" shutdown (SIGTERM's "smart" one waits for clients); a
        // SIGKILLed postmaster leaves its shared memory behind, so an aborted run waits for it too.
        stopSignal: 'SIGINT',
        exitGraceMs: 5_000,
      },
    );
    const pg = server;

    // Ready when a client can create the database (the socket appears before recovery ends).
    await waitFor(
      async () => {
        await run(bins.createdb, [`--host=${dir}`, `--port=${PORT}`, `--username=${SUPERUSER}`, database], {
          timeout: 10_000,
        });
        return true;
      },
      {
        what: `PostgreSQL in ${dir} to accept connections`,
        timeoutMs: opts.readyTimeoutMs ?? 30_000,
        intervalMs: 100,
        abortIf: () => (pg.hasExited ? `${pg.describeExit()}\n${pg.tail(20)}` : undefined),
      },
    );
    return {
      socketDir: dir,
      port: PORT,
      user: SUPERUSER,
      database,
      process: pg,
      dir,
      async stop({ keepDir = false } = {}) {
        await pg.stop(10_000);
        if (keepDir) keepTempDir(dir);
        else await removeTempDir(dir);
      },
    };
  } catch (err) {
    await server?.stop(5_000);
    keepTempDir(dir);
    throw new Error(`PostgreSQL did not start (files kept in ${dir}): ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The command prefix that runs the server binaries as a non-root user. setpriv execs in place,
 * so the PID the harness records is the postmaster's own.
 */
async function serverUserPrefix(dir: string): Promise<string[]> {
  if (process.getuid?.() !== 0) return [];
  const id = async (flag: string) => Number((await run('id', [flag, 'postgres'])).stdout.trim());
  let uid: number;
  let gid: number;
  try {
    [uid, gid] = [await id('-u'), await id('-g')];
  } catch {
    throw new Error(
      "running as root, but there is no `postgres` user to run PostgreSQL as; run test/e2e/provision/postgres.sh (it installs Debian's postgresql package, which creates it)",
    );
  }
  await chown(dir, uid, gid);
  return ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', '--'];
}
