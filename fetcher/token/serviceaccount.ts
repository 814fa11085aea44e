/**
 * `serviceaccount` mode: the pod's projected service-account token (audience chosen by the admin),
 * sent to MLP as it is — for gateways that trust the cluster's issuer.
 */

import { FETCHER_ENV } from '../../contract/fetcher-env.js';
import type { PodIdentity } from '../config.js';
import { jwtIdentity, readTokenFile, type TokenDeps, type TokenSource } from './source.js';

export function serviceAccountTokenSource(tokenFile: string, pod: PodIdentity, deps: TokenDeps): TokenSource {
  return {
    token: () => readTokenFile(tokenFile, FETCHER_ENV.mlpTokenFile, deps.redactor),
    identity: (token) =>
      pod.serviceAccount
        ? `system:serviceaccount:${pod.namespace}:${pod.serviceAccount}`
        : ((token && jwtIdentity(token)) ?? `a service account in namespace ${pod.namespace}`),
  };
}
