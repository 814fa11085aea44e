/**
 * A real Kubernetes control plane for the end-to-end tests: etcd, kube-apiserver and
 * kube-controller-manager, on 127.0.0.1 only, with a throw-away PKI in a temp dir.
 * No kubelet and no scheduler: pods stay Pending, and the harness plays the kubelet's part
 * (see kubelet.ts).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, Health, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { type CertificateAuthority, createCertificateAuthority, createSigningKeyPair } from '../../support/k8s/pki.js';
import { freePort } from './ports.js';
import { keepTempDir, type ManagedProcess, registerTempDir, removeTempDir, startProcess } from './processes.js';
import { kubernetesBinaries } from './provisioned.js';
import { waitFor } from './wait.js';

export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  apiUrl: string;
  /** PEM of the CA that signed the API server's certificate (and every client certificate). */
  caPem: string;
  /** The same CA as a file, for programs that take a path. */
  caFile: string;
  /** Issues more certificates from the cluster CA (e.g. the webhook's serving certificate). */
  ca: CertificateAuthority;
  /** Admin client (O=system:masters). */
  kubeConfig: KubeConfig;
  /** The admin kubeconfig as a file, for programs that take KUBECONFIG. */
  kubeconfigPath: string;
  /** Service-account token issuer (the API server URL, so OIDC discovery resolves from outside). */
  issuer: string;
  /** Audiences the API server accepts for its own authentication. */
  apiAudiences: string[];
  /**
   * The issuer's JWKS. Readable without credentials: the harness binds the built-in
   * `system:service-account-issuer-discovery` ClusterRole to `system:unauthenticated`, as clusters
   * do when an outside party (here: the MLP gateway stand-in) validates their tokens.
   */
  jwksUrl: string;
  /** Temp dir with PKI, data and logs; kept after a failed run (see stop). */
  dir: string;
  processes: ManagedProcess[];
  /** The last log lines of every process, for failure reports. */
  logTails(lines?: number): string;
  /** Stops every process by PID; removes the temp dir unless `keepDir`. */
  stop(opts?: { keepDir?: boolean }): Promise<void>;
}

export interface ControlPlaneOptions {
  /** Bound on each readiness wait. */
  readyTimeoutMs?: number;
  /**
   * The API server's address (default 127.0.0.1). A non-loopback one (the real-node tier's node
   * IP, inside its network namespace) also turns the `kubernetes` Service's endpoint reconciler on,
   * so pods reach the API server through that Service.
   */
  bindAddress?: string;
  /** More IP addresses in the API server's serving certificate (e.g. the `kubernetes` Service's ClusterIP). */
  extraServingIps?: string[];
  /** kube-controller-manager's --controllers (default: the few the harness needs without a kubelet). */
  controllers?: string;
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  const bins = await kubernetesBinaries();
  const dir = await mkdtemp(join(tmpdir(), 'dap-e2e-k8s-'));
  // Keys, kubeconfigs, pod tokens in sandboxes: gone even if the run is cut short.
  registerTempDir(dir);
  const processes: ManagedProcess[] = [];
  const file = (name: string) => join(dir, name);
  const logTails = (lines = 30) =>
    processes.map((p) => `----- ${p.describeExit()}, last lines of ${p.logPath} -----\n${p.tail(lines)}`).join('\n');
  const stopAll = async () => {
    // Reverse start order: clients of etcd go first so they do not log a storm of reconnects.
    for (const p of [...processes].reverse()) await p.stop(3_000);
  };

  try {
    const [etcdClientPort, etcdPeerPort, apiPort, kcmPort] = await uniquePorts(4);
    const bindAddress = opts.bindAddress ?? '127.0.0.1';
    const apiUrl = `https://${bindAddress}:${apiPort}`;
    const issuer = apiUrl;
    const apiAudiences = [issuer];

    // --- PKI ---
    const ca = await createCertificateAuthority('dap-e2e cluster CA');
    const serving = await ca.issueServer('kube-apiserver', [
      ...new Set([
        bindAddress,
        ...(opts.extraServingIps ?? []),
        '127.0.0.1',
        'localhost',
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.cluster.local',
      ]),
    ]);
    const admin = await ca.issueClient('dap-e2e-admin', ['system:masters']);
    // The controller manager runs every loop with its own identity (--use-service-account-credentials=false),
    // which therefore needs every loop's permissions: system:masters.
    const kcmClient = await ca.issueClient('system:kube-controller-manager', ['system:masters']);
    const saKeys = await createSigningKeyPair();
    await Promise.all([
      writeFile(file('ca.crt'), ca.certPem),
      writeFile(file('apiserver.crt'), serving.certPem),
      writeFile(file('apiserver.key'), serving.keyPem, { mode: 0o600 }),
      writeFile(file('sa.key'), saKeys.privateKeyPem, { mode: 0o600 }),
      writeFile(file('sa.pub'), saKeys.publicKeyPem),
    ]);
    const kubeConfig = clientConfig(apiUrl, ca.certPem, 'dap-e2e-admin', admin);
    const kubeconfigPath = file('admin.kubeconfig');
    await writeFile(kubeconfigPath, kubeConfig.exportConfig(), { mode: 0o600 });
    const kcmKubeconfigPath = file('kcm.kubeconfig');
    await writeFile(kcmKubeconfigPath, clientConfig(apiUrl, ca.certPem, 'kcm', kcmClient).exportConfig(), {
      mode: 0o600,
    });

    // --- etcd ---
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const etcdPeerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const etcd = startProcess(
      'etcd',
      bins.etcd,
      [
        '--name=dap-e2e',
        `--data-dir=${file('etcd-data')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${etcdPeerUrl}`,
        `--initial-advertise-peer-urls=${etcdPeerUrl}`,
        `--initial-cluster=dap-e2e=${etcdPeerUrl}`,
        '--unsafe-no-fsync', // throw-away data: durability buys nothing, fsync costs start-up time
        '--log-level=warn',
      ],
      { logPath: file('etcd.log') },
    );
    processes.push(etcd);
    await waitFor(async () => ((await fetch(`${etcdUrl}/health`)).ok ? true : undefined), {
      what: `etcd to report healthy at ${etcdUrl}`,
      timeoutMs: readyTimeoutMs,
      abortIf: exitedReason(etcd),
    });

    // --- kube-apiserver ---
    const apiserver = startProcess(
      'kube-apiserver',
      bins.kubeApiserver,
      [
        `--etcd-servers=${etcdUrl}`,
        `--bind-address=${bindAddress}`,
        `--advertise-address=${bindAddress}`,
        `--secure-port=${apiPort}`,
        `--cert-dir=${file('apiserver-certs')}`,
        `--tls-cert-file=${file('apiserver.crt')}`,
        `--tls-private-key-file=${file('apiserver.key')}`,
        `--client-ca-file=${file('ca.crt')}`,
        `--service-account-issuer=${issuer}`,
        `--service-account-key-file=${file('sa.pub')}`,
        `--service-account-signing-key-file=${file('sa.key')}`,
        `--api-audiences=${apiAudiences.join(',')}`,
        '--service-cluster-ip-range=10.96.0.0/24',
        '--authorization-mode=Node,RBAC',
        // On top of the defaults (which include ServiceAccount and NamespaceLifecycle); named so the
        // test's premise is visible here.
        '--enable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook,PodSecurity,ServiceAccount,NamespaceLifecycle',
        '--anonymous-auth=true',
        // On loopback the `kubernetes` Service would point at 127.0.0.1, which Endpoints refuse; no pod runs to use it.
        ...(bindAddress === '127.0.0.1' ? ['--endpoint-reconciler-type=none'] : []),
        '--profiling=false',
      ],
      { logPath: file('kube-apiserver.log') },
    );
    processes.push(apiserver);
    const health = new Health(kubeConfig);
    await waitFor(async () => ((await health.readyz({})) ? true : undefined), {
      what: `kube-apiserver /readyz at ${apiUrl}`,
      timeoutMs: readyTimeoutMs,
      intervalMs: 200,
      abortIf: exitedReason(apiserver),
    });

    // --- kube-controller-manager ---
    const kcm = startProcess(
      'kube-controller-manager',
      bins.kubeControllerManager,
      [
        `--kubeconfig=${kcmKubeconfigPath}`,
        `--authentication-kubeconfig=${kcmKubeconfigPath}`,
        `--authorization-kubeconfig=${kcmKubeconfigPath}`,
        '--authentication-skip-lookup', // the API server has no front-proxy CA to look up
        '--bind-address=127.0.0.1',
        `--secure-port=${kcmPort}`,
        `--cert-dir=${file('kcm-certs')}`,
        '--leader-elect=false',
        '--use-service-account-credentials=false',
        `--root-ca-file=${file('ca.crt')}`,
        `--service-account-private-key-file=${file('sa.key')}`,
        `--controllers=${opts.controllers ?? 'garbage-collector-controller,serviceaccount-controller,serviceaccount-token-controller,root-ca-certificate-publisher-controller,namespace-controller'}`,
      ],
      { logPath: file('kube-controller-manager.log') },
    );
    processes.push(kcm);

    // Readable without credentials, so the MLP gateway stand-in needs only the CA (see jwksUrl).
    await kubeConfig.makeApiClient(RbacAuthorizationV1Api).createClusterRoleBinding({
      body: {
        metadata: { name: 'dap-e2e:service-account-issuer-discovery:unauthenticated' },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'system:service-account-issuer-discovery',
        },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:unauthenticated' }],
      },
    });

    // Ready for pods when the controllers did their part in `default`: the ServiceAccount
    // admission plugin refuses pods whose service account does not exist yet.
    const core = kubeConfig.makeApiClient(CoreV1Api);
    await waitFor(
      async () => {
        await core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' });
        await core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: 'default' });
        return true;
      },
      {
        what: 'kube-controller-manager to create the default service account and kube-root-ca.crt',
        timeoutMs: readyTimeoutMs,
        intervalMs: 200,
        abortIf: exitedReason(kcm),
      },
    );

    return {
      apiUrl,
      caPem: ca.certPem,
      caFile: file('ca.crt'),
      ca,
      kubeConfig,
      kubeconfigPath,
      issuer,
      apiAudiences,
      jwksUrl: `${apiUrl}/openid/v1/jwks`,
      dir,
      processes,
      logTails,
      async stop({ keepDir = false } = {}) {
        await stopAll();
        if (keepDir) keepTempDir(dir);
        else await removeTempDir(dir);
      },
    };
  } catch (err) {
    const report = logTails();
    await stopAll();
    keepTempDir(dir);
    throw new Error(
      `the e2e control plane did not start: ${(err as Error).message}\n(files kept in ${dir})\n${report}`,
      { cause: err },
    );
  }
}

/** A kubeconfig for `server` with a client certificate issued by the cluster CA. */
export function clientConfig(
  server: string,
  caPem: string,
  user: string,
  cred: { certPem: string; keyPem: string },
): KubeConfig {
  const kc = new KubeConfig();
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  kc.loadFromOptions({
    clusters: [{ name: 'dap-e2e', server, caData: b64(caPem), skipTLSVerify: false }],
    users: [{ name: user, certData: b64(cred.certPem), keyData: b64(cred.keyPem) }],
    contexts: [{ name: 'dap-e2e', cluster: 'dap-e2e', user }],
    currentContext: 'dap-e2e',
  });
  return kc;
}

function exitedReason(p: ManagedProcess): () => string | undefined {
  return () => (p.hasExited ? p.describeExit() : undefined);
}

/** Distinct free ports (the kernel may hand the same one out twice once it is released). */
async function uniquePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let attempts = 0; ports.size < n && attempts < n * 10; attempts++) ports.add(await freePort());
  if (ports.size < n) throw new Error(`could not find ${n} distinct free ports on 127.0.0.1`);
  return [...ports];
}
