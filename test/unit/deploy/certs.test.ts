import 'reflect-metadata'; // before @peculiar/x509 (see webhook/certs.ts)
import assert from 'node:assert/strict';
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { V1MutatingWebhookConfiguration, V1Secret } from '@kubernetes/client-node';
import * as x509 from '@peculiar/x509';
import {
  assessTlsSecret,
  type CertBundle,
  certificateExpiresWithin,
  generateCertBundle,
  runCertsCommand,
  serviceDnsNames,
  type TlsSecretStore,
  tlsSecretFor,
  type WebhookConfigurationStore,
} from '../../../webhook/certs.js';

const DAY = 24 * 60 * 60 * 1000;
const NAMES = serviceDnsNames('dap-secret-webhook', 'flyte-system');

function sans(pem: string): { type: string; value: string }[] {
  return new x509.X509Certificate(pem).getExtension(x509.SubjectAlternativeNameExtension)!.names.toJSON();
}

/** An in-memory Secret store that behaves like the API server for create/replace conflicts. */
class MemoryStore implements TlsSecretStore {
  secrets = new Map<string, V1Secret>();
  writes: string[] = [];
  private version = 0;
  async read(namespace: string, name: string) {
    const s = this.secrets.get(`${namespace}/${name}`);
    return s === undefined ? undefined : structuredClone(s);
  }
  async create(namespace: string, secret: V1Secret) {
    const key = `${namespace}/${secret.metadata!.name}`;
    if (this.secrets.has(key)) throw Object.assign(new Error('exists'), { code: 409 });
    this.put(key, secret);
    this.writes.push(`create ${key}`);
  }
  async replace(namespace: string, name: string, secret: V1Secret) {
    const key = `${namespace}/${name}`;
    const cur = this.secrets.get(key);
    if (cur === undefined) throw Object.assign(new Error('not found'), { code: 404 });
    if (secret.metadata?.resourceVersion !== cur.metadata!.resourceVersion)
      throw Object.assign(new Error('conflict'), { code: 409 });
    this.put(key, secret);
    this.writes.push(`replace ${key}`);
  }
  private put(key: string, secret: V1Secret) {
    this.secrets.set(key, {
      ...structuredClone(secret),
      metadata: { ...secret.metadata, resourceVersion: String(++this.version) },
    });
  }
}

/** One MutatingWebhookConfiguration, with resourceVersion conflicts like the API server's; writes go to `log`. */
class MemoryConfigurations implements WebhookConfigurationStore {
  stored: V1MutatingWebhookConfiguration | undefined;
  constructor(
    readonly log: string[],
    readonly name = 'dap-mwc',
  ) {}
  seed(): this {
    this.stored = {
      metadata: { name: this.name, resourceVersion: '1' },
      webhooks: [
        {
          name: 'a.example.com',
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          clientConfig: { service: { name: 's', namespace: 'n' } },
        },
      ],
    };
    return this;
  }
  async read(name: string) {
    return name === this.name && this.stored ? structuredClone(this.stored) : undefined;
  }
  async replace(name: string, body: V1MutatingWebhookConfiguration) {
    if (body.metadata?.resourceVersion !== this.stored?.metadata?.resourceVersion)
      throw Object.assign(new Error('conflict'), { code: 409 });
    this.stored = {
      ...structuredClone(body),
      metadata: { ...body.metadata, resourceVersion: String(Number(body.metadata!.resourceVersion) + 1) },
    };
    this.log.push(`replace mwc ${name}`);
  }
  caBundle(): string {
    return Buffer.from(this.stored!.webhooks![0]!.clientConfig.caBundle ?? '', 'base64').toString('utf8');
  }
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, deps: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}

function data(secret: V1Secret, key: string): string {
  return Buffer.from(secret.data![key]!, 'base64').toString('utf8');
}

const ENSURE = ['ensure', '--secret', 'dap-tls', '--namespace', 'flyte-system', '--service', 'dap-secret-webhook'];

describe('webhook/certs', () => {
  let bundle: CertBundle;
  before(async () => {
    bundle = await generateCertBundle({ dnsNames: NAMES, ipAddresses: ['127.0.0.1'] });
  });

  describe('serviceDnsNames', () => {
    it('lists the four names the API server may use for a Service', () => {
      assert.deepEqual(serviceDnsNames('svc', 'ns'), ['svc', 'svc.ns', 'svc.ns.svc', 'svc.ns.svc.cluster.local']);
    });
  });

  describe('generateCertBundle', () => {
    it('writes the SANs as given, DNS and IP', () => {
      assert.deepEqual(sans(bundle.certPem), [
        ...NAMES.map((value) => ({ type: 'dns', value })),
        { type: 'ip', value: '127.0.0.1' },
      ]);
    });

    it('issues a serving certificate (serverAuth, not a CA) signed by a CA certificate', async () => {
      const cert = new x509.X509Certificate(bundle.certPem);
      const ca = new x509.X509Certificate(bundle.caCertPem);
      assert.deepEqual(
        [...cert.getExtension(x509.ExtendedKeyUsageExtension)!.usages],
        [x509.ExtendedKeyUsage.serverAuth],
      );
      assert.equal(cert.getExtension(x509.BasicConstraintsExtension)!.ca, false);
      assert.equal(ca.getExtension(x509.BasicConstraintsExtension)!.ca, true);
      assert.ok(ca.getExtension(x509.KeyUsagesExtension)!.usages & x509.KeyUsageFlags.keyCertSign);
      assert.equal(cert.issuer, ca.subject);
      assert.ok(await cert.verify({ publicKey: ca.publicKey, signatureOnly: true }));
      assert.ok(await ca.isSelfSigned());
      const chain = await new x509.X509ChainBuilder({ certificates: [ca] }).build(cert);
      assert.equal(chain.length, 2);
    });

    it('uses ECDSA P-256 keys in PKCS#8 PEM', () => {
      const cert = new x509.X509Certificate(bundle.certPem);
      assert.equal((cert.publicKey.algorithm as EcKeyAlgorithm).namedCurve, 'P-256');
      assert.match(bundle.keyPem, /^-----BEGIN PRIVATE KEY-----/);
      assert.match(bundle.caKeyPem, /^-----BEGIN PRIVATE KEY-----/);
    });

    it('reports notAfter from the serving certificate and honours validityDays', async () => {
      const now = new Date('2030-01-01T00:00:00Z');
      const b = await generateCertBundle({ dnsNames: ['a.example'], validityDays: 10, now });
      assert.equal(b.notAfter.getTime(), now.getTime() + 10 * DAY);
      assert.equal(new x509.X509Certificate(b.certPem).notAfter.getTime(), b.notAfter.getTime());
      assert.ok(new x509.X509Certificate(b.certPem).notBefore.getTime() < now.getTime(), 'back-dated for clock skew');
    });

    it('serves TLS that a client trusting only ca.crt accepts for a Service name', async () => {
      const server = https.createServer({ cert: bundle.certPem, key: bundle.keyPem }, (_req, res) => res.end('ok'));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      try {
        const { port } = server.address() as AddressInfo;
        const body = await new Promise<string>((resolve, reject) => {
          https
            .get(
              {
                host: '127.0.0.1',
                port,
                ca: bundle.caCertPem,
                servername: 'dap-secret-webhook.flyte-system.svc',
                path: '/',
              },
              (res) => {
                let s = '';
                res.on('data', (c: Buffer) => (s += c.toString()));
                res.on('end', () => resolve(s));
              },
            )
            .on('error', reject);
        });
        assert.equal(body, 'ok');
      } finally {
        server.close();
      }
    });

    it('refuses an empty name list and a malformed IP, with the reason', async () => {
      await assert.rejects(generateCertBundle({ dnsNames: [] }), /at least one DNS name/);
      await assert.rejects(
        generateCertBundle({ dnsNames: ['a'], ipAddresses: ['300.1.1.1'] }),
        /"300\.1\.1\.1" is not an IP address/,
      );
      await assert.rejects(generateCertBundle({ dnsNames: ['a'], validityDays: 0 }), /validityDays/);
    });
  });

  describe('certificateExpiresWithin', () => {
    it('is false well before notAfter and true inside the window or after expiry', () => {
      const notAfter = bundle.notAfter.getTime();
      assert.equal(certificateExpiresWithin(bundle.certPem, 30, new Date(notAfter - 31 * DAY)), false);
      assert.equal(certificateExpiresWithin(bundle.certPem, 30, new Date(notAfter - 29 * DAY)), true);
      assert.equal(certificateExpiresWithin(bundle.certPem, 0, new Date(notAfter + 1)), true);
    });
  });

  describe('assessTlsSecret', () => {
    const want = () => ({ dnsNames: NAMES, renewBeforeDays: 30, now: new Date() });
    const secret = (b: CertBundle) => tlsSecretFor(b, { name: 'dap-tls', namespace: 'flyte-system' }, new Date());

    it('keeps a complete, matching, unexpired Secret', async () => {
      const v = await assessTlsSecret(secret(bundle), want());
      assert.equal(v.action, 'keep');
    });

    it('asks to create a missing Secret', async () => {
      assert.deepEqual(await assessTlsSecret(undefined, want()), { action: 'create', reason: 'it does not exist' });
    });

    it('refuses a Secret of another type (its type is immutable)', async () => {
      const v = await assessTlsSecret({ ...secret(bundle), type: 'Opaque' }, want());
      assert.equal(v.action, 'refuse');
      assert.match((v as { reason: string }).reason, /type "Opaque".*delete it/);
    });

    it('replaces when a key is missing, a SAN is missing, the cert expires soon, the key or CA does not match', async () => {
      const other = await generateCertBundle({ dnsNames: NAMES });
      const s = secret(bundle);
      const cases: [string, V1Secret, Partial<ReturnType<typeof want>>, RegExp][] = [
        [
          'missing ca.crt',
          { ...s, data: { 'tls.crt': s.data!['tls.crt']!, 'tls.key': s.data!['tls.key']! } },
          {},
          /lacks ca\.crt/,
        ],
        ['wrong service', s, { dnsNames: serviceDnsNames('other', 'flyte-system') }, /lacks the DNS names other, /],
        ['expiring', s, { now: new Date(bundle.notAfter.getTime() - 10 * DAY) }, /within the 30-day renewal window/],
        [
          'foreign key',
          { ...s, data: { ...s.data, 'tls.key': Buffer.from(other.keyPem).toString('base64') } },
          {},
          /tls\.key does not belong/,
        ],
        [
          'foreign CA',
          { ...s, data: { ...s.data, 'ca.crt': Buffer.from(other.caCertPem).toString('base64') } },
          {},
          /not signed by a currently valid CA/,
        ],
        [
          'garbage',
          { ...s, data: { ...s.data, 'tls.crt': Buffer.from('nope').toString('base64') } },
          {},
          /not a PEM certificate/,
        ],
      ];
      for (const [label, sec, override, reason] of cases) {
        const v = await assessTlsSecret(sec, { ...want(), ...override });
        assert.equal(v.action, 'replace', label);
        assert.match((v as { reason: string }).reason, reason, label);
      }
    });
  });

  describe('runCertsCommand ensure', () => {
    it('creates the Secret, then keeps it on the next run (idempotent)', async () => {
      const store = new MemoryStore();
      const first = capture();
      assert.equal(await runCertsCommand(ENSURE, { secrets: store, ...first.deps }), 0);
      assert.deepEqual(store.writes, ['create flyte-system/dap-tls']);
      assert.match(first.out.join('\n'), /Secret flyte-system\/dap-tls created \(it does not exist\)/);

      const written = store.secrets.get('flyte-system/dap-tls')!;
      assert.equal(written.type, 'kubernetes.io/tls');
      assert.deepEqual(
        sans(data(written, 'tls.crt')).map((n) => n.value),
        NAMES,
      );

      const second = capture();
      assert.equal(await runCertsCommand(ENSURE, { secrets: store, ...second.deps }), 0);
      assert.deepEqual(store.writes, ['create flyte-system/dap-tls'], 'no second write');
      assert.match(second.out.join('\n'), /is valid .* kept/);
    });

    it('renews inside the window and keeps the previous CA in ca.crt for the switch-over', async () => {
      const store = new MemoryStore();
      await runCertsCommand(ENSURE, { secrets: store, ...capture().deps });
      const before = store.secrets.get('flyte-system/dap-tls')!;
      const oldCa = data(before, 'ca.crt');
      const oldNotAfter = new x509.X509Certificate(data(before, 'tls.crt')).notAfter;
      const later = new Date(oldNotAfter.getTime() - 5 * DAY);

      const run = capture();
      assert.equal(
        await runCertsCommand([...ENSURE, '--renew-before-days', '30'], {
          secrets: store,
          now: () => later,
          ...run.deps,
        }),
        0,
      );
      assert.match(run.out.join('\n'), /replaced \(its certificate expires .* within the 30-day renewal window\)/);
      const after = store.secrets.get('flyte-system/dap-tls')!;
      const cas = x509.PemConverter.decode(data(after, 'ca.crt')).map((d) => new x509.X509Certificate(d));
      assert.equal(cas.length, 2);
      assert.equal(cas[1]!.toString('pem'), new x509.X509Certificate(oldCa).toString('pem'));
      assert.ok(new x509.X509Certificate(data(after, 'tls.crt')).notAfter > oldNotAfter);
      assert.equal((await assessTlsSecret(after, { dnsNames: NAMES, renewBeforeDays: 30, now: later })).action, 'keep');
    });

    it('re-reads after a conflicting write and keeps what the other writer stored', async () => {
      const store = new MemoryStore();
      const racer = await generateCertBundle({ dnsNames: NAMES });
      const realCreate = store.create.bind(store);
      let raced = false;
      store.create = async (ns, s) => {
        if (!raced) {
          raced = true;
          await realCreate(ns, tlsSecretFor(racer, { name: 'dap-tls', namespace: ns }, new Date()));
        }
        return realCreate(ns, s);
      };
      const run = capture();
      assert.equal(await runCertsCommand(ENSURE, { secrets: store, ...run.deps }), 0);
      assert.equal(data(store.secrets.get('flyte-system/dap-tls')!, 'tls.crt'), racer.certPem);
      assert.match(run.out.join('\n'), /kept/);
    });

    describe('--webhook-configuration: the caBundle follows ca.crt', () => {
      const WITH_MWC = [...ENSURE, '--webhook-configuration', 'dap-mwc'];

      it('sets it when the Secret is created or kept, then leaves it alone', async () => {
        const store = new MemoryStore();
        const configurations = new MemoryConfigurations(store.writes).seed();
        const first = capture();
        assert.equal(
          await runCertsCommand(WITH_MWC, { secrets: store, configurations, ...first.deps }),
          0,
          first.err.join('\n'),
        );
        assert.equal(configurations.caBundle(), data(store.secrets.get('flyte-system/dap-tls')!, 'ca.crt'));
        assert.match(
          first.out.join('\n'),
          /MutatingWebhookConfiguration dap-mwc: caBundle of a\.example\.com set to ca\.crt of Secret flyte-system\/dap-tls/,
        );
        const second = capture();
        assert.equal(await runCertsCommand(WITH_MWC, { secrets: store, configurations, ...second.deps }), 0);
        assert.match(second.out.join('\n'), /already trusts ca\.crt/);
        assert.deepEqual(
          store.writes,
          ['replace mwc dap-mwc', 'create flyte-system/dap-tls'],
          'the configuration first, then the Secret; nothing on the second run',
        );
      });

      it('on renewal writes the new and the previous CA to the configuration before the new certificate', async () => {
        const store = new MemoryStore();
        const configurations = new MemoryConfigurations(store.writes).seed();
        await runCertsCommand(WITH_MWC, { secrets: store, configurations, ...capture().deps });
        const oldCa = data(store.secrets.get('flyte-system/dap-tls')!, 'ca.crt');
        const later = new Date(
          new x509.X509Certificate(data(store.secrets.get('flyte-system/dap-tls')!, 'tls.crt')).notAfter.getTime() -
            5 * DAY,
        );
        store.writes.length = 0;
        assert.equal(
          await runCertsCommand(WITH_MWC, { secrets: store, configurations, now: () => later, ...capture().deps }),
          0,
        );
        assert.deepEqual(store.writes, ['replace mwc dap-mwc', 'replace flyte-system/dap-tls']);
        const trusted = x509.PemConverter.decode(configurations.caBundle()).map((d) =>
          new x509.X509Certificate(d).toString('pem'),
        );
        assert.equal(trusted.length, 2);
        assert.equal(trusted[1], new x509.X509Certificate(oldCa).toString('pem'));
        assert.equal(configurations.caBundle(), data(store.secrets.get('flyte-system/dap-tls')!, 'ca.crt'));
      });

      it('a configuration not there yet: an error (a Job retries), or a note with --configuration-may-be-missing', async () => {
        const store = new MemoryStore();
        const configurations = new MemoryConfigurations(store.writes);
        const strict = capture();
        assert.equal(await runCertsCommand(WITH_MWC, { secrets: store, configurations, ...strict.deps }), 1);
        assert.match(
          strict.err.join('\n'),
          /MutatingWebhookConfiguration dap-mwc does not exist \(yet\), so its caBundle cannot be set/,
        );
        assert.deepEqual(store.writes, [], 'no Secret either: the next attempt does both');
        const lenient = capture();
        assert.equal(
          await runCertsCommand([...WITH_MWC, '--configuration-may-be-missing'], {
            secrets: store,
            configurations,
            ...lenient.deps,
          }),
          0,
        );
        assert.match(lenient.out.join('\n'), /does not exist yet; its caBundle is set by the next run/);
        assert.deepEqual(store.writes, ['create flyte-system/dap-tls']);
      });

      it('names the missing permission on 403', async () => {
        const store = new MemoryStore();
        const configurations = new MemoryConfigurations(store.writes).seed();
        configurations.replace = async () => {
          throw Object.assign(new Error('forbidden'), { code: 403 });
        };
        const run = capture();
        assert.equal(await runCertsCommand(WITH_MWC, { secrets: store, configurations, ...run.deps }), 1);
        assert.match(
          run.err.join('\n'),
          /not allowed to read or update MutatingWebhookConfiguration dap-mwc: .* needs get and update on it, by name/,
        );
      });
    });

    it('names the Secret and the missing permission on 403, without key material', async () => {
      const store = new MemoryStore();
      store.create = async () => {
        throw Object.assign(new Error('forbidden'), { code: 403, body: '{"message":"secrets is forbidden"}' });
      };
      const run = capture();
      assert.equal(await runCertsCommand(ENSURE, { secrets: store, ...run.deps }), 1);
      assert.match(
        run.err.join('\n'),
        /not allowed to read or write Secret flyte-system\/dap-tls: .* needs get, create and update/,
      );
      assert.doesNotMatch(run.err.join('\n') + run.out.join('\n'), /BEGIN|PRIVATE/);
    });

    it('refuses a Secret of the wrong type instead of overwriting it', async () => {
      const store = new MemoryStore();
      store.secrets.set('flyte-system/dap-tls', {
        metadata: { name: 'dap-tls', resourceVersion: '1' },
        type: 'Opaque',
        data: {},
      });
      const run = capture();
      assert.equal(await runCertsCommand(ENSURE, { secrets: store, ...run.deps }), 1);
      assert.match(run.err.join('\n'), /cannot use Secret flyte-system\/dap-tls: it has type "Opaque"/);
      assert.deepEqual(store.writes, []);
    });

    it('reports every usage problem on its own line with exit 2', async () => {
      const run = capture();
      assert.equal(
        await runCertsCommand(['ensure', '--secret', 'Bad_Name', '--renew-before-days', 'x'], {
          secrets: new MemoryStore(),
          ...run.deps,
        }),
        2,
      );
      const text = run.err.join('\n');
      assert.match(text, /--secret "Bad_Name" is not a valid Kubernetes name/);
      assert.match(text, /--namespace is required/);
      assert.match(text, /--service is required/);
      assert.match(text, /--renew-before-days must be a whole number/);
      assert.match(text, /usage: dap-secret-webhook certs ensure/);
      const unknown = capture();
      assert.equal(await runCertsCommand(['rotate'], { secrets: new MemoryStore(), ...unknown.deps }), 2);
      assert.match(unknown.err[0]!, /unknown subcommand "rotate"/);
    });
  });
});
