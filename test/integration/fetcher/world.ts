/**
 * Everything the built fetcher talks to, as real HTTP peers on 127.0.0.1, and a way to run it:
 * - a "cluster" JWT issuer (signs projected service-account tokens),
 * - MLP: the stand-in behind the Oathkeeper-like gateway, trusting the cluster issuer, the OIDC
 *   provider and "Google" (the metadata server's key), audience api.caraml,
 * - an oidc-provider with the token-exchange grant (HTTPS, test CA),
 * - the GKE metadata server slice,
 * - the Kubernetes Secrets API stand-in (HTTPS, test CA, bearer token).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { type MetadataServer, startMetadataServer } from '../../support/gcp-metadata/server.js';
import { createCertificateAuthority } from '../../support/k8s/pki.js';
import { type KubeSecretsApi, startKubeSecretsApi } from '../../support/kube-api/secrets.js';
import { type MlpPeer, startMlp } from '../../support/mlp/index.js';
import { createJwtIssuer, type JwtIssuer, serviceAccountClaims } from '../../support/oidc/jwt-issuer.js';
import { startTokenExchangeProvider, type TokenExchangeProvider } from '../../support/oidc/provider.js';

export const ROOT = resolve(import.meta.dirname, '../../..');
export const EXECUTABLE = join(ROOT, 'dist', 'dap-secret-fetcher');
const CLUSTER_ISSUER = 'https://kubernetes.default.svc.cluster.local';
const MLP_AUDIENCE = 'api.caraml';
/** The audience of the projected token used as a token-exchange subject: not one MLP accepts. */
export const EXCHANGE_SUBJECT_AUDIENCE = 'dap-token-exchange';
export const EXCHANGE_CLIENT = {
  client_id: 'dap-fetcher-confidential',
  client_secret: 'client-secret-0123456789abcdef-not-for-logs',
};
const PUBLIC_CLIENT_ID = 'dap-secret-fetcher';
export const GOOGLE_SA_EMAIL = 'flyte-task@caraml-project.iam.gserviceaccount.com';
const KUBE_TOKEN = 'kube-api-token-6d1f8e0b2c4a-not-for-logs';

/** Builds the executable when it is missing or older than the fetcher's sources. */
export function ensureExecutable(): void {
  const newest = (dir: string): number =>
    Math.max(
      ...readdirSync(dir, { withFileTypes: true }).map((e) =>
        e.isDirectory() ? newest(join(dir, e.name)) : e.name.endsWith('.ts') ? statSync(join(dir, e.name)).mtimeMs : 0,
      ),
    );
  if (existsSync(EXECUTABLE) && statSync(EXECUTABLE).mtimeMs >= newest(join(ROOT, 'fetcher'))) return;
  const built = spawnSync(join(ROOT, 'node_modules', 'node', 'bin', 'node'), ['scripts/build-fetcher.mjs'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (built.status !== 0) throw new Error(`npm run build:fetcher failed:\n${built.stderr}`);
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON lines. */
  logs: Record<string, unknown>[];
  termination: string;
}

export interface World {
  dir: string;
  caFile: string;
  cluster: JwtIssuer;
  mlp: MlpPeer;
  oidc: TokenExchangeProvider;
  metadata: MetadataServer;
  kube: KubeSecretsApi;
  kubeToken: string;
  close(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'dap-fetcher-it-'));
  const ca = await createCertificateAuthority();
  const caFile = join(dir, 'ca.crt');
  await writeFile(caFile, ca.certPem);
  const tls = await ca.issueServer('127.0.0.1', ['127.0.0.1', 'localhost']);
  const cluster = await createJwtIssuer(CLUSTER_ISSUER);
  const metadata = await startMetadataServer(GOOGLE_SA_EMAIL);
  const oidc = await startTokenExchangeProvider({
    tls,
    subjectIssuer: CLUSTER_ISSUER,
    subjectJwks: cluster.jwks,
    subjectAudience: EXCHANGE_SUBJECT_AUDIENCE,
    accessTokenAudience: MLP_AUDIENCE,
    clients: [EXCHANGE_CLIENT, { client_id: PUBLIC_CLIENT_ID }],
  });
  // The gateway trusts three issuers, like a CaraML gateway configured for each auth mode.
  const trusted: JSONWebKeySet = { keys: [...cluster.jwks.keys, ...metadata.jwks.keys, ...oidc.jwks.keys] };
  const keys: JWTVerifyGetKey = createLocalJWKSet(trusted);
  const mlp = await startMlp({
    jwks: keys,
    issuer: [CLUSTER_ISSUER, metadata.issuer, oidc.issuer],
    audience: MLP_AUDIENCE,
  });
  const kube = await startKubeSecretsApi({ tls, token: KUBE_TOKEN });
  return {
    dir,
    caFile,
    cluster,
    mlp,
    oidc,
    metadata,
    kube,
    kubeToken: KUBE_TOKEN,
    close: async () => {
      await Promise.allSettled([mlp.close(), oidc.close(), metadata.close(), kube.close()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface PlanSpec {
  project: string;
  files?: [mlpSecret: string, path: string][];
  secret?: { name: string; keys: [mlpSecret: string, key: string][] } | null;
  fileMode?: number;
  dirMode?: number;
}

export function planJson(spec: PlanSpec, fileRoot: string): string {
  return JSON.stringify({
    version: 1,
    project: spec.project,
    fileRoot,
    files: (spec.files ?? []).map(([mlpSecret, path]) => ({ mlpSecret, path })),
    fileMode: spec.fileMode ?? 0o440,
    dirMode: spec.dirMode ?? 0o750,
    secret: spec.secret
      ? { name: spec.secret.name, keys: spec.secret.keys.map(([mlpSecret, key]) => ({ mlpSecret, key })) }
      : null,
  });
}

/** One pod: its namespace, service account, token files, volume and termination log. */
export interface Pod {
  name: string;
  namespace: string;
  uid: string;
  serviceAccount: string;
  dir: string;
  volume: string;
  terminationLog: string;
  mlpTokenFile: string;
  kubeTokenFile: string;
  /** The identity MLP sees for this pod's projected token. */
  identity: string;
}

let podCounter = 0;

export async function makePod(world: World, options: { mlpTokenAudience?: string; name?: string } = {}): Promise<Pod> {
  podCounter++;
  const namespace = `team-${podCounter}`;
  const serviceAccount = 'flyte-task';
  const name = options.name ?? `wf-${podCounter}-n0-0`;
  const uid = `0d6f6a8e-1c2b-4d5e-9f00-${String(podCounter).padStart(12, '0')}`;
  const dir = await mkdtemp(join(world.dir, `${namespace}-`));
  const volume = join(dir, 'volume');
  await mkdir(volume);
  const mlpTokenFile = join(dir, 'mlp-token');
  const kubeTokenFile = join(dir, 'kube-token');
  await writeFile(
    mlpTokenFile,
    await world.cluster.sign(
      serviceAccountClaims(namespace, serviceAccount, options.mlpTokenAudience ?? MLP_AUDIENCE, name, uid),
    ),
  );
  await writeFile(kubeTokenFile, world.kubeToken);
  return {
    name,
    namespace,
    uid,
    serviceAccount,
    dir,
    volume,
    terminationLog: join(dir, 'termination-log'),
    mlpTokenFile,
    kubeTokenFile,
    identity: `system:serviceaccount:${namespace}:${serviceAccount}`,
  };
}

/** The env the webhook would give the init container, pointed at this world. */
export function podEnv(
  world: World,
  pod: Pod,
  plan: PlanSpec,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    DAP_PLAN: planJson(plan, pod.volume),
    POD_NAME: pod.name,
    POD_NAMESPACE: pod.namespace,
    POD_UID: pod.uid,
    POD_SERVICE_ACCOUNT: pod.serviceAccount,
    MLP_API_HOST: world.mlp.url,
    MLP_AUTH_MODE: 'serviceaccount',
    MLP_TOKEN_FILE: pod.mlpTokenFile,
    MLP_TOKEN_AUDIENCE: MLP_AUDIENCE,
    DAP_KUBE_API_URL: world.kube.url,
    DAP_KUBE_TOKEN_FILE: pod.kubeTokenFile,
    DAP_KUBE_CA_FILE: world.caFile,
    DAP_DEADLINE_SECONDS: '20',
    DAP_TERMINATION_LOG: pod.terminationLog,
    ...extra,
  };
}

/**
 * Runs the built executable with exactly `env` (no PATH, no Node: it must be self-contained)
 * and waits for it to exit, bounded by `timeoutMs`. `command` runs another build (e.g. the arm64
 * one under qemu).
 */
export async function runFetcher(
  env: Record<string, string>,
  timeoutMs = 30_000,
  command: [string, string[]] = [EXECUTABLE, []],
): Promise<RunResult> {
  const child = spawn(command[0], command[1], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const code = await new Promise<number | null>((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`the fetcher did not exit within ${timeoutMs} ms; stdout so far:\n${stdout}\nstderr:\n${stderr}`),
      );
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (exitCode) => {
      clearTimeout(timer);
      resolvePromise(exitCode);
    });
  });
  const termination = env.DAP_TERMINATION_LOG ? await readFile(env.DAP_TERMINATION_LOG, 'utf8').catch(() => '') : '';
  const logs = stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`stdout line is not JSON: ${l}`);
      }
    });
  return { code, stdout, stderr, logs, termination };
}

/** A readable failure message for assertions on a run. */
export function describeRun(run: RunResult): string {
  return `exit ${run.code}\n--- stderr ---\n${run.stderr}\n--- stdout ---\n${run.stdout}`;
}
