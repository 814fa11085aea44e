/**
 * Where the provisioned tools are. The provision scripts are idempotent and print their result, so
 * asking them is both the lookup (seconds when cached) and, on a fresh machine, the build.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const provisionDir = fileURLToPath(new URL('../provision/', import.meta.url));

/** A cold build compiles Kubernetes (about 6 minutes on 2 cores); warm it returns at once. */
const PROVISION_TIMEOUT_MS = 45 * 60 * 1000;

const cache = new Map<string, Promise<string>>();

/** Runs test/e2e/provision/<script> once per test run and returns the last line it printed (its result). */
export async function provision(script: string): Promise<string> {
  return (await provisionOutput(script)).split('\n').at(-1) ?? '';
}

/** Runs test/e2e/provision/<script> once per test run and returns all it printed on stdout, trimmed. */
function provisionOutput(script: string): Promise<string> {
  let result = cache.get(script);
  if (!result) {
    result = run('bash', [join(provisionDir, script)], { timeout: PROVISION_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 })
      .then(({ stdout }) => stdout.trim())
      .catch((err: Error & { stderr?: string }) => {
        cache.delete(script);
        const tail = (err.stderr ?? '').trimEnd().split('\n').slice(-30).join('\n');
        throw new Error(
          `provisioning with test/e2e/provision/${script} failed; run \`npm run provision\` to see why.\n${tail}`,
        );
      });
    cache.set(script, result);
  }
  return result;
}

export interface KubernetesBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
}

export async function kubernetesBinaries(): Promise<KubernetesBinaries> {
  const bin = await provision('k8s.sh');
  return {
    etcd: join(bin, 'etcd'),
    kubeApiserver: join(bin, 'kube-apiserver'),
    kubeControllerManager: join(bin, 'kube-controller-manager'),
  };
}

/** The python of the cached virtualenv that holds the pinned flytekit. */
export function flytekitPython(): Promise<string> {
  return provision('flytekit.sh');
}

export interface ContainerImage {
  /** webhook, fetcher (our Dockerfiles) or task (Debian python3 + flytekit). */
  role: 'webhook' | 'fetcher' | 'task';
  /** The name its archive gives it on `ctr images import`, e.g. ghcr.io/caraml-dev/dap-secret-webhook:0.1.0. */
  image: string;
  /** An OCI archive (cached; do not modify). */
  archive: string;
}

/** The images test/e2e/provision/images.sh built with buildah on stand-in bases (cold: minutes). */
export async function containerImages(): Promise<Record<ContainerImage['role'], ContainerImage>> {
  const byRole: Partial<Record<ContainerImage['role'], ContainerImage>> = {};
  for (const line of (await provisionOutput('images.sh')).split('\n')) {
    const [role, image, archive] = line.split('\t') as [ContainerImage['role'], string, string];
    byRole[role] = { role, image, archive };
  }
  for (const role of ['webhook', 'fetcher', 'task'] as const) {
    if (!byRole[role]) throw new Error(`test/e2e/provision/images.sh printed no ${role} image`);
  }
  return byRole as Record<ContainerImage['role'], ContainerImage>;
}
