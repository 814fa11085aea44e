/**
 * Self-registration against a real kube-apiserver (the e2e harness's control plane, shared per
 * mocha run): created when absent, updated when present, caBundle re-applied when the CA file
 * changes, service vs URL client config, retries while the API server is unreachable, and a
 * readable reason when RBAC forbids it. The API server validates every object we send, so a
 * field it would reject fails here, not in a customer's cluster.
 *
 * Every configuration made here is deleted after its test and limited by a namespaceSelector to
 * a namespace of this file, so other suites sharing the control plane never see it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import {
  createServer as createTcpServer,
  type Socket,
  type Server as TcpServer,
  connect as tcpConnect,
} from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdmissionregistrationV1Api, ApiException, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { generateCertBundle } from '../../../webhook/certs.js';
import type { ControlPlane } from '../../e2e/harness/controlPlane.js';
import { START_TIMEOUT_MS, sharedControlPlane } from '../../e2e/harness/shared.js';
import { flytePod, freePort, getHealth, secret, startTestServer, type TestServer, waitFor } from './support.js';

const NAMESPACE = 'dap-webhook-server-it';
/** The client's model classes as plain JSON, for deepEqual. */
const plain = (x: unknown): unknown => JSON.parse(JSON.stringify(x)) as unknown;
const NS_SELECTOR = JSON.stringify({ matchLabels: { 'dap-webhook-server-it': 'true' } });

describe('webhook server: self-registration with a real kube-apiserver', function () {
  let cp: ControlPlane;
  let api: AdmissionregistrationV1Api;
  let dir: string;
  let server: TestServer | undefined;
  let names: string[] = [];
  let n = 0;

  before(async function () {
    this.timeout(START_TIMEOUT_MS);
    cp = await sharedControlPlane();
    api = cp.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    await core
      .createNamespace({ body: { metadata: { name: NAMESPACE, labels: { 'dap-webhook-server-it': 'true' } } } })
      .catch((err: unknown) => {
        if (!(err instanceof ApiException && err.code === 409)) throw err;
      });
    await waitFor(
      `the default service account in ${NAMESPACE}`,
      async () => (await core.readNamespacedServiceAccount({ name: 'default', namespace: NAMESPACE })) && true,
      60_000,
    );
  });
  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'dap-webhook-reg-'));
  });
  afterEach(async function () {
    await server?.stop();
    server = undefined;
    for (const name of names) await api.deleteMutatingWebhookConfiguration({ name }).catch(() => undefined);
    names = [];
    await rm(dir, { recursive: true, force: true });
  });

  const uniqueName = () => {
    const name = `dap-webhook-server-it-${process.pid}-${++n}`;
    names.push(name);
    return name;
  };
  const read = (name: string) => api.readMutatingWebhookConfiguration({ name });
  const waitReady = (s: TestServer) =>
    waitFor(
      '/readyz to answer 200',
      async () => ((await getHealth(s.running.healthPort, '/readyz')).status === 200 ? true : undefined),
      30_000,
    );
  const registrationCount = async (s: TestServer, result: string) => {
    const body = (await getHealth(s.running.healthPort, '/metrics')).body;
    return Number(
      body
        .split('\n')
        .find((l) => l.startsWith(`dap_secret_webhook_registration_attempts_total{result="${result}"} `))
        ?.split(' ')[1],
    );
  };
  const writeCa = async (pem: string) => {
    const file = join(dir, 'ca.crt');
    await writeFile(`${file}.tmp`, pem);
    await rename(`${file}.tmp`, file);
    return file;
  };

  it('creates the configuration when absent: service client config and every field of the design', async function () {
    const name = uniqueName();
    const ca = await generateCertBundle({ dnsNames: ['localhost'] });
    const caFile = await writeCa(ca.caCertPem);
    server = await startTestServer({
      KUBECONFIG: cp.kubeconfigPath,
      WEBHOOK_NAME: name,
      WEBHOOK_SERVICE_NAME: 'dap-secret-webhook',
      WEBHOOK_SERVICE_NAMESPACE: 'dap-system',
      WEBHOOK_SERVICE_PORT: '443',
      WEBHOOK_MUTATE_PATH: '/mutate-pods',
      WEBHOOK_NAMESPACE_SELECTOR: NS_SELECTOR,
      WEBHOOK_TIMEOUT_SECONDS: '7',
      TLS_CA_CERT_FILE: caFile,
    });
    await waitReady(server);
    assert.match((await getHealth(server.running.healthPort, '/readyz')).body, /registration: registered/);

    const mwc = await read(name);
    assert.equal(mwc.metadata?.labels?.['app.kubernetes.io/managed-by'], 'dap-secret-webhook');
    assert.equal(mwc.webhooks?.length, 1);
    const w = mwc.webhooks![0]!;
    assert.equal(w.name, 'flyte-secrets.dap-secret-webhook.caraml.dev');
    assert.deepEqual(plain(w.clientConfig.service), {
      name: 'dap-secret-webhook',
      namespace: 'dap-system',
      port: 443,
      path: '/mutate-pods',
    });
    assert.equal(w.clientConfig.url, undefined);
    assert.equal(Buffer.from(w.clientConfig.caBundle!, 'base64').toString('utf8'), ca.caCertPem);
    assert.deepEqual(plain(w.rules), [
      { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: '*' },
    ]);
    assert.deepEqual(plain(w.objectSelector), { matchLabels: { 'inject-flyte-secrets': 'true' } });
    assert.deepEqual(plain(w.namespaceSelector), { matchLabels: { 'dap-webhook-server-it': 'true' } });
    assert.equal(w.failurePolicy, 'Fail');
    assert.equal(w.sideEffects, 'None');
    assert.equal(w.timeoutSeconds, 7);
    assert.equal(w.reinvocationPolicy, 'IfNeeded');
    assert.deepEqual(plain(w.admissionReviewVersions), ['v1']);
    assert.equal(w.matchPolicy, 'Equivalent');
    assert.equal(await registrationCount(server, 'created'), 1);
  });

  it('updates a configuration that exists: new caBundle, its webhooks replaced, foreign metadata kept', async function () {
    const name = uniqueName();
    const old = await generateCertBundle({ dnsNames: ['old'] });
    await api.createMutatingWebhookConfiguration({
      body: {
        metadata: {
          name,
          annotations: { 'cert-manager.io/inject-ca-from': 'dap-system/serving' },
          labels: { team: 'ml-platform' },
        },
        webhooks: [
          {
            name: 'stale.dap-secret-webhook.caraml.dev',
            clientConfig: {
              url: 'https://old.example/mutate',
              caBundle: Buffer.from(old.caCertPem).toString('base64'),
            },
            rules: [{ operations: ['CREATE', 'DELETE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
            namespaceSelector: { matchLabels: { 'dap-webhook-server-it': 'true' } },
            failurePolicy: 'Ignore',
            sideEffects: 'None',
            admissionReviewVersions: ['v1'],
          },
        ],
      },
    });
    const ca = await generateCertBundle({ dnsNames: ['new'] });
    server = await startTestServer({
      KUBECONFIG: cp.kubeconfigPath,
      WEBHOOK_NAME: name,
      WEBHOOK_NAMESPACE_SELECTOR: NS_SELECTOR,
      WEBHOOK_FAILURE_POLICY: 'Ignore',
      TLS_CA_CERT_FILE: await writeCa(ca.caCertPem),
    });
    await waitReady(server);

    const mwc = await read(name);
    assert.deepEqual(
      mwc.webhooks?.map((w) => w.name),
      ['flyte-secrets.dap-secret-webhook.caraml.dev'],
    );
    assert.equal(Buffer.from(mwc.webhooks![0]!.clientConfig.caBundle!, 'base64').toString('utf8'), ca.caCertPem);
    assert.deepEqual(plain(mwc.webhooks![0]!.rules![0]!.operations), ['CREATE']);
    assert.equal(mwc.webhooks![0]!.failurePolicy, 'Ignore');
    assert.equal(mwc.metadata?.annotations?.['cert-manager.io/inject-ca-from'], 'dap-system/serving');
    assert.equal(mwc.metadata?.labels?.team, 'ml-platform');
    assert.equal(await registrationCount(server, 'updated'), 1);
  });

  it('re-applies the caBundle when TLS_CA_CERT_FILE changes, without a restart', async function () {
    const name = uniqueName();
    const [a, b] = await Promise.all([
      generateCertBundle({ dnsNames: ['a'] }),
      generateCertBundle({ dnsNames: ['b'] }),
    ]);
    const caFile = await writeCa(a.caCertPem);
    server = await startTestServer(
      {
        KUBECONFIG: cp.kubeconfigPath,
        WEBHOOK_NAME: name,
        WEBHOOK_NAMESPACE_SELECTOR: NS_SELECTOR,
        TLS_CA_CERT_FILE: caFile,
      },
      { fileCheckIntervalMs: 60_000 },
    );
    await waitReady(server);
    const caOf = async () =>
      Buffer.from((await read(name)).webhooks![0]!.clientConfig.caBundle!, 'base64').toString('utf8');
    assert.equal(await caOf(), a.caCertPem);

    await writeCa(b.caCertPem);
    await waitFor('the new CA in the registered caBundle', async () =>
      (await caOf()) === b.caCertPem ? true : undefined,
    );
    assert.ok(server.log.lines.some((l) => String(l.msg).includes('TLS_CA_CERT_FILE changed')));
  });

  it('registers a URL client config when WEBHOOK_URL is set, and the API server then calls the webhook', async function () {
    const name = uniqueName();
    const port = await freePort();
    // No certificate files: the server makes a self-signed one for 127.0.0.1 and registers that CA.
    server = await startTestServer({
      KUBECONFIG: cp.kubeconfigPath,
      WEBHOOK_PORT: String(port),
      WEBHOOK_NAME: name,
      WEBHOOK_URL: `https://127.0.0.1:${port}/mutate`,
      WEBHOOK_NAMESPACE_SELECTOR: NS_SELECTOR,
    });
    await waitReady(server);
    const w = (await read(name)).webhooks![0]!;
    assert.equal(w.clientConfig.url, `https://127.0.0.1:${port}/mutate`);
    assert.equal(w.clientConfig.service, undefined);
    assert.equal(Buffer.from(w.clientConfig.caBundle!, 'base64').toString('utf8'), server.running.generatedCaPem);

    // A dry-run create goes through admission (sideEffects None) and leaves nothing behind.
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    const pod = flytePod({
      name: 'registration-dry-run',
      secrets: [secret({ group: 'db-creds', key: 'password', mountRequirement: 'FILE' })],
    });
    delete (pod.metadata as { namespace?: string }).namespace;
    const created = await core.createNamespacedPod({ namespace: NAMESPACE, body: pod, dryRun: 'All' });
    assert.equal(created.spec?.initContainers?.[0]?.name, 'fetcher');
    assert.ok(
      server.log.lines.some(
        (l) =>
          l.msg === 'admission' &&
          l.outcome === 'injected' &&
          l.dryRun === true &&
          l.pod === `${NAMESPACE}/registration-dry-run`,
      ),
    );
  });

  it('retries while the API server is unreachable, stays not ready meanwhile, and becomes ready once it answers', async function () {
    const name = uniqueName();
    const proxyPort = await freePort();
    const kubeconfig = await writeKubeconfig(cp, join(dir, 'proxy.kubeconfig'), {
      server: `https://127.0.0.1:${proxyPort}`,
    });
    server = await startTestServer(
      { KUBECONFIG: kubeconfig, WEBHOOK_NAME: name, WEBHOOK_NAMESPACE_SELECTOR: NS_SELECTOR },
      { registrationBackoffMs: { initial: 20, max: 200 } },
    );
    const s = server;
    await waitFor('two failed registration attempts', async () =>
      (await registrationCount(s, 'failed')) >= 2 ? true : undefined,
    );
    const notReady = await getHealth(s.running.healthPort, '/readyz');
    assert.equal(notReady.status, 503);
    assert.match(notReady.body, /not registered yet \(last attempt: .*ECONNREFUSED/);
    assert.equal((await getHealth(s.running.healthPort, '/healthz')).status, 200, 'alive while not ready');

    const proxy = await startTcpProxy(proxyPort, new URL(cp.apiUrl));
    try {
      await waitReady(s);
      assert.equal((await read(name)).webhooks?.length, 1);
    } finally {
      await proxy.close();
    }
    const failures = s.log.lines.filter(
      (l) => l.msg === 'registering the MutatingWebhookConfiguration failed; will retry',
    );
    assert.ok(failures.length >= 2 && failures.every((l) => typeof l.retryInMs === 'number'));
  });

  it('says what is missing when RBAC forbids the registration', async function () {
    const name = uniqueName();
    const nobody = await cp.ca.issueClient('dap-webhook-server-it-nobody');
    const kubeconfig = await writeKubeconfig(cp, join(dir, 'nobody.kubeconfig'), { user: nobody });
    server = await startTestServer(
      { KUBECONFIG: kubeconfig, WEBHOOK_NAME: name, WEBHOOK_NAMESPACE_SELECTOR: NS_SELECTOR },
      { registrationBackoffMs: { initial: 50, max: 1000 } },
    );
    const s = server;
    const body = await waitFor('/readyz to report the forbidden registration', async () => {
      const res = await getHealth(s.running.healthPort, '/readyz');
      return res.status === 503 && res.body.includes('HTTP 403') ? res.body : undefined;
    });
    assert.match(body, /grant this service account get, create and update on mutatingwebhookconfigurations/);
  });
});

/** A kubeconfig file like the admin one, with another server address and/or client certificate. */
async function writeKubeconfig(
  cp: ControlPlane,
  path: string,
  change: { server?: string; user?: { certPem: string; keyPem: string } },
): Promise<string> {
  const base = cp.kubeConfig;
  const cluster = base.getCurrentCluster()!;
  const user = base.getCurrentUser()!;
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ ...cluster, server: change.server ?? cluster.server }],
    users: [
      change.user ? { name: user.name, certData: b64(change.user.certPem), keyData: b64(change.user.keyPem) } : user,
    ],
    contexts: base.getContexts(),
    currentContext: base.getCurrentContext(),
  });
  await writeFile(path, kc.exportConfig(), { mode: 0o600 });
  return path;
}

/** A byte-for-byte TCP forwarder: the API server "comes up" at an address the webhook already retries. */
async function startTcpProxy(port: number, target: URL): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: TcpServer = createTcpServer((client) => {
    const upstream = tcpConnect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
