/**
 * A throw-away PKI for tests: one CA that signs serving and client certificates, written as PEM.
 * ECDSA P-256 keeps key generation in the milliseconds (RSA would cost seconds per start).
 */
// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect
// metadata polyfill loaded first.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;
const VALIDITY_MS = 24 * 60 * 60 * 1000;

export interface KeyAndCert {
  certPem: string;
  keyPem: string;
}

export interface CertificateAuthority extends KeyAndCert {
  /** A TLS serving certificate for `names` (DNS names and IP addresses). */
  issueServer(commonName: string, names: string[]): Promise<KeyAndCert>;
  /** A client certificate: Kubernetes reads CN as the user and each O as a group. */
  issueClient(commonName: string, organizations?: string[]): Promise<KeyAndCert>;
}

export async function createCertificateAuthority(
  commonName = 'dap-secret-webhook test CA',
): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const notBefore = backdated();
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${commonName}`,
    keys,
    notBefore,
    notAfter: new Date(notBefore.getTime() + VALIDITY_MS),
    signingAlgorithm: SIGNING,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });

  async function issue(subject: string, usage: x509.ExtendedKeyUsage, extra: x509.Extension[]): Promise<KeyAndCert> {
    const leafKeys = await generateKeys();
    const cert = await x509.X509CertificateGenerator.create({
      subject,
      issuer: caCert.subject,
      notBefore,
      notAfter: new Date(notBefore.getTime() + VALIDITY_MS),
      signingAlgorithm: SIGNING,
      publicKey: leafKeys.publicKey,
      signingKey: keys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([usage]),
        await x509.AuthorityKeyIdentifierExtension.create(caCert),
        ...extra,
      ],
    });
    return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(leafKeys.privateKey) };
  }

  return {
    certPem: caCert.toString('pem'),
    keyPem: await privateKeyPem(keys.privateKey),
    issueServer: (cn, names) =>
      issue(`CN=${cn}`, x509.ExtendedKeyUsage.serverAuth, [
        new x509.SubjectAlternativeNameExtension(
          names.map((n): x509.JsonGeneralName => ({ type: isIP(n) ? 'ip' : 'dns', value: n })),
        ),
      ]),
    issueClient: (cn, organizations = []) =>
      issue([...organizations.map((o) => `O=${o}`), `CN=${cn}`].join(', '), x509.ExtendedKeyUsage.clientAuth, []),
  };
}

/** An ECDSA key pair as PEM (PKCS#8 private, SPKI public), e.g. for signing service-account tokens. */
export async function createSigningKeyPair(): Promise<{ privateKeyPem: string; publicKeyPem: string }> {
  const keys = await generateKeys();
  const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  return { privateKeyPem: await privateKeyPem(keys.privateKey), publicKeyPem: pem('PUBLIC KEY', spki) };
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  return pem('PRIVATE KEY', Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key)));
}

function pem(label: string, der: Buffer): string {
  const body = der.toString('base64').replace(/.{64}/g, '$&\n').trimEnd();
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/** Clocks of the processes under test may lag by a moment; a certificate valid "from now" could be rejected. */
function backdated(): Date {
  return new Date(Date.now() - 60 * 60 * 1000);
}
