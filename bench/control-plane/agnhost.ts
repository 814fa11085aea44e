/**
 * agnhost (Kubernetes' e2e test image, built by test/e2e/provision/k8s.sh from the same module
 * graph as the API server) serving its `webhook` subcommand: `/mutating-pods` decodes the pod with
 * the API machinery's deserializer and answers allowed (it patches only a pod literally named
 * `webhook-to-be-mutated`, so here it is "a Go webhook that reads every pod").
 * `/mutating-pods-sidecar` (with `--sidecar-image`) does the same and answers a one-operation
 * JSON patch adding a small container: "a Go webhook that changes every pod", which costs the
 * API server what any mutation does (apply the patch, decode the pod again, re-run the chain).
 *
 * agnhost listens on every interface (`:<port>`, no flag to change it). Every server here must
 * listen on loopback or inside a network namespace the run created, so agnhost runs in its own
 * namespace, reached over a veth pair with a random 10.254.x.0/30 (host .1, agnhost .2): the API
 * server calls it there, as it calls a webhook Service in a cluster. The namespace (and with it
 * the veth) is deleted when done, or when the process exits.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ControlPlane } from '../../test/e2e/harness/controlPlane.js';
import { type ManagedProcess, startProcess } from '../../test/e2e/harness/processes.js';
import { provision } from '../../test/e2e/harness/provisioned.js';

export interface Agnhost {
  process: ManagedProcess;
  /** https://10.254.x.2:<port>/mutating-pods */
  url: string;
  /** https://10.254.x.2:<port>/mutating-pods-sidecar: a one-operation patch for every pod. */
  sidecarUrl: string;
  stop(): Promise<void>;
}

const PORT = 8443;
const namespaces = new Set<string>();
process.once('exit', () => {
  for (const ns of namespaces) deleteNamespace(ns);
});

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function deleteNamespace(ns: string): void {
  try {
    ip('netns', 'del', ns); // also removes both ends of the veth
  } catch {
    // already gone
  }
  namespaces.delete(ns);
}

export async function startAgnhost(cp: ControlPlane): Promise<Agnhost> {
  const bin = join(await provision('k8s.sh'), 'agnhost');
  const subnet = 1 + Math.floor(Math.random() * 250);
  const ns = `dap-bench-agnhost-${process.pid}`;
  const [hostIf, podIf] = [`dapb${process.pid % 100_000}h`, `dapb${process.pid % 100_000}a`];
  const [hostIp, agnhostIp] = [`10.254.${subnet}.1`, `10.254.${subnet}.2`];
  namespaces.add(ns);
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', podIf);
    ip('link', 'set', podIf, 'netns', ns);
    ip('addr', 'add', `${hostIp}/30`, 'dev', hostIf);
    ip('link', 'set', hostIf, 'up');
    ip('-n', ns, 'addr', 'add', `${agnhostIp}/30`, 'dev', podIf);
    ip('-n', ns, 'link', 'set', podIf, 'up');
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  } catch (err) {
    deleteNamespace(ns);
    throw new Error(
      `could not create network namespace ${ns} for agnhost: ${(err as { stderr?: Buffer }).stderr?.toString().trim() ?? (err as Error).message}`,
    );
  }
  const serving = await cp.ca.issueServer('agnhost', [agnhostIp]);
  const certFile = join(cp.dir, 'agnhost.crt');
  const keyFile = join(cp.dir, 'agnhost.key');
  writeFileSync(certFile, serving.certPem);
  writeFileSync(keyFile, serving.keyPem, { mode: 0o600 });
  // `ip netns exec` enters the namespace and execs agnhost: the recorded PID is agnhost's.
  const proc = startProcess(
    'agnhost',
    'ip',
    [
      'netns',
      'exec',
      ns,
      bin,
      'webhook',
      `--tls-cert-file=${certFile}`,
      `--tls-private-key-file=${keyFile}`,
      `--port=${PORT}`,
      // Never pulled: the bench's pods are never scheduled.
      '--sidecar-image=registry.invalid/dap-bench/sidecar:1',
    ],
    {
      logPath: join(cp.dir, 'agnhost.log'),
      env: { PATH: process.env.PATH },
    },
  );
  const stop = async () => {
    await proc.stop(3_000);
    deleteNamespace(ns);
  };
  return {
    process: proc,
    url: `https://${agnhostIp}:${PORT}/mutating-pods`,
    sidecarUrl: `https://${agnhostIp}:${PORT}/mutating-pods-sidecar`,
    stop,
  };
}
