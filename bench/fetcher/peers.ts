/**
 * What the fetcher talks to in a pod, on 127.0.0.1: the MLP stand-in behind its gateway (verifies
 * the projected service-account token) and the Kubernetes Secrets API stand-in (HTTPS, bearer
 * token), plus the "cluster" issuer that signs each pod's token. The same test peers as the
 * fetcher's integration tests (test/support/), run in this process.
 */
import { existsSync, statfsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FETCHER_ENV as E } from '../../contract/fetcher-env.js';
import type { Plan } from '../../contract/plan.js';
import { createCertificateAuthority } from '../../test/support/k8s/pki.js';
import { type KubeSecretsApi, startKubeSecretsApi } from '../../test/support/kube-api/secrets.js';
import { type MlpPeer, startMlp } from '../../test/support/mlp/index.js';
import { createJwtIssuer, type JwtIssuer, serviceAccountClaims } from '../../test/support/oidc/jwt-issuer.js';
import { tempDir } from '../lib/processes.js';

const CLUSTER_ISSUER = 'https://kubernetes.default.svc.cluster.local';
const MLP_AUDIENCE = 'api.caraml';
const SERVICE_ACCOUNT = 'flyte-task';
const KUBE_TOKEN = 'bench-kube-api-token';

/** statfs(2) f_type of tmpfs. */
const TMPFS_MAGIC = 0x01021994;
const SHM = '/dev/shm';

/**
 * Where the pods' secret volumes go: a tmpfs when the machine has one at /dev/shm, because the
 * volume the webhook gives a pod is an in-memory emptyDir (tmpfs), where fsync costs nothing. On a
 * disk-backed temp dir each file's fsync reaches the disk (~1 ms each on this VM's ext4, far more
 * while other work writes), which no pod pays; `volumes` in the results says which it was.
 */
function volumeParent(): { parent: string | undefined; volumes: string } {
  try {
    if (existsSync(SHM) && statfsSync(SHM).type === TMPFS_MAGIC) return { parent: SHM, volumes: `tmpfs (${SHM})` };
  } catch {
    // no statfs here: use the temp dir
  }
  return { parent: undefined, volumes: 'the OS temp dir (not a tmpfs: every fsync reaches the disk, unlike a pod)' };
}

export interface Peers {
  dir: string;
  /** Parent of the pods' secret volumes, and what kind of filesystem it is. */
  volumeDir: string;
  volumes: string;
  caFile: string;
  cluster: JwtIssuer;
  mlp: MlpPeer;
  kube: KubeSecretsApi;
  close(): Promise<void>;
}

export async function startPeers(): Promise<Peers> {
  const temp = tempDir('dap-bench-fetcher-');
  const dir = temp.path;
  const { parent, volumes } = volumeParent();
  const volumeTemp = parent === undefined ? temp : tempDir('dap-bench-fetcher-volumes-', parent);
  const started: { close(): Promise<void> }[] = [];
  try {
    const ca = await createCertificateAuthority();
    const caFile = join(dir, 'ca.crt');
    await writeFile(caFile, ca.certPem);
    const cluster = await createJwtIssuer(CLUSTER_ISSUER);
    const mlp = await startMlp({ jwks: cluster.jwks, issuer: CLUSTER_ISSUER, audience: MLP_AUDIENCE });
    started.push(mlp);
    const kube = await startKubeSecretsApi({
      tls: await ca.issueServer('127.0.0.1', ['127.0.0.1', 'localhost']),
      token: KUBE_TOKEN,
    });
    started.push(kube);
    const close = async () => {
      await Promise.allSettled([mlp.close(), kube.close()]);
      temp.remove();
      volumeTemp.remove();
    };
    return { dir, volumeDir: volumeTemp.path, volumes, caFile, cluster, mlp, kube, close };
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.close()));
    temp.remove();
    volumeTemp.remove();
    throw err;
  }
}

/** An MLP project (named like the pods' namespace) the pods' service account may read, holding `secrets`. */
export function addProject(peers: Peers, namespace: string, secrets: Record<string, string>): void {
  peers.mlp.data.addProject({
    name: namespace,
    readers: [`system:serviceaccount:${namespace}:${SERVICE_ACCOUNT}`],
    secrets,
  });
}

export interface BenchPod {
  env: Record<string, string>;
  volume: string;
  namespace: string;
  name: string;
}

/**
 * One pod's init-container environment, as the webhook would give it (`contract/fetcher-env.ts`
 * names), with a fresh volume and token; `plan` without `fileRoot` (the volume is filled in).
 */
export async function makePod(
  peers: Peers,
  namespace: string,
  name: string,
  uid: string,
  plan: Omit<Plan, 'fileRoot'>,
): Promise<BenchPod> {
  const podDir = join(peers.dir, `${namespace}-${name}`);
  const volume = join(peers.volumeDir, `${namespace}-${name}`);
  await mkdir(podDir, { recursive: true });
  await mkdir(volume, { recursive: true });
  const mlpTokenFile = join(podDir, 'mlp-token');
  const kubeTokenFile = join(podDir, 'kube-token');
  await writeFile(
    mlpTokenFile,
    await peers.cluster.sign(serviceAccountClaims(namespace, SERVICE_ACCOUNT, MLP_AUDIENCE, name, uid)),
  );
  await writeFile(kubeTokenFile, KUBE_TOKEN);
  const fullPlan: Plan = { ...plan, fileRoot: plan.files.length > 0 ? volume : '' };
  return {
    volume,
    namespace,
    name,
    env: {
      [E.plan]: JSON.stringify(fullPlan),
      [E.podName]: name,
      [E.podNamespace]: namespace,
      [E.podUid]: uid,
      [E.podServiceAccount]: SERVICE_ACCOUNT,
      [E.mlpApiHost]: peers.mlp.url,
      [E.authMode]: 'serviceaccount',
      [E.mlpTokenFile]: mlpTokenFile,
      [E.tokenAudience]: MLP_AUDIENCE,
      [E.kubeApiUrl]: peers.kube.url,
      [E.kubeTokenFile]: kubeTokenFile,
      [E.kubeCaFile]: peers.caFile,
      [E.deadlineSeconds]: '20',
      [E.terminationLog]: join(podDir, 'termination-log'),
    },
  };
}
