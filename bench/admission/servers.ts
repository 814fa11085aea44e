/**
 * The two servers under load, both child processes on 127.0.0.1 with the same certificate:
 * the built webhook (`node dist/webhook/dap-secret-webhook.mjs serve`, as the container runs it) and
 * the baseline (baseline-server.mjs). Being processes, their peak RSS is their own.
 */

import { writeFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GOLDEN_ENV } from '../../test/support/goldens.js';
import { generateCertBundle } from '../../webhook/certs.js';
import { WEBHOOK_NODE_FLAGS } from '../../webhook/node-flags.js';
import { type Child, freePort, httpStatus, procStatusBytes, startChild, tempDir, waitFor } from '../lib/processes.js';

const WEBHOOK_BUNDLE = fileURLToPath(new URL('../../dist/webhook/dap-secret-webhook.mjs', import.meta.url));
const BASELINE_SERVER = fileURLToPath(new URL('./baseline-server.mjs', import.meta.url));
export const MUTATE_PATH = '/mutate';

export interface ServerUnderTest {
  name: 'webhook' | 'baseline';
  port: number;
  child: Child;
  /** VmHWM: the most memory the process has held resident so far. */
  peakRssBytes(): number;
  /** The webhook's plain-HTTP health and metrics port (the baseline has none). */
  healthPort?: number;
}

export interface Certificate {
  certFile: string;
  keyFile: string;
  caPem: string;
  /** Removes the files. */
  remove(): void;
}

export async function writeCertificate(): Promise<Certificate> {
  const bundle = await generateCertBundle({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const dir = tempDir('dap-bench-tls-');
  const certFile = join(dir.path, 'tls.crt');
  const keyFile = join(dir.path, 'tls.key');
  writeFileSync(certFile, bundle.certPem);
  writeFileSync(keyFile, bundle.keyPem, { mode: 0o600 });
  return { certFile, keyFile, caPem: bundle.caCertPem, remove: dir.remove };
}

const baseEnv = () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp' });

/**
 * The built webhook with the goldens' admin config, run as the image runs it (the same V8 flags,
 * webhook/node-flags.ts); LOG_LEVEL=warn (no per-request info line). `nodeOptions` (e.g.
 * `--cpu-prof --cpu-prof-dir=...`) go to the webhook process's NODE_OPTIONS.
 */
export async function startWebhook(cert: Certificate, nodeOptions?: string): Promise<ServerUnderTest> {
  const [port, healthPort] = [await freePort(), await freePort()];
  const child = startChild(process.execPath, [...WEBHOOK_NODE_FLAGS, WEBHOOK_BUNDLE, 'serve'], {
    ...baseEnv(),
    ...GOLDEN_ENV,
    WEBHOOK_HOST: '127.0.0.1',
    WEBHOOK_PORT: String(port),
    HEALTH_PORT: String(healthPort),
    WEBHOOK_REGISTER: 'false',
    WEBHOOK_DRAIN_DELAY_SECONDS: '0',
    TLS_SERVER_CERT_FILE: cert.certFile,
    TLS_SERVER_KEY_FILE: cert.keyFile,
    LOG_LEVEL: 'warn',
    ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}),
  });
  try {
    await waitFor('the webhook to report ready on /readyz', async () => {
      if (child.process.exitCode !== null)
        throw new Error(`the webhook exited with ${child.process.exitCode}:\n${child.output()}`);
      return (await httpStatus(healthPort, '/readyz')) === 200 ? true : undefined;
    });
  } catch (err) {
    await child.stop();
    throw err;
  }
  return { name: 'webhook', port, healthPort, child, peakRssBytes: () => procStatusBytes(child.pid, 'VmHWM') };
}

export async function startBaseline(cert: Certificate): Promise<ServerUnderTest> {
  const child = startChild(process.execPath, [BASELINE_SERVER], {
    ...baseEnv(),
    TLS_SERVER_CERT_FILE: cert.certFile,
    TLS_SERVER_KEY_FILE: cert.keyFile,
    WEBHOOK_PORT: '0',
  });
  try {
    const port = await waitFor('the baseline server to print its port', () => {
      if (child.process.exitCode !== null)
        throw new Error(`the baseline server exited with ${child.process.exitCode}:\n${child.output()}`);
      const match = /^listening (\d+)$/m.exec(child.output());
      return match ? Number(match[1]) : undefined;
    });
    return { name: 'baseline', port, child, peakRssBytes: () => procStatusBytes(child.pid, 'VmHWM') };
  } catch (err) {
    await child.stop();
    throw err;
  }
}

/** One request, certificate verified: proves the server answers this body with 200 before it is loaded. */
export function postOnce(port: number, caPem: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: MUTATE_PATH,
        method: 'POST',
        ca: caPem,
        servername: 'localhost',
        headers: { 'content-type': 'application/json' },
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end(body);
  });
}
