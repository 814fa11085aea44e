/**
 * The "task step": a task container of a stored pod, started the way the kubelet would start it
 * (env from the pod spec with secretKeyRef values read from the real Secret, volumes at their
 * mount paths), running the real flytekit from the cached virtualenv, which is asked for each
 * secret through `flytekit.current_context().secrets.get(group, key, group_version=...)`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ContainerRun, type PodSandbox, prepareContainer, runPreparedContainer } from './container.js';
import { flytekitPython } from './provisioned.js';

const READER = fileURLToPath(new URL('./flytekit_reader.py', import.meta.url));
/** flytekit's defaults when the pod sets nothing (flytekit/configuration/__init__.py SecretsConfig). */
const FLYTEKIT_DEFAULT_DIR = '/etc/secrets';

export interface SecretRequest {
  group?: string;
  key?: string;
  groupVersion?: string;
}

interface FlytekitSecret {
  request: SecretRequest;
  /** The env var and file flytekit looked at (container-side names; the file is the host path it read). */
  envVar: string;
  file: string;
  /** What `secrets.get` returned, or flytekit's error when it found nothing. Holds secret values: never print. */
  value?: string;
  error?: string;
}

export interface TaskStepResult {
  flytekitVersion: string;
  secrets: FlytekitSecret[];
  /** The requested plain env vars as the process saw them (host paths where a value was a mounted path; null when unset). */
  env: Record<string, string | null>;
  /** The same env vars as the container spec resolves them (container paths), null when unset. */
  containerEnv: Record<string, string | null>;
  run: ContainerRun;
}

export interface TaskStepOptions {
  /** Plain env vars to report, e.g. the ones Flyte's `env_var` field names. */
  env?: string[];
  timeoutMs?: number;
}

export async function runTaskStep(
  sandbox: PodSandbox,
  containerName: string,
  requests: SecretRequest[],
  opts: TaskStepOptions = {},
): Promise<TaskStepResult> {
  const python = await flytekitPython();
  const view = await prepareContainer(sandbox, containerName);
  const extraEnv: Record<string, string> = {};
  // FLYTE_SECRETS_DEFAULT_DIR set by the pod is mapped like any path; when unset, flytekit's default
  // must still mean the container's /etc/secrets, not the host's.
  if (!view.env.has('FLYTE_SECRETS_DEFAULT_DIR'))
    extraEnv.FLYTE_SECRETS_DEFAULT_DIR = view.rootfsPath(FLYTEKIT_DEFAULT_DIR);

  const resultFile = join(view.dir, 'flytekit-result.json');
  const spec = {
    requests: requests.map((r) => ({ group: r.group, key: r.key, group_version: r.groupVersion })),
    env: opts.env ?? [],
  };
  const run = await runPreparedContainer(sandbox, view, {
    executable: python,
    args: [READER, JSON.stringify(spec), resultFile],
    extraEnv,
    timeoutMs: opts.timeoutMs ?? 60_000,
  });
  if (run.exitCode !== 0) {
    // stderr is flytekit's own output (import errors, tracebacks); the reader never prints values.
    throw new Error(
      `the flytekit reader in container ${containerName} exited with ${run.signal ?? run.exitCode}${run.timedOut ? ' (timed out)' : ''}:\n${run.stderr.slice(-4000)}`,
    );
  }
  const parsed = JSON.parse(await readFile(resultFile, 'utf8')) as Omit<
    TaskStepResult,
    'run' | 'secrets' | 'containerEnv'
  > & {
    secrets: (Omit<FlytekitSecret, 'request'> & {
      request: { group?: string; key?: string; group_version?: string };
    })[];
  };
  return {
    flytekitVersion: parsed.flytekitVersion,
    env: parsed.env,
    containerEnv: Object.fromEntries(spec.env.map((name) => [name, view.env.get(name) ?? null])),
    secrets: parsed.secrets.map((s, i) => ({ ...s, request: requests[i]! })),
    run,
  };
}
