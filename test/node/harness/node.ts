/**
 * A one-node Kubernetes cluster with real containers, inside the network namespace test/node/run.sh
 * created and runs mocha in: the control plane of the e2e tier (controlPlane.ts) on the node IP
 * with every default controller, kube-scheduler, containerd (Debian's 1.6 + runc, CNI bridge),
 * the kubelet (cgroupfs, cgroup v1) and kube-proxy (iptables), so Services route as in a real
 * cluster: pods reach the API server through the `kubernetes` Service and the API server reaches
 * webhooks through theirs.
 *
 * Host paths are fixed by run.sh/cleanup.sh (NODE_PATHS); everything else lives in a temp dir.
 */
import { execFile } from 'node:child_process';
import { readlinkSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { type ControlPlane, clientConfig, startControlPlane } from '../../e2e/harness/controlPlane.js';
import {
  keepTempDir,
  type ManagedProcess,
  registerTempDir,
  removeTempDir,
  startProcess,
} from '../../e2e/harness/processes.js';
import { provision } from '../../e2e/harness/provisioned.js';
import { waitFor } from '../../e2e/harness/wait.js';

const run = promisify(execFile);

/** The fixed host paths this tier writes (cleanup.sh removes them; test/node/README.md lists who writes what). */
const NODE_PATHS = {
  state: '/run/dap-node',
  lib: '/var/lib/dap-node',
  logs: '/var/log/dap-node',
  containerdSock: '/run/dap-node/containerd/containerd.sock',
  cniConfDir: '/run/dap-node/cni/net.d',
  cniIpamDir: '/run/dap-node/cni/networks',
  kubeletRoot: '/var/lib/dap-node/kubelet',
  podLogs: '/var/log/dap-node/pods',
} as const;

/**
 * Experiments only (bench/README.md, "Issue 14: pod start on the real node"), never set by the
 * tests or CI: another containerd binary (DAP_NODE_CONTAINERD) and kubelet feature gates
 * (DAP_NODE_KUBELET_FEATURE_GATES=EventedPLEG=true,…).
 */
export const EXPERIMENT = {
  containerd: process.env.DAP_NODE_CONTAINERD || 'containerd',
  kubelet: process.env.DAP_NODE_KUBELET_FEATURE_GATES
    ? {
        featureGates: Object.fromEntries(
          process.env.DAP_NODE_KUBELET_FEATURE_GATES.split(',').map((g) => {
            const [name, value] = g.split('=');
            if (!name || (value !== 'true' && value !== 'false'))
              throw new Error(`DAP_NODE_KUBELET_FEATURE_GATES: "${g}" is not Name=true|false`);
            return [name, value === 'true'];
          }),
        ),
      }
    : {},
};

const NODE_NAME = 'dap-node';
const POD_CIDR = '10.214.0.0/24';
const KUBERNETES_SERVICE_IP = '10.96.0.1';

export interface NodeEnvironment {
  netns: string;
  nodeIp: string;
  /** What node.sh provisioned: pause.oci.tar, pause.ref. */
  provisioned: string;
}

/**
 * The tier runs only inside run.sh's network namespace: outside it, the node IP and the iptables
 * rules would be the host's. Says how to run it otherwise.
 */
export function nodeEnvironment(): NodeEnvironment {
  const netns = process.env.DAP_NODE_NETNS;
  const nodeIp = process.env.DAP_NODE_IP;
  const provisioned = process.env.DAP_NODE_PROVISIONED;
  const how = 'run the real-node tier with `npm run test:node` (test/node/run.sh), not mocha directly';
  if (!netns || !nodeIp || !provisioned)
    throw new Error(`DAP_NODE_NETNS/DAP_NODE_IP/DAP_NODE_PROVISIONED are not set: ${how}`);
  const want = statSync(`/run/netns/${netns}`).ino;
  const have = readlinkSync('/proc/self/ns/net');
  if (have !== `net:[${want}]`)
    throw new Error(`this process is not in the network namespace ${netns} (${have}): ${how}`);
  return { netns, nodeIp, provisioned };
}

export interface NodeCluster {
  cp: ControlPlane;
  nodeIp: string;
  /** Admin client. */
  kc: KubeConfig;
  dir: string;
  /** Imports an OCI archive into containerd's k8s.io namespace; returns the image names it holds. */
  importImage(archive: string, tagAs?: string[]): Promise<string[]>;
  /** The kubelet's log files for a pod's container (all restarts), for failure reports. */
  containerLogs(namespace: string, pod: string, container: string): Promise<string>;
  processes: ManagedProcess[];
  logTails(lines?: number): string;
  stop(opts?: { keepDir?: boolean }): Promise<void>;
}

export interface Timings {
  [step: string]: number;
}

export async function startNodeCluster(env: NodeEnvironment, timings: Timings = {}): Promise<NodeCluster> {
  const t = (step: string, since: number) => (timings[step] = Date.now() - since);
  const binDir = await provision('k8s.sh');
  const bin = (name: string) => join(binDir, name);
  const dir = await mkdtemp(join(tmpdir(), 'dap-node-'));
  registerTempDir(dir);
  const file = (name: string) => join(dir, name);
  const processes: ManagedProcess[] = [];
  let cp: ControlPlane | undefined;
  const logTails = (lines = 30) =>
    [
      cp?.logTails(lines) ?? '',
      ...processes.map((p) => `----- ${p.describeExit()}, last lines of ${p.logPath} -----\n${p.tail(lines)}`),
    ].join('\n');
  const stopAll = async () => {
    // The kubelet first (it would restart what we stop), then kube-proxy, the scheduler, containerd.
    for (const p of [...processes].reverse()) await p.stop(10_000);
    await cp?.stop({ keepDir: true });
  };

  try {
    let since = Date.now();
    cp = await startControlPlane({
      bindAddress: env.nodeIp,
      extraServingIps: [KUBERNETES_SERVICE_IP],
      controllers: '*',
    });
    t('control plane (etcd, kube-apiserver, kube-controller-manager)', since);
    const apiUrl = cp.apiUrl;
    const kubeconfigFor = async (name: string, cn: string, groups: string[]) => {
      const cred = await cp!.ca.issueClient(cn, groups);
      const path = file(`${name}.kubeconfig`);
      await writeFile(path, clientConfig(apiUrl, cp!.caPem, cn, cred).exportConfig(), { mode: 0o600 });
      return path;
    };

    // --- containerd ---
    since = Date.now();
    await Promise.all(
      [NODE_PATHS.cniConfDir, NODE_PATHS.cniIpamDir, NODE_PATHS.kubeletRoot, NODE_PATHS.podLogs].map((d) =>
        mkdir(d, { recursive: true }),
      ),
    );
    const pauseRef = (await readFile(join(env.provisioned, 'pause.ref'), 'utf8')).trim();
    await writeFile(file('containerd.toml'), containerdConfig(pauseRef));
    await writeFile(join(NODE_PATHS.cniConfDir, '10-dap-node.conflist'), JSON.stringify(cniConfig(), null, 2));
    const containerd = startProcess('containerd', EXPERIMENT.containerd, ['--config', file('containerd.toml')], {
      logPath: file('containerd.log'),
    });
    processes.push(containerd);
    await waitFor(async () => ((await ctr(['version'])) ? true : undefined), {
      what: `containerd on ${NODE_PATHS.containerdSock}`,
      timeoutMs: 30_000,
      intervalMs: 100,
      abortIf: exitedReason(containerd),
    });
    const importImage = async (archive: string, tagAs: string[] = []) => {
      const before = new Set(await imageNames());
      await ctrOrThrow(['-n', 'k8s.io', 'images', 'import', archive]);
      const added = (await imageNames()).filter((n) => !before.has(n));
      if (tagAs.length && added.length !== 1)
        throw new Error(
          `${archive} added ${added.length} images (${added.join(', ')}); expected one to tag as ${tagAs.join(', ')}`,
        );
      for (const tag of tagAs) {
        await ctr(['-n', 'k8s.io', 'images', 'rm', tag]);
        await ctrOrThrow(['-n', 'k8s.io', 'images', 'tag', added[0]!, tag]);
      }
      return [...added, ...tagAs];
    };
    await importImage(join(env.provisioned, 'pause.oci.tar'));
    t('containerd + pause image', since);

    // --- kube-scheduler, kubelet, kube-proxy ---
    since = Date.now();
    const schedulerKc = await kubeconfigFor('scheduler', 'system:kube-scheduler', []);
    const scheduler = startProcess(
      'kube-scheduler',
      bin('kube-scheduler'),
      [
        `--kubeconfig=${schedulerKc}`,
        `--authentication-kubeconfig=${schedulerKc}`,
        `--authorization-kubeconfig=${schedulerKc}`,
        '--bind-address=127.0.0.1',
        '--secure-port=10259',
        `--cert-dir=${file('scheduler-certs')}`,
        '--leader-elect=false',
      ],
      { logPath: file('kube-scheduler.log') },
    );
    processes.push(scheduler);

    const kubeletKc = await kubeconfigFor('kubelet', `system:node:${NODE_NAME}`, ['system:nodes']);
    await writeFile(
      file('kubelet.yaml'),
      JSON.stringify({ ...kubeletConfig(env.nodeIp, cp.caFile), ...EXPERIMENT.kubelet }, null, 2),
    );
    const kubelet = startProcess(
      'kubelet',
      bin('kubelet'),
      [
        `--config=${file('kubelet.yaml')}`,
        `--kubeconfig=${kubeletKc}`,
        `--root-dir=${NODE_PATHS.kubeletRoot}`,
        `--hostname-override=${NODE_NAME}`,
        `--node-ip=${env.nodeIp}`,
        '--v=1',
      ],
      { logPath: file('kubelet.log') },
    );
    processes.push(kubelet);

    const proxyKc = await kubeconfigFor('kube-proxy', 'system:kube-proxy', []);
    await writeFile(file('kube-proxy.yaml'), JSON.stringify(kubeProxyConfig(proxyKc, env.nodeIp), null, 2));
    const proxy = startProcess('kube-proxy', bin('kube-proxy'), [`--config=${file('kube-proxy.yaml')}`], {
      logPath: file('kube-proxy.log'),
    });
    processes.push(proxy);

    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    await waitFor(
      async () => {
        const node = await core.readNode({ name: NODE_NAME }).catch(() => undefined);
        return node?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? true : undefined;
      },
      {
        what: `node ${NODE_NAME} to be Ready`,
        timeoutMs: 90_000,
        intervalMs: 250,
        abortIf: () =>
          [kubelet, proxy, scheduler, containerd].map((p) => exitedReason(p)()).find((r) => r !== undefined),
      },
    );
    t('kube-scheduler + kubelet + kube-proxy, node Ready', since);

    const cluster: NodeCluster = {
      cp,
      nodeIp: env.nodeIp,
      kc: cp.kubeConfig,
      dir,
      importImage,
      async containerLogs(namespace, pod, container) {
        const podDirs = (await readdir(NODE_PATHS.podLogs).catch(() => [] as string[])).filter((d) =>
          d.startsWith(`${namespace}_${pod}_`),
        );
        const out: string[] = [];
        for (const d of podDirs) {
          const cdir = join(NODE_PATHS.podLogs, d, container);
          for (const f of (await readdir(cdir).catch(() => [] as string[])).sort())
            out.push(await readFile(join(cdir, f), 'utf8'));
        }
        return out.join('');
      },
      processes,
      logTails,
      async stop({ keepDir = false } = {}) {
        await stopAll();
        if (keepDir) keepTempDir(dir);
        else {
          await removeTempDir(dir);
          await cp!.stop({ keepDir: false });
        }
      },
    };
    return cluster;
  } catch (err) {
    const report = logTails();
    await stopAll().catch(() => {});
    keepTempDir(dir);
    throw new Error(`the real node did not start: ${(err as Error).message}\n(files kept in ${dir})\n${report}`, {
      cause: err,
    });
  }
}

async function ctr(args: string[]): Promise<string | undefined> {
  try {
    return (await run('ctr', ['--address', NODE_PATHS.containerdSock, ...args], { maxBuffer: 16 * 1024 * 1024 }))
      .stdout;
  } catch {
    return undefined;
  }
}

async function ctrOrThrow(args: string[]): Promise<string> {
  try {
    return (
      await run('ctr', ['--address', NODE_PATHS.containerdSock, ...args], {
        maxBuffer: 16 * 1024 * 1024,
        timeout: 300_000,
      })
    ).stdout;
  } catch (err) {
    throw new Error(
      `ctr ${args.join(' ')} failed: ${(err as Error & { stderr?: string }).stderr ?? (err as Error).message}`,
    );
  }
}

async function imageNames(): Promise<string[]> {
  return ((await ctr(['-n', 'k8s.io', 'images', 'ls', '-q'])) ?? '')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('sha256:'));
}

function exitedReason(p: ManagedProcess): () => string | undefined {
  return () => (p.hasExited ? `${p.describeExit()}\n${p.tail(30)}` : undefined);
}

function containerdConfig(pauseRef: string): string {
  return `version = 2
root = "${NODE_PATHS.lib}/containerd"
state = "${NODE_PATHS.state}/containerd"
# Not needed here, and the opt plugin would create /opt/containerd.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "${NODE_PATHS.containerdSock}"
[plugins."io.containerd.grpc.v1.cri"]
  # No registry: the pause image is built locally (test/e2e/provision/node.sh).
  sandbox_image = "${pauseRef}"
  # Root here lacks CAP_SYS_RESOURCE: without this, runc fails every sandbox setting oom_score_adj -998.
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${NODE_PATHS.cniConfDir}"
`;
}

function cniConfig() {
  return {
    cniVersion: '0.4.0',
    name: 'dap-node',
    plugins: [
      {
        type: 'bridge',
        bridge: 'cni0',
        isGateway: true,
        // The pods' default route: to the node (Services, the API server, the MLP gateway); the node has none beyond.
        isDefaultGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: POD_CIDR }]], dataDir: NODE_PATHS.cniIpamDir },
      },
    ],
  };
}

function kubeletConfig(nodeIp: string, caFile: string) {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    address: nodeIp,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: caFile } },
    authorization: { mode: 'Webhook' },
    containerRuntimeEndpoint: `unix://${NODE_PATHS.containerdSock}`,
    cgroupDriver: 'cgroupfs',
    // Everything the node runs lives under /dap-node in every hierarchy: cleanup.sh finds it there.
    cgroupRoot: '/dap-node',
    // This machine is cgroup v1 (the kubelet logs a maintenance-mode warning).
    failCgroupV1: false,
    failSwapOn: false,
    podLogsDir: NODE_PATHS.podLogs,
    // No cluster DNS: pods use IPs (MissingClusterDNS events are expected).
    resolvConf: '',
    // A shared test machine: never evict or garbage-collect images because the disk looks full.
    evictionHard: {
      'memory.available': '1Mi',
      'nodefs.available': '0%',
      'nodefs.inodesFree': '0%',
      'imagefs.available': '0%',
    },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    // Pods and their status reach the API server quickly (defaults are tuned for big clusters).
    nodeStatusUpdateFrequency: '5s',
    syncFrequency: '10s',
    maxPods: 250,
  };
}

function kubeProxyConfig(kubeconfig: string, nodeIp: string) {
  return {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    clientConnection: { kubeconfig },
    hostnameOverride: NODE_NAME,
    bindAddress: nodeIp,
    clusterCIDR: POD_CIDR,
    healthzBindAddress: '127.0.0.1:10256',
    metricsBindAddress: '127.0.0.1:10249',
    // 0: leave the (host-wide) conntrack sysctls alone.
    conntrack: { maxPerCore: 0, min: 0 },
    // Pods reaching a Service backed by a pod on the same bridge get their replies through the node.
    iptables: { masqueradeAll: true },
  };
}
