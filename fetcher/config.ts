/**
 * Turns the environment the webhook gives the init container into validated settings. Pure: it
 * reads only the `env` object it is given. Every problem names its variable and what was expected,
 * and all problems are reported at once.
 */
import {
  AUTH_MODES,
  type AuthMode,
  BYTE_CAP_RANGE,
  DEFAULT_BYTE_CAPS,
  DEFAULT_DEADLINE_SECONDS,
  DEFAULT_TERMINATION_LOG,
  DEFAULT_TOKEN_AUDIENCE,
  FETCHER_ENV,
  IDENTITY_FILES,
  IDENTITY_MOUNT_PATH,
} from '../contract/fetcher-env.js';
import { isDnsSubdomain, type Plan, parsePlan, requestedSecrets } from '../contract/plan.js';

export type Env = Record<string, string | undefined>;

const DEFAULT_EXCHANGE_CLIENT_ID = 'dap-secret-fetcher';
const DEFAULT_METADATA_HOST = 'metadata.google.internal';
const MAX_DEADLINE_SECONDS = 3600;

export interface PodIdentity {
  name: string;
  namespace: string;
  uid: string;
  /** spec.serviceAccountName, when the webhook passed it (used in messages only). */
  serviceAccount: string | null;
}

export type AuthSettings =
  | { mode: 'serviceaccount'; tokenFile: string }
  | {
      mode: 'token-exchange';
      tokenFile: string;
      issuer: URL;
      audience: string | null;
      scope: string | null;
      /** JSON `{client_id, client_secret}`; null means a public client named `clientId`. */
      clientCredentialsFile: string | null;
      clientId: string;
    }
  | { mode: 'gcp-workload-identity'; metadataHost: string; audience: string };

export interface KubeSettings {
  apiUrl: URL;
  tokenFile: string;
  caFile: string;
}

export interface Config {
  plan: Plan;
  pod: PodIdentity;
  /** MLP base URL, always ending in `/`, so `new URL('v1/projects', mlpBaseUrl)` keeps any path prefix. */
  mlpBaseUrl: URL;
  auth: AuthSettings;
  /** Null when the plan has no env-var secrets: then the fetcher never talks to Kubernetes. */
  kube: KubeSettings | null;
  deadlineMs: number;
  terminationLog: string;
  caps: ByteCaps;
}

/** Byte caps on MLP's answers (see bounded-body.ts). */
export interface ByteCaps {
  projectsBytes: number;
  secretsBytes: number;
  secretBytes: number;
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[]; plan: Plan | null };

const E = FETCHER_ENV;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const UID = /^[A-Za-z0-9-]{1,128}$/;
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/;

/** Where to write the termination message; known even when everything else is invalid. */
export function terminationLogPath(env: Env): string {
  return nonEmpty(env[E.terminationLog]) ?? DEFAULT_TERMINATION_LOG;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function httpUrl(name: string, value: string | undefined, problems: string[], required: boolean): URL | null {
  const text = nonEmpty(value);
  if (text === undefined) {
    if (required) problems.push(`${name} is not set; expected an http(s) URL such as http://mlp.caraml.svc:8080`);
    return null;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    problems.push(
      `${name}=${JSON.stringify(text)} is not a URL; expected an http(s) URL such as http://mlp.caraml.svc:8080`,
    );
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    problems.push(`${name}=${JSON.stringify(text)} must start with http:// or https://`);
    return null;
  }
  if (url.username || url.password) {
    problems.push(`${name} must not contain credentials`);
    return null;
  }
  url.search = '';
  url.hash = '';
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

function loadPod(env: Env, problems: string[]): PodIdentity {
  const name = nonEmpty(env[E.podName]);
  const namespace = nonEmpty(env[E.podNamespace]);
  const uid = nonEmpty(env[E.podUid]);
  const downward = (field: string): string => `(the webhook sets it from the downward API, fieldRef ${field})`;
  if (name === undefined) problems.push(`${E.podName} is not set ${downward('metadata.name')}`);
  else if (!isDnsSubdomain(name)) problems.push(`${E.podName}=${JSON.stringify(name)} is not a valid pod name`);
  if (namespace === undefined) problems.push(`${E.podNamespace} is not set ${downward('metadata.namespace')}`);
  else if (!DNS_LABEL.test(namespace))
    problems.push(`${E.podNamespace}=${JSON.stringify(namespace)} is not a valid namespace name`);
  if (uid === undefined) problems.push(`${E.podUid} is not set ${downward('metadata.uid')}`);
  else if (!UID.test(uid)) problems.push(`${E.podUid}=${JSON.stringify(uid)} is not a valid pod uid`);
  return {
    name: name ?? '',
    namespace: namespace ?? '',
    uid: uid ?? '',
    serviceAccount: nonEmpty(env[E.podServiceAccount]) ?? null,
  };
}

function loadAuth(env: Env, problems: string[]): AuthSettings {
  const modeText = nonEmpty(env[E.authMode]) ?? 'serviceaccount';
  const tokenFile = nonEmpty(env[E.mlpTokenFile]) ?? `${IDENTITY_MOUNT_PATH}/${IDENTITY_FILES.mlpToken}`;
  if (!(AUTH_MODES as readonly string[]).includes(modeText)) {
    problems.push(
      `${E.authMode}=${JSON.stringify(modeText)} is not an auth mode; expected one of ${AUTH_MODES.join(', ')}`,
    );
    return { mode: 'serviceaccount', tokenFile };
  }
  const mode = modeText as AuthMode;
  switch (mode) {
    case 'serviceaccount':
      return { mode, tokenFile };
    case 'token-exchange': {
      const issuerText = nonEmpty(env[E.exchangeIssuer]);
      let issuer: URL | null = null;
      if (issuerText === undefined) {
        problems.push(
          `${E.exchangeIssuer} is not set; ` +
            `${E.authMode}=token-exchange needs the OpenID Connect issuer URL (https://...)`,
        );
      } else {
        try {
          issuer = new URL(issuerText);
          if (issuer.protocol !== 'https:') {
            problems.push(`${E.exchangeIssuer}=${JSON.stringify(issuerText)} must be an https:// URL`);
          }
        } catch {
          problems.push(
            `${E.exchangeIssuer}=${JSON.stringify(issuerText)} is not a URL; expected the issuer's https:// URL`,
          );
        }
      }
      return {
        mode,
        tokenFile,
        issuer: issuer ?? new URL('https://invalid.invalid/'),
        audience: nonEmpty(env[E.exchangeAudience]) ?? null,
        scope: nonEmpty(env[E.exchangeScope]) ?? null,
        clientCredentialsFile: nonEmpty(env[E.exchangeClientCredentialsFile]) ?? null,
        clientId: nonEmpty(env[E.exchangeClientId]) ?? DEFAULT_EXCHANGE_CLIENT_ID,
      };
    }
    case 'gcp-workload-identity': {
      const metadataHost = nonEmpty(env[E.gceMetadataHost]) ?? DEFAULT_METADATA_HOST;
      if (!HOST_PORT.test(metadataHost)) {
        problems.push(
          `${E.gceMetadataHost}=${JSON.stringify(metadataHost)} must be a host ` +
            `or host:port without a scheme (default ${DEFAULT_METADATA_HOST})`,
        );
      }
      return { mode, metadataHost, audience: nonEmpty(env[E.tokenAudience]) ?? DEFAULT_TOKEN_AUDIENCE };
    }
  }
}

function loadKube(env: Env, problems: string[]): KubeSettings {
  const tokenFile = nonEmpty(env[E.kubeTokenFile]) ?? `${IDENTITY_MOUNT_PATH}/${IDENTITY_FILES.kubeToken}`;
  const caFile = nonEmpty(env[E.kubeCaFile]) ?? `${IDENTITY_MOUNT_PATH}/${IDENTITY_FILES.kubeCa}`;
  const explicit = httpUrl(E.kubeApiUrl, env[E.kubeApiUrl], problems, false);
  if (explicit) return { apiUrl: explicit, tokenFile, caFile };
  if (nonEmpty(env[E.kubeApiUrl]) !== undefined)
    return { apiUrl: new URL('https://invalid.invalid/'), tokenFile, caFile };
  const host = nonEmpty(env.KUBERNETES_SERVICE_HOST);
  const port = nonEmpty(env.KUBERNETES_SERVICE_PORT) ?? '443';
  if (host === undefined) {
    problems.push(
      `neither ${E.kubeApiUrl} nor KUBERNETES_SERVICE_HOST is set; ` +
        `the env-var secrets need the Kubernetes API (the kubelet sets KUBERNETES_SERVICE_HOST in every pod)`,
    );
    return { apiUrl: new URL('https://invalid.invalid/'), tokenFile, caFile };
  }
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  try {
    return { apiUrl: new URL(`https://${bracketed}:${port}/`), tokenFile, caFile };
  } catch {
    problems.push(
      `KUBERNETES_SERVICE_HOST=${JSON.stringify(host)} / ` +
        `KUBERNETES_SERVICE_PORT=${JSON.stringify(port)} do not form a URL`,
    );
    return { apiUrl: new URL('https://invalid.invalid/'), tokenFile, caFile };
  }
}

function loadDeadline(env: Env, problems: string[]): number {
  const text = nonEmpty(env[E.deadlineSeconds]);
  if (text === undefined) return DEFAULT_DEADLINE_SECONDS * 1000;
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_DEADLINE_SECONDS) {
    problems.push(
      `${E.deadlineSeconds}=${JSON.stringify(text)} must be a ` +
        `number of seconds above 0 and at most ${MAX_DEADLINE_SECONDS}`,
    );
    return DEFAULT_DEADLINE_SECONDS * 1000;
  }
  return Math.round(seconds * 1000);
}

function loadCaps(env: Env, problems: string[]): ByteCaps {
  const cap = (variable: string, fallback: number): number => {
    const text = nonEmpty(env[variable]);
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < BYTE_CAP_RANGE.min || n > BYTE_CAP_RANGE.max) {
      problems.push(
        `${variable}=${JSON.stringify(text)} must be a whole number ` +
          `of bytes from ${BYTE_CAP_RANGE.min} to ${BYTE_CAP_RANGE.max}`,
      );
      return fallback;
    }
    return n;
  };
  return {
    projectsBytes: cap(E.maxProjectsBytes, DEFAULT_BYTE_CAPS.projectsBytes),
    secretsBytes: cap(E.maxSecretsBytes, DEFAULT_BYTE_CAPS.secretsBytes),
    secretBytes: cap(E.maxSecretBytes, DEFAULT_BYTE_CAPS.secretBytes),
  };
}

export function loadConfig(env: Env): ConfigResult {
  const problems: string[] = [];
  const planResult = parsePlan(env[E.plan]);
  if (!planResult.ok) problems.push(...planResult.problems.map((p) => (p.startsWith(E.plan) ? p : `${E.plan}: ${p}`)));
  const plan = planResult.ok ? planResult.plan : null;
  const pod = loadPod(env, problems);
  const mlpBaseUrl = httpUrl(E.mlpApiHost, env[E.mlpApiHost], problems, true);
  const auth = loadAuth(env, problems);
  const kube = plan?.secret ? loadKube(env, problems) : null;
  const deadlineMs = loadDeadline(env, problems);
  const caps = loadCaps(env, problems);
  if (problems.length > 0 || plan === null || mlpBaseUrl === null) return { ok: false, problems, plan };
  return {
    ok: true,
    config: { plan, pod, mlpBaseUrl, auth, kube, deadlineMs, terminationLog: terminationLogPath(env), caps },
  };
}

/** The names the report mentions: every MLP secret the plan asks for. */
export function secretNames(plan: Plan | null): string[] {
  return plan ? requestedSecrets(plan) : [];
}
