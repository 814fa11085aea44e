/**
 * The admin's additions to every fetcher init container: a CA bundle (MLP or the token-exchange
 * issuer behind a private CA), extra env (e.g. a proxy) and image pull secrets (a fetcher image in
 * a private registry). Parsed from env vars into plain data; pure, one problem line each.
 */
import { FETCHER_ENV } from '../contract/fetcher-env.js';
import { isDnsSubdomain, isSecretDataKey } from '../contract/plan.js';

export interface FetcherAdminSettings {
  /** ConfigMap in the task pod's namespace holding the CA bundle; '' = public CAs only. */
  caConfigMap: string;
  caConfigMapKey: string;
  /** Added to the fetcher's env, in this order. */
  extraEnv: { name: string; value: string }[];
  /** Secrets in the task pod's namespace added to the pod's imagePullSecrets. */
  imagePullSecrets: string[];
}

/** Bounds: every value is copied into every injected pod spec. */
const MAX_EXTRA_ENV = 32;
const MAX_EXTRA_ENV_BYTES = 16 * 1024;
const MAX_PULL_SECRETS = 16;

/** Names the webhook writes itself (an admin value would silently lose or win against them). */
const RESERVED = new Set<string>(Object.values(FETCHER_ENV));
// POSIX names: what every shell, libc and Kubernetes version accepts.
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

type Raw = (name: string) => string;

export function readFetcherAdminSettings(raw: Raw): { settings: FetcherAdminSettings; problems: string[] } {
  const problems: string[] = [];

  const caConfigMap = raw('FETCHER_CA_CONFIGMAP');
  if (caConfigMap !== '' && !isDnsSubdomain(caConfigMap))
    problems.push(`FETCHER_CA_CONFIGMAP=${JSON.stringify(caConfigMap)} is not a valid ConfigMap name`);
  const caConfigMapKey = raw('FETCHER_CA_CONFIGMAP_KEY');
  if (!isSecretDataKey(caConfigMapKey))
    problems.push(
      `FETCHER_CA_CONFIGMAP_KEY=${JSON.stringify(caConfigMapKey)} is not a valid ConfigMap key ([-._a-zA-Z0-9]+)`,
    );

  const extraEnv: { name: string; value: string }[] = [];
  const extraText = raw('FETCHER_EXTRA_ENV');
  if (extraText !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(extraText);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      problems.push(
        'FETCHER_EXTRA_ENV must be a JSON object of env var names to string values, e.g. ' +
          '{"HTTPS_PROXY":"http://proxy:3128"}',
      );
    } else {
      const entries = Object.entries(parsed as Record<string, unknown>);
      if (entries.length > MAX_EXTRA_ENV)
        problems.push(
          `FETCHER_EXTRA_ENV has ${entries.length} variables; ` +
            `at most ${MAX_EXTRA_ENV} (they are copied into every injected pod)`,
        );
      if (Buffer.byteLength(extraText) > MAX_EXTRA_ENV_BYTES)
        problems.push(
          `FETCHER_EXTRA_ENV is ${Buffer.byteLength(extraText)} bytes; ` +
            `at most ${MAX_EXTRA_ENV_BYTES} (it is copied into every injected pod)`,
        );
      for (const [name, value] of entries) {
        if (!ENV_NAME.test(name))
          problems.push(
            `FETCHER_EXTRA_ENV: ${JSON.stringify(name)} is not an env ` +
              `var name (letters, digits and _, not starting with a digit)`,
          );
        else if (RESERVED.has(name))
          problems.push(
            `FETCHER_EXTRA_ENV: ${name} is set by the webhook ` +
              `itself${name === 'NODE_EXTRA_CA_CERTS' ? '; use FETCHER_CA_CONFIGMAP for a CA bundle' : ''}`,
          );
        else if (typeof value !== 'string') problems.push(`FETCHER_EXTRA_ENV: the value of ${name} must be a string`);
        else extraEnv.push({ name, value });
      }
    }
  }

  const pullText = raw('FETCHER_IMAGE_PULL_SECRETS');
  const imagePullSecrets =
    pullText === ''
      ? []
      : [
          ...new Set(
            pullText
              .split(',')
              .map((s) => s.trim())
              .filter((s) => s !== ''),
          ),
        ];
  if (imagePullSecrets.length > MAX_PULL_SECRETS)
    problems.push(`FETCHER_IMAGE_PULL_SECRETS names ${imagePullSecrets.length} Secrets; at most ${MAX_PULL_SECRETS}`);
  for (const name of imagePullSecrets)
    if (!isDnsSubdomain(name))
      problems.push(`FETCHER_IMAGE_PULL_SECRETS: ${JSON.stringify(name)} is not a valid Secret name`);

  return { settings: { caConfigMap, caConfigMapKey, extraEnv, imagePullSecrets }, problems };
}
