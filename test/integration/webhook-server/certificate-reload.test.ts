/**
 * Certificate rotation without a restart: when the files change on disk, new TLS connections
 * get the new certificate, open connections keep working, and an unusable intermediate state
 * (new certificate next to the old key) keeps the previous certificate.
 *
 * The fallback poll is set to a minute here, so these tests pass only if the directory watch
 * itself notices the change, including Kubernetes' `..data` symlink swap.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { connect as http2Connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CertBundle, generateCertBundle } from '../../../webhook/certs.js';
import {
  admissionReview,
  flytePod,
  getHealth,
  servedCertificateSerial,
  startTestServer,
  type TestServer,
  waitFor,
} from './support.js';

const LOCAL = { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] };
const serial = (b: CertBundle) => new X509Certificate(b.certPem).serialNumber;

async function reloadCount(server: TestServer, result: 'success' | 'failure'): Promise<number> {
  const metrics = (await getHealth(server.running.healthPort, '/metrics')).body;
  const line = metrics
    .split('\n')
    .find((l) => l.startsWith(`dap_secret_webhook_certificate_reloads_total{result="${result}"} `));
  return Number(line?.split(' ')[1]);
}

/** Writes a file the way a careful tool does: a temp file renamed over the old one. */
async function replaceFile(path: string, content: string): Promise<void> {
  await writeFile(`${path}.tmp`, content);
  await rename(`${path}.tmp`, path);
}

describe('webhook server: certificate hot-reload', function () {
  let dir: string;
  let server: TestServer | undefined;
  let first: CertBundle;
  let second: CertBundle;
  let third: CertBundle;

  before(async function () {
    [first, second, third] = await Promise.all([
      generateCertBundle(LOCAL),
      generateCertBundle(LOCAL),
      generateCertBundle(LOCAL),
    ]);
  });
  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'dap-webhook-certs-'));
  });
  afterEach(async function () {
    await server?.stop();
    server = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  const trustAll = () => [first, second, third].map((b) => b.caCertPem);

  it('serves the new certificate on new connections after the files are replaced, without a restart', async function () {
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    await writeFile(certFile, first.certPem);
    await writeFile(keyFile, first.keyPem);
    server = await startTestServer(
      { TLS_SERVER_CERT_FILE: certFile, TLS_SERVER_KEY_FILE: keyFile },
      { fileCheckIntervalMs: 60_000 },
      trustAll(),
    );
    const port = server.running.port;
    assert.equal(await servedCertificateSerial(port, trustAll()), serial(first));

    // An HTTP/2 session opened before the rotation...
    const session = http2Connect(`https://127.0.0.1:${port}`, { ca: trustAll() });
    try {
      await new Promise<void>((resolve, reject) => session.once('connect', () => resolve()).once('error', reject));

      // Key first, then certificate: in between the pair does not match and must not be applied.
      await replaceFile(keyFile, second.keyPem);
      await replaceFile(certFile, second.certPem);
      await waitFor('a new connection to present the second certificate', async () =>
        (await servedCertificateSerial(port, trustAll())) === serial(second) ? true : undefined,
      );
      assert.ok((await reloadCount(server, 'success')) >= 1);

      // ...still works after it: nothing restarted.
      const status = await new Promise<number>((resolve, reject) => {
        const req = session.request({ ':method': 'POST', ':path': '/mutate', 'content-type': 'application/json' });
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
        req.end(JSON.stringify(admissionReview(flytePod({ labelled: false }))));
      });
      assert.equal(status, 200);
    } finally {
      session.close();
    }
    assert.ok(
      server.log.lines.some(
        (l) =>
          l.msg === 'reloaded the serving certificate; new connections use it' && l.serialNumber === serial(second),
      ),
    );
  });

  it('follows a Kubernetes Secret volume update (the ..data symlink swap)', async function () {
    // The layout the kubelet writes: tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>/
    const writeVersion = async (name: string, b: CertBundle) => {
      await mkdir(join(dir, name));
      await writeFile(join(dir, name, 'tls.crt'), b.certPem);
      await writeFile(join(dir, name, 'tls.key'), b.keyPem);
      await writeFile(join(dir, name, 'ca.crt'), b.caCertPem);
    };
    await writeVersion('..2026_01_01_00_00_00.000000001', first);
    await symlink('..2026_01_01_00_00_00.000000001', join(dir, '..data'));
    for (const f of ['tls.crt', 'tls.key', 'ca.crt']) await symlink(join('..data', f), join(dir, f));

    server = await startTestServer(
      { TLS_SERVER_CERT_FILE: join(dir, 'tls.crt'), TLS_SERVER_KEY_FILE: join(dir, 'tls.key') },
      { fileCheckIntervalMs: 60_000 },
      trustAll(),
    );
    assert.equal(await servedCertificateSerial(server.running.port, trustAll()), serial(first));

    // The kubelet's atomic writer: new timestamped dir, new symlink, renamed over ..data.
    await writeVersion('..2026_02_01_00_00_00.000000002', second);
    await symlink('..2026_02_01_00_00_00.000000002', join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    await rm(join(dir, '..2026_01_01_00_00_00.000000001'), { recursive: true });

    const port = server.running.port;
    await waitFor('the certificate behind the swapped ..data symlink', async () =>
      (await servedCertificateSerial(port, trustAll())) === serial(second) ? true : undefined,
    );
  });

  it('keeps serving the previous certificate while the files are unusable, and recovers', async function () {
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    await writeFile(certFile, first.certPem);
    await writeFile(keyFile, first.keyPem);
    server = await startTestServer(
      { TLS_SERVER_CERT_FILE: certFile, TLS_SERVER_KEY_FILE: keyFile },
      { fileCheckIntervalMs: 60_000 },
      trustAll(),
    );
    const port = server.running.port;

    await replaceFile(certFile, third.certPem); // the key still belongs to `first`
    await waitFor('a failed reload to be counted', async () =>
      (await reloadCount(server!, 'failure')) >= 1 ? true : undefined,
    );
    assert.equal(await servedCertificateSerial(port, trustAll()), serial(first));
    const warning = server.log.lines.find((l) => l.level === 'warn' && String(l.msg).includes('not usable'));
    assert.ok(warning, 'a warning says the new files are not usable');
    assert.ok(!server.log.text().includes('PRIVATE KEY'), 'no key material in the log');

    await replaceFile(keyFile, third.keyPem);
    await waitFor('the third certificate after the key caught up', async () =>
      (await servedCertificateSerial(port, trustAll())) === serial(third) ? true : undefined,
    );
  });

  it('refuses to start with certificate files that do not belong together, naming both files', async function () {
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    await writeFile(certFile, first.certPem);
    await writeFile(keyFile, second.keyPem);
    await assert.rejects(
      startTestServer({ TLS_SERVER_CERT_FILE: certFile, TLS_SERVER_KEY_FILE: keyFile }, {}, trustAll()),
      (err: Error) => {
        assert.match(
          err.message,
          /TLS_SERVER_CERT_FILE .*tls\.crt and TLS_SERVER_KEY_FILE .*tls\.key are not a usable PEM certificate and matching key/,
        );
        return true;
      },
    );
    await assert.rejects(
      startTestServer({ TLS_SERVER_CERT_FILE: join(dir, 'missing.crt'), TLS_SERVER_KEY_FILE: keyFile }, {}, trustAll()),
      /cannot read TLS_SERVER_CERT_FILE .*missing\.crt/,
    );
  });
});
