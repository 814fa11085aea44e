/**
 * "Run a container" without a container runtime: the harness's stand-in for the kubelet.
 *
 * A pod sandbox materialises the stored pod's volumes once (shared by all its containers, as on a
 * node). Running a container resolves its env from the stored pod and the API server, maps every
 * volume mount to its host directory, rewrites literal env values (`value:`, never Secret or
 * ConfigMap data) that are paths under (or above) a mount to the host side, and runs a host executable in place of the image's entry point, with
 * only that env (plus PATH, HOME and HOSTNAME, as a runtime gives, and TMPDIR: a container has its own /tmp).
 *
 * A container path P maps to:
 *   - P under a mount M      → the volume's host dir (+ subPath) + the rest of P;
 *   - P above a mount        → <container dir>/rootfs + P, where each mount is a symlink;
 *   - the termination log    → a file in the container dir.
 *
 * The result holds the env the process got: it contains secret values, so never print it.
 */
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import type { KubeConfig, V1Container, V1Pod } from '@kubernetes/client-node';
import { type EnvSource, expandReferences, resolveContainerEnv } from './env.js';
import { removeTempDir, startProcess } from './processes.js';
import { type MaterialisedVolume, materialiseVolume } from './volumes.js';

export interface PodSandbox {
  readonly kubeConfig: KubeConfig;
  /** The pod as stored by the API server (uid, defaults, mutations). */
  readonly pod: V1Pod;
  readonly dir: string;
  readonly volumes: ReadonlyMap<string, MaterialisedVolume>;
  /** Removes the sandbox and its volumes (tmpfs included). */
  dispose(): Promise<void>;
}

let sandboxCount = 0;

/** Materialises every volume of a stored pod, as the kubelet does before its first container. */
export async function createPodSandbox(kc: KubeConfig, pod: V1Pod, baseDir: string): Promise<PodSandbox> {
  if (!pod.metadata?.uid)
    throw new Error(
      `pod ${pod.metadata?.namespace}/${pod.metadata?.name} has no uid: pass the pod read back from the API server`,
    );
  const dir = join(baseDir, `pod-${pod.metadata.name}-${++sandboxCount}`);
  await mkdir(dir, { recursive: true });
  const volumes = new Map<string, MaterialisedVolume>();
  const dispose = async () => {
    for (const v of volumes.values()) if (v.tmpfsDir) await removeTempDir(v.tmpfsDir);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const volume of pod.spec?.volumes ?? [])
      volumes.set(volume.name, await materialiseVolume(kc, pod, volume, dir));
  } catch (err) {
    await dispose();
    throw err;
  }
  return { kubeConfig: kc, pod, dir, volumes, dispose };
}

export interface RunContainerOptions {
  /** Host program that stands in for the image's entry point (`command[0]`). */
  executable: string;
  /** Default: the container's `command[1..]` then `args`, `$(VAR)`-expanded. */
  args?: string[];
  /** Set last, not path-rewritten: adjustments for running outside a pod (e.g. the API server URL). */
  extraEnv?: Record<string, string>;
  /** Bound on the run; the process is killed (SIGKILL) after it. */
  timeoutMs?: number;
}

export interface ContainerRun {
  container: string;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  /** Contents of the container's terminationMessagePath after the run. */
  terminationMessage: string;
  /** The env the process got. Holds secret values: assert on it, never print it. */
  env: Record<string, string>;
  /** Host path for a container path, or undefined when no mount covers it. */
  hostPath(containerPath: string): string | undefined;
  dir: string;
}

export interface ContainerView {
  container: V1Container;
  /** Env as the container sees it (container paths), before host rewriting. */
  env: Map<string, string>;
  envSources: Map<string, EnvSource>;
  hostPath(containerPath: string): string | undefined;
  /** Host path for any container path: mapped when a mount covers it, else inside the (empty) rootfs. */
  rootfsPath(containerPath: string): string;
  terminationLogHostPath: string;
  dir: string;
}

let runCount = 0;

/**
 * Resolves a container's env and mounts against the sandbox, without running anything.
 * Exposed so scenario code can adjust values that embed paths (e.g. the fetcher's plan).
 */
export async function prepareContainer(sandbox: PodSandbox, containerName: string): Promise<ContainerView> {
  const { pod } = sandbox;
  const podRef = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
  const all = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  const container = all.find((c) => c.name === containerName);
  if (!container)
    throw new Error(
      `pod ${podRef} has no container ${JSON.stringify(containerName)} (it has: ${all.map((c) => c.name).join(', ')})`,
    );

  const { values: env, sources: envSources } = await resolveContainerEnv(sandbox.kubeConfig, pod, container);
  const dir = join(sandbox.dir, `container-${containerName}-${++runCount}`);
  const rootfs = join(dir, 'rootfs');
  await mkdir(rootfs, { recursive: true });

  const mounts: { path: string; hostDir: string }[] = [];
  for (const m of container.volumeMounts ?? []) {
    const volume = sandbox.volumes.get(m.name);
    if (!volume) throw new Error(`container ${containerName} of pod ${podRef} mounts unknown volume ${m.name}`);
    const subPath = m.subPathExpr ? expandReferences(m.subPathExpr, env) : (m.subPath ?? '');
    const hostDir = subPath ? join(volume.hostDir, subPath) : volume.hostDir;
    if (subPath) await mkdir(hostDir, { recursive: true });
    mounts.push({ path: posix.normalize(m.mountPath).replace(/\/$/, ''), hostDir });
  }
  for (const a of mounts) {
    const outer = mounts.find((b) => b !== a && isUnder(a.path, b.path));
    if (outer)
      throw new Error(
        `container ${containerName} of pod ${podRef} mounts ${a.path} inside ${outer.path}; the kubelet step does not nest mounts (extend test/e2e/harness/container.ts)`,
      );
  }
  for (const m of mounts) {
    await mkdir(dirname(join(rootfs, m.path)), { recursive: true });
    await symlink(m.hostDir, join(rootfs, m.path));
  }

  const terminationPath = posix.normalize(container.terminationMessagePath || '/dev/termination-log');
  const terminationLogHostPath = join(dir, 'termination-log');
  await writeFile(terminationLogHostPath, '');

  const hostPath = (p: string): string | undefined => {
    if (!p.startsWith('/')) return undefined;
    const path = posix.normalize(p);
    if (path === terminationPath) return terminationLogHostPath;
    const mount = mounts.find((m) => path === m.path || isUnder(path, m.path));
    if (mount) return mount.hostDir + path.slice(mount.path.length);
    if (mounts.some((m) => isUnder(m.path, path) || path === '/')) return join(rootfs, path);
    return undefined;
  };
  const rootfsPath = (p: string) => hostPath(p) ?? join(rootfs, posix.normalize(p));
  return { container, env, envSources, hostPath, rootfsPath, terminationLogHostPath, dir };
}

/** Runs a prepared container's stand-in program; see the module comment. */
export async function runPreparedContainer(
  sandbox: PodSandbox,
  view: ContainerView,
  opts: RunContainerOptions,
): Promise<ContainerRun> {
  const { container, env, envSources, hostPath, dir } = view;
  const home = join(dir, 'home');
  // A container has its own /tmp: temp files (flytekit makes some at import) go with the sandbox, not the host's /tmp.
  const tmp = join(dir, 'tmp');
  await mkdir(home, { recursive: true });
  await mkdir(tmp, { recursive: true });
  const toHost = (v: string) => hostPath(v) ?? v;

  const processEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    HOSTNAME: sandbox.pod.metadata?.name ?? '',
    TMPDIR: tmp,
  };
  for (const [k, v] of env) processEnv[k] = envSources.get(k) === 'value' ? toHost(v) : v;
  Object.assign(processEnv, opts.extraEnv ?? {});

  const args =
    opts.args ??
    [...(container.command ?? []).slice(1), ...(container.args ?? [])].map((a) => toHost(expandReferences(a, env)));
  const cwd = (container.workingDir && hostPath(container.workingDir)) || home;
  const stdoutPath = join(dir, 'stdout');
  const stderrPath = join(dir, 'stderr');
  const proc = startProcess(`container ${container.name} (${opts.executable})`, opts.executable, args, {
    logPath: stdoutPath,
    stderrPath,
    env: processEnv,
    cwd,
  });
  const status = await proc.waitForExit(opts.timeoutMs ?? 60_000);
  const read = (p: string) => readFile(p, 'utf8').catch(() => '');
  return {
    container: container.name,
    exitCode: status.code,
    signal: status.signal,
    timedOut: status.timedOut,
    stdout: await read(stdoutPath),
    stderr: await read(stderrPath),
    terminationMessage: await read(view.terminationLogHostPath),
    env: processEnv,
    hostPath,
    dir,
  };
}

/** prepareContainer + runPreparedContainer. */
export async function runContainer(
  sandbox: PodSandbox,
  containerName: string,
  opts: RunContainerOptions,
): Promise<ContainerRun> {
  return runPreparedContainer(sandbox, await prepareContainer(sandbox, containerName), opts);
}

function isUnder(path: string, parent: string): boolean {
  return parent === '' || path.startsWith(parent === '/' ? '/' : `${parent}/`);
}
