/**
 * Certificates for the webhook's TLS listener, and `dap-secret-webhook certs ensure`.
 *
 * The API server only calls a webhook over TLS that it can verify with the caBundle of the
 * MutatingWebhookConfiguration. Without cert-manager, the Helm chart runs `certs ensure` in a
 * pre-install/pre-upgrade Job: it keeps a valid TLS Secret and otherwise writes a fresh
 * self-signed CA plus a serving certificate signed by it. The running webhook hot-reloads the
 * mounted files and re-applies the caBundle, so a renewal needs no restart.
 *
 * Key material never leaves this module except into the Secret: messages name the Secret,
 * SANs and dates only.
 */
// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect
// metadata polyfill loaded before it; ESM evaluates imports in order, so this line stays first.
import 'reflect-metadata';
import { createPublicKey } from 'node:crypto';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import type { V1MutatingWebhookConfiguration, V1Secret } from '@kubernetes/client-node';
import * as x509 from '@peculiar/x509';
import { serviceDnsNames } from './service-names.js';

export { serviceDnsNames };

export interface CertBundle {
  caCertPem: string;
  caKeyPem: string;
  certPem: string;
  keyPem: string;
  notAfter: Date;
}

export interface CertBundleOptions {
  dnsNames: string[];
  ipAddresses?: string[];
  commonName?: string;
  /** Validity of both the CA and the serving certificate; default 365 days. */
  validityDays?: number;
  /** Clock for tests; default the current time. */
  now?: Date;
}

const DEFAULT_VALIDITY_DAYS = 365;
const DEFAULT_RENEW_BEFORE_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Back-date notBefore a little so a node whose clock runs slightly behind still accepts the cert. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;
const EC_KEY: EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const EC_SIGN: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

/** A self-signed CA (ECDSA P-256) and a serving certificate signed by it with the given SANs. */
export async function generateCertBundle(opts: CertBundleOptions): Promise<CertBundle> {
  const dnsNames = opts.dnsNames;
  const ipAddresses = opts.ipAddresses ?? [];
  if (dnsNames.length === 0 && ipAddresses.length === 0) {
    throw new Error('generateCertBundle: give at least one DNS name or IP address for the serving certificate');
  }
  const badIp = ipAddresses.find((ip) => isIP(ip) === 0);
  if (badIp !== undefined) throw new Error(`generateCertBundle: "${badIp}" is not an IP address`);
  const validityDays = opts.validityDays ?? DEFAULT_VALIDITY_DAYS;
  if (!Number.isInteger(validityDays) || validityDays < 1) {
    throw new Error(`generateCertBundle: validityDays must be a whole number of days ≥ 1, got ${validityDays}`);
  }
  const commonName = opts.commonName ?? dnsNames[0] ?? ipAddresses[0]!;
  const now = opts.now ?? new Date();
  const notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  const notAfter = new Date(now.getTime() + validityDays * DAY_MS);
  const subtle = globalThis.crypto.subtle;

  const caKeys = (await subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as CryptoKeyPair;
  const caName = `CN=${escapeDnValue(`dap-secret-webhook CA for ${commonName}`)}`;
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    name: caName,
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: EC_SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const keys = (await subtle.generateKey(EC_KEY, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${escapeDnValue(commonName)}`,
    issuer: caCert.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: EC_SIGN,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...ipAddresses.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  return {
    caCertPem: caCert.toString('pem'),
    caKeyPem: await privateKeyPem(caKeys.privateKey),
    certPem: cert.toString('pem'),
    keyPem: await privateKeyPem(keys.privateKey),
    notAfter: cert.notAfter,
  };
}

/** True when the (first) certificate in `certPem` is already expired or expires within `days`. */
export function certificateExpiresWithin(certPem: string, days: number, now: Date = new Date()): boolean {
  const cert = new x509.X509Certificate(certPem);
  return cert.notAfter.getTime() - now.getTime() <= days * DAY_MS;
}

// ---------------------------------------------------------------------------------------------
// Assessing an existing TLS Secret (pure apart from WebCrypto signature checks)
// ---------------------------------------------------------------------------------------------

const TLS_SECRET_TYPE = 'kubernetes.io/tls';
const TLS_KEYS = { cert: 'tls.crt', key: 'tls.key', ca: 'ca.crt' } as const;

export type SecretVerdict =
  | { action: 'keep'; notAfter: Date }
  | { action: 'create'; reason: string }
  | { action: 'replace'; reason: string }
  /** Something only an admin should resolve (the type of a Secret cannot be changed in place). */
  | { action: 'refuse'; reason: string };

export interface TlsWanted {
  dnsNames: string[];
  renewBeforeDays: number;
  now: Date;
}

/** Decides whether a TLS Secret can stay as it is; the reason names what is wrong, never a value. */
export async function assessTlsSecret(secret: V1Secret | undefined, want: TlsWanted): Promise<SecretVerdict> {
  if (secret === undefined) return { action: 'create', reason: 'it does not exist' };
  if (secret.type !== TLS_SECRET_TYPE) {
    return {
      action: 'refuse',
      reason:
        `it has type "${secret.type ?? 'Opaque'}", not "${TLS_SECRET_TYPE}", ` +
        `and a Secret's type cannot be changed; delete it or choose another name`,
    };
  }
  const data = decodeSecretData(secret);
  const missing = Object.values(TLS_KEYS).filter((k) => !data[k]);
  if (missing.length > 0) return { action: 'replace', reason: `it lacks ${missing.join(', ')}` };

  let cert: x509.X509Certificate;
  let cas: x509.X509Certificate[];
  try {
    cert = new x509.X509Certificate(data[TLS_KEYS.cert]!);
    cas = parsePemCertificates(data[TLS_KEYS.ca]!);
  } catch {
    return { action: 'replace', reason: `${TLS_KEYS.cert} or ${TLS_KEYS.ca} is not a PEM certificate` };
  }
  const sans = dnsSans(cert);
  const absent = want.dnsNames.filter((n) => !sans.includes(n.toLowerCase()));
  if (absent.length > 0)
    return { action: 'replace', reason: `its certificate lacks the DNS names ${absent.join(', ')}` };
  if (cert.notBefore.getTime() > want.now.getTime()) {
    return { action: 'replace', reason: `its certificate is not valid before ${cert.notBefore.toISOString()}` };
  }
  if (cert.notAfter.getTime() - want.now.getTime() <= want.renewBeforeDays * DAY_MS) {
    return {
      action: 'replace',
      reason:
        `its certificate expires ${cert.notAfter.toISOString()}, ` +
        `within the ${want.renewBeforeDays}-day renewal window`,
    };
  }
  if (!privateKeyMatches(data[TLS_KEYS.key]!, cert)) {
    return { action: 'replace', reason: `${TLS_KEYS.key} does not belong to ${TLS_KEYS.cert}` };
  }
  if (!(await signedByOneOf(cert, cas, want.now))) {
    return { action: 'replace', reason: `${TLS_KEYS.cert} is not signed by a currently valid CA in ${TLS_KEYS.ca}` };
  }
  return { action: 'keep', notAfter: cert.notAfter };
}

/**
 * The Secret to write for a fresh bundle. `ca.crt` also carries the previous CA while it is
 * still valid: the API server then trusts both the old and the new serving certificate while
 * the replicas pick up the new files, so a renewal never fails an admission call.
 */
export function tlsSecretFor(
  bundle: CertBundle,
  base: { name: string; namespace: string; previous?: V1Secret | undefined },
  now: Date,
): V1Secret {
  let caBundle = bundle.caCertPem;
  const previousCa = base.previous === undefined ? undefined : decodeSecretData(base.previous)[TLS_KEYS.ca];
  if (previousCa) {
    try {
      const stillValid = parsePemCertificates(previousCa).find((c) => c.notAfter.getTime() > now.getTime() && isCa(c));
      if (stillValid) caBundle = `${caBundle.trimEnd()}\n${stillValid.toString('pem').trimEnd()}\n`;
    } catch {
      // An unparsable old bundle is simply dropped: nothing can have trusted it.
    }
  }
  const old = base.previous?.metadata;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: TLS_SECRET_TYPE,
    metadata: {
      name: base.name,
      namespace: base.namespace,
      labels: { ...old?.labels, 'app.kubernetes.io/managed-by': 'dap-secret-webhook-certs' },
      ...(old?.annotations ? { annotations: old.annotations } : {}),
      ...(old?.resourceVersion ? { resourceVersion: old.resourceVersion } : {}),
    },
    data: {
      [TLS_KEYS.cert]: b64(bundle.certPem),
      [TLS_KEYS.key]: b64(bundle.keyPem),
      [TLS_KEYS.ca]: b64(caBundle),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// `dap-secret-webhook certs ensure ...`
// ---------------------------------------------------------------------------------------------

/** The three Secret calls `certs ensure` makes; an adapter over CoreV1Api in production. */
export interface TlsSecretStore {
  /** undefined when the Secret does not exist. */
  read(namespace: string, name: string): Promise<V1Secret | undefined>;
  create(namespace: string, secret: V1Secret): Promise<void>;
  /** Carries metadata.resourceVersion, so a concurrent writer yields a 409 instead of a lost update. */
  replace(namespace: string, name: string, secret: V1Secret): Promise<void>;
}

/**
 * The two calls that keep a MutatingWebhookConfiguration's caBundle current; an adapter over
 * AdmissionregistrationV1Api in production. RBAC can limit both to the one name (get, update).
 */
export interface WebhookConfigurationStore {
  /** undefined when it does not exist. */
  read(name: string): Promise<V1MutatingWebhookConfiguration | undefined>;
  /** Carries metadata.resourceVersion: a concurrent writer yields a 409, not a lost update. */
  replace(name: string, body: V1MutatingWebhookConfiguration): Promise<void>;
}

export interface CertsDeps {
  secrets: TlsSecretStore;
  /** Needed only with --webhook-configuration. */
  configurations?: WebhookConfigurationStore;
  out: (line: string) => void;
  err: (line: string) => void;
  now?: () => Date;
}

const CERTS_USAGE = [
  'usage: dap-secret-webhook certs ensure --secret NAME --namespace NS --service SVC',
  '         [--renew-before-days 30] [--validity-days 365] [--dns-name EXTRA]...',
  '         [--webhook-configuration MWC [--configuration-may-be-missing]]',
  "Keeps the kubernetes.io/tls Secret NS/NAME when its certificate is valid for the Service's DNS",
  'names and not within the renewal window; otherwise writes a new self-signed CA (ca.crt) and',
  'serving certificate (tls.crt, tls.key) into it.',
  "With --webhook-configuration it also keeps that MutatingWebhookConfiguration's caBundle equal to",
  'ca.crt, writing the new CA there before a renewed certificate, so the API server trusts it first;',
  'a configuration that does not exist yet is an error unless --configuration-may-be-missing.',
].join('\n');

const MAX_WRITE_ATTEMPTS = 3;

/**
 * Runs `certs <argv…>` (argv is what follows the word `certs`). Returns the process exit code:
 * 0 done, 1 the cluster refused or failed, 2 bad usage.
 */
export async function runCertsCommand(argv: string[], deps: CertsDeps): Promise<number> {
  const parsed = parseEnsureArgs(argv);
  if ('problems' in parsed) {
    for (const p of parsed.problems) deps.err(`certs: ${p}`);
    deps.err(CERTS_USAGE);
    return parsed.help ? 0 : 2;
  }
  const { secret: name, namespace } = parsed;
  const ref = `Secret ${namespace}/${name}`;
  const now = deps.now ?? (() => new Date());
  const dnsNames = [...serviceDnsNames(parsed.service, namespace), ...parsed.extraDnsNames];
  try {
    for (let attempt = 1; ; attempt++) {
      const current = await deps.secrets.read(namespace, name);
      const verdict = await assessTlsSecret(current, { dnsNames, renewBeforeDays: parsed.renewBeforeDays, now: now() });
      if (verdict.action === 'keep') {
        deps.out(
          `certs: ${ref} is valid for ${parsed.service}.${namespace}.svc ` +
            `until ${verdict.notAfter.toISOString()}; kept`,
        );
        return await ensureCaBundle(parsed, decodeSecretData(current!)[TLS_KEYS.ca]!, deps);
      }
      if (verdict.action === 'refuse') {
        deps.err(`certs: cannot use ${ref}: ${verdict.reason}`);
        return 1;
      }
      const bundle = await generateCertBundle({
        dnsNames,
        commonName: `${parsed.service}.${namespace}.svc`,
        validityDays: parsed.validityDays,
        now: now(),
      });
      const body = tlsSecretFor(bundle, { name, namespace, previous: current }, now());
      // The API server must trust the new CA before any replica can serve a certificate it signed.
      const caCode = await ensureCaBundle(parsed, decodeSecretData(body)[TLS_KEYS.ca]!, deps);
      if (caCode !== 0) return caCode;
      try {
        if (verdict.action === 'create') await deps.secrets.create(namespace, body);
        else await deps.secrets.replace(namespace, name, body);
      } catch (e) {
        // 409: someone else wrote the Secret between our read and write (two Jobs, or an admin).
        // Read again and re-assess, a bounded number of times.
        if (httpStatus(e) === 409 && attempt < MAX_WRITE_ATTEMPTS) continue;
        throw e;
      }
      const verb = verdict.action === 'create' ? 'created' : 'replaced';
      deps.out(
        `certs: ${ref} ${verb} (${verdict.reason}); new certificate valid until ${bundle.notAfter.toISOString()}`,
      );
      return 0;
    }
  } catch (e) {
    deps.err(`certs: ${describeApiError(e, ref)}`);
    return 1;
  }
}

type EnsureArgs = {
  secret: string;
  namespace: string;
  service: string;
  renewBeforeDays: number;
  validityDays: number;
  extraDnsNames: string[];
  /** The MutatingWebhookConfiguration whose caBundle follows ca.crt; '' for none. */
  webhookConfiguration: string;
  configurationMayBeMissing: boolean;
};

const MAX_CONFIGURATION_ATTEMPTS = 3;

/**
 * Sets every webhook's clientConfig.caBundle in the configuration to `caPem` (ca.crt as it is:
 * during a renewal the new and the previous CA). Returns an exit code; 0 when nothing was asked.
 */
async function ensureCaBundle(args: EnsureArgs, caPem: string, deps: CertsDeps): Promise<number> {
  const name = args.webhookConfiguration;
  if (name === '') return 0;
  const ref = `MutatingWebhookConfiguration ${name}`;
  if (deps.configurations === undefined) throw new Error('certs: --webhook-configuration needs a configuration store');
  const caBundle = b64(caPem);
  try {
    for (let attempt = 1; ; attempt++) {
      const current = await deps.configurations.read(name);
      if (current === undefined) {
        if (args.configurationMayBeMissing) {
          deps.out(
            `certs: ${ref} does not exist yet; its caBundle is set by the next run (the chart's post-install hook)`,
          );
          return 0;
        }
        deps.err(
          `certs: ${ref} does not exist (yet), so its caBundle cannot be set: ` +
            `apply it, then run this again (a Job retries by itself)`,
        );
        return 1;
      }
      const webhooks = current.webhooks ?? [];
      const stale = webhooks.filter((w) => w.clientConfig.caBundle !== caBundle);
      if (stale.length === 0) {
        deps.out(`certs: ${ref} already trusts ca.crt of Secret ${args.namespace}/${args.secret}`);
        return 0;
      }
      for (const w of stale) w.clientConfig.caBundle = caBundle;
      try {
        await deps.configurations.replace(name, current);
      } catch (e) {
        if (httpStatus(e) === 409 && attempt < MAX_CONFIGURATION_ATTEMPTS) continue;
        throw e;
      }
      deps.out(
        `certs: ${ref}: caBundle of ${stale.map((w) => w.name).join(', ')} ` +
          `set to ca.crt of Secret ${args.namespace}/${args.secret}`,
      );
      return 0;
    }
  } catch (e) {
    deps.err(`certs: ${describeConfigurationError(e, ref)}`);
    return 1;
  }
}

function describeConfigurationError(e: unknown, ref: string): string {
  const status = httpStatus(e);
  if (status === 403) {
    return (
      `not allowed to read or update ${ref}: the ServiceAccount running "certs ensure" needs ` +
      `get and update on it, by name (the chart's cabundle ClusterRole grants exactly this)`
    );
  }
  if (status === 409)
    return (
      `${ref} kept changing while its caBundle was written (HTTP 409 ` +
      `${MAX_CONFIGURATION_ATTEMPTS} times); run the command again`
    );
  if (status !== undefined)
    return `the API server answered HTTP ${status} for ${ref}: ${apiMessage(e) ?? 'no message'}`;
  return `could not reach the API server for ${ref}: ${e instanceof Error ? e.message : String(e)}`;
}

function parseEnsureFlags(args: string[]) {
  return parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      secret: { type: 'string' },
      namespace: { type: 'string' },
      service: { type: 'string' },
      'renew-before-days': { type: 'string', default: String(DEFAULT_RENEW_BEFORE_DAYS) },
      'validity-days': { type: 'string', default: String(DEFAULT_VALIDITY_DAYS) },
      'dns-name': { type: 'string', multiple: true, default: [] },
      'webhook-configuration': { type: 'string', default: '' },
      'configuration-may-be-missing': { type: 'boolean', default: false },
    },
  }).values;
}

function parseEnsureArgs(argv: string[]): EnsureArgs | { problems: string[]; help?: boolean } {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') return { problems: [], help: true };
  if (sub !== 'ensure') return { problems: [`unknown subcommand "${sub}" (the only one is "ensure")`] };
  let values: ReturnType<typeof parseEnsureFlags>;
  try {
    values = parseEnsureFlags(rest);
  } catch (e) {
    return { problems: [(e as Error).message] };
  }
  const problems: string[] = [];
  const required = (flag: 'secret' | 'namespace' | 'service'): string => {
    const v = values[flag];
    if (!v) problems.push(`--${flag} is required`);
    else if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v))
      problems.push(`--${flag} "${v}" is not a valid Kubernetes name`);
    return v ?? '';
  };
  const days = (flag: 'renew-before-days' | 'validity-days', min: number): number => {
    const raw = values[flag]!;
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || n < min) problems.push(`--${flag} must be a whole number ≥ ${min}, got "${raw}"`);
    return n;
  };
  const out: EnsureArgs = {
    secret: required('secret'),
    namespace: required('namespace'),
    service: required('service'),
    renewBeforeDays: days('renew-before-days', 0),
    validityDays: days('validity-days', 1),
    extraDnsNames: values['dns-name'] ?? [],
    webhookConfiguration: values['webhook-configuration'] ?? '',
    configurationMayBeMissing: values['configuration-may-be-missing'] ?? false,
  };
  if (out.webhookConfiguration !== '' && !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(out.webhookConfiguration)) {
    problems.push(`--webhook-configuration "${out.webhookConfiguration}" is not a valid Kubernetes name`);
  }
  if (out.configurationMayBeMissing && out.webhookConfiguration === '')
    problems.push('--configuration-may-be-missing needs --webhook-configuration');
  if (problems.length === 0 && out.renewBeforeDays >= out.validityDays) {
    problems.push(
      `--renew-before-days (${out.renewBeforeDays}) must be less than ` +
        `--validity-days (${out.validityDays}), or every run would renew`,
    );
  }
  return problems.length > 0 ? { problems } : out;
}

function describeApiError(e: unknown, ref: string): string {
  const status = httpStatus(e);
  if (status === 403) {
    return (
      `not allowed to read or write ${ref}: the ServiceAccount running "certs ensure" needs get, ` +
      `create and update on that Secret (the chart's certs Role grants exactly this)`
    );
  }
  if (status === 409)
    return `${ref} kept changing while it was written (HTTP 409 ${MAX_WRITE_ATTEMPTS} times); run the command again`;
  if (status !== undefined)
    return `the API server answered HTTP ${status} for ${ref}: ${apiMessage(e) ?? 'no message'}`;
  return `could not reach the API server for ${ref}: ${e instanceof Error ? e.message : String(e)}`;
}

export function httpStatus(e: unknown): number | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function apiMessage(e: unknown): string | undefined {
  const body = (e as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      const m = (JSON.parse(body) as { message?: unknown }).message;
      return typeof m === 'string' ? m : undefined;
    } catch {
      return undefined;
    }
  }
  const m = (body as { message?: unknown } | undefined)?.message;
  return typeof m === 'string' ? m : undefined;
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const pkcs8 = await globalThis.crypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
}

function parsePemCertificates(pem: string): x509.X509Certificate[] {
  const certs = x509.PemConverter.decode(pem).map((der) => new x509.X509Certificate(der));
  if (certs.length === 0) throw new Error('no certificate in PEM');
  return certs;
}

function dnsSans(cert: x509.X509Certificate): string[] {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  return san
    ? san.names
        .toJSON()
        .filter((n) => n.type === 'dns')
        .map((n) => n.value.toLowerCase())
    : [];
}

function isCa(cert: x509.X509Certificate): boolean {
  return cert.getExtension(x509.BasicConstraintsExtension)?.ca === true;
}

async function signedByOneOf(cert: x509.X509Certificate, cas: x509.X509Certificate[], now: Date): Promise<boolean> {
  for (const ca of cas) {
    if (!isCa(ca) || ca.notAfter.getTime() <= now.getTime()) continue;
    if (await cert.verify({ publicKey: ca.publicKey, signatureOnly: true })) return true;
  }
  return false;
}

/** Compares the public half of tls.key with the certificate's key, whatever the key type. */
function privateKeyMatches(keyPem: string, cert: x509.X509Certificate): boolean {
  try {
    const spki = createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
    return Buffer.from(cert.publicKey.rawData).equals(spki);
  } catch {
    return false;
  }
}

function decodeSecretData(secret: V1Secret): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  for (const [k, v] of Object.entries(secret.stringData ?? {})) out[k] = v;
  return out;
}

function b64(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

/** RFC 4514: escape the characters that would otherwise end or restructure a DN value. */
function escapeDnValue(v: string): string {
  return v
    .replace(/[,+"\\<>;=]/g, (c) => `\\${c}`)
    .replace(/^[ #]/, (c) => `\\${c}`)
    .replace(/ $/, '\\ ');
}
