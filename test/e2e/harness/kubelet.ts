/**
 * The "kubelet step": run the fetcher executable the way the kubelet would run the `fetcher`
 * init container of a stored pod (see container.ts for the generic part).
 *
 * Running outside a pod needs a few adjustments, all made here and nowhere else:
 *   - DAP_KUBE_API_URL points at the control plane (there is no KUBERNETES_SERVICE_HOST);
 *   - identity files the webhook left to the fetcher's defaults (contract/fetcher-env.ts) and the
 *     termination log are mapped to their host paths;
 *   - the plan's `fileRoot` (a container path inside a JSON env value) is mapped to the host
 *     directory of the volume mounted there.
 */

import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FETCHER_ENV, IDENTITY_FILES, IDENTITY_MOUNT_PATH } from '../../../contract/fetcher-env.js';
import { PLAN_ENV } from '../../../contract/plan.js';
import { type ContainerRun, type PodSandbox, prepareContainer, runPreparedContainer } from './container.js';

export const FETCHER_CONTAINER = 'fetcher';
export const FETCHER_EXECUTABLE = fileURLToPath(new URL('../../../dist/dap-secret-fetcher', import.meta.url));

export interface FetcherStepOptions {
  /** The control plane as seen from outside a pod. */
  apiUrl: string;
  caFile: string;
  /** Default: the built single executable. */
  executable?: string;
  /** Arguments instead of the container's (e.g. to run the fetcher from source with node). */
  args?: string[];
  containerName?: string;
  /** Extra env set last (e.g. to break something on purpose in a failure scenario). */
  extraEnv?: Record<string, string>;
  timeoutMs?: number;
}

export async function runFetcherStep(sandbox: PodSandbox, opts: FetcherStepOptions): Promise<ContainerRun> {
  const view = await prepareContainer(sandbox, opts.containerName ?? FETCHER_CONTAINER);
  const extraEnv: Record<string, string> = { [FETCHER_ENV.kubeApiUrl]: opts.apiUrl };
  const where = `container ${view.container.name} of pod ${sandbox.pod.metadata?.namespace}/${sandbox.pod.metadata?.name}`;

  // Defaults the fetcher falls back to are container paths: map them like the webhook's own values.
  const defaults: [string, string][] = [
    [FETCHER_ENV.mlpTokenFile, IDENTITY_FILES.mlpToken],
    [FETCHER_ENV.kubeTokenFile, IDENTITY_FILES.kubeToken],
    [FETCHER_ENV.kubeCaFile, IDENTITY_FILES.kubeCa],
    [FETCHER_ENV.exchangeClientCredentialsFile, IDENTITY_FILES.exchangeClientCredentials],
  ];
  for (const [name, file] of defaults) {
    const mapped = view.hostPath(posix.join(IDENTITY_MOUNT_PATH, file));
    if (!view.env.has(name) && mapped) extraEnv[name] = mapped;
  }
  // Without a projected kube-root-ca.crt the fetcher would still need the cluster's CA.
  if (!view.env.has(FETCHER_ENV.kubeCaFile) && !extraEnv[FETCHER_ENV.kubeCaFile])
    extraEnv[FETCHER_ENV.kubeCaFile] = opts.caFile;

  const terminationLog = view.env.get(FETCHER_ENV.terminationLog);
  if (terminationLog === undefined) {
    extraEnv[FETCHER_ENV.terminationLog] = view.terminationLogHostPath;
  } else if (view.hostPath(terminationLog) !== view.terminationLogHostPath) {
    throw new Error(
      `${where}: ${FETCHER_ENV.terminationLog}=${terminationLog} is not the container's terminationMessagePath (${view.container.terminationMessagePath ?? '/dev/termination-log'}), so the kubelet would never show the fetcher's message`,
    );
  }

  const planText = view.env.get(PLAN_ENV);
  if (planText !== undefined) extraEnv[PLAN_ENV] = withHostFileRoot(planText, view.hostPath, where);

  return runPreparedContainer(sandbox, view, {
    executable: opts.executable ?? FETCHER_EXECUTABLE,
    ...(opts.args ? { args: opts.args } : {}),
    extraEnv: { ...extraEnv, ...(opts.extraEnv ?? {}) },
    timeoutMs: opts.timeoutMs ?? 60_000,
  });
}

/** The plan with `fileRoot` mapped to the host; text the fetcher must reject is passed through untouched. */
function withHostFileRoot(planText: string, hostPath: (p: string) => string | undefined, where: string): string {
  let plan: unknown;
  try {
    plan = JSON.parse(planText);
  } catch {
    return planText;
  }
  if (
    typeof plan !== 'object' ||
    plan === null ||
    !('fileRoot' in plan) ||
    typeof plan.fileRoot !== 'string' ||
    plan.fileRoot === ''
  )
    return planText;
  const mapped = hostPath(plan.fileRoot);
  if (!mapped)
    throw new Error(
      `${where}: the plan's fileRoot ${plan.fileRoot} is not under any of the container's volume mounts, so the files would not reach the task`,
    );
  return JSON.stringify({ ...plan, fileRoot: mapped });
}
