/**
 * Picks the token source for the configured auth mode. Each mode is imported only when chosen, so
 * a run loads neither openid-client nor the metadata client unless it needs them.
 */
import type { Config } from '../config.js';
import type { TokenDeps, TokenSource } from './source.js';

export type { TokenSource } from './source.js';

export async function createTokenSource(config: Config, deps: TokenDeps): Promise<TokenSource> {
  const { auth, pod } = config;
  switch (auth.mode) {
    case 'serviceaccount': {
      const { serviceAccountTokenSource } = await import('./serviceaccount.js');
      return serviceAccountTokenSource(auth.tokenFile, pod, deps);
    }
    case 'token-exchange': {
      const { tokenExchangeTokenSource } = await import('./token-exchange.js');
      return tokenExchangeTokenSource(auth, pod, deps);
    }
    case 'gcp-workload-identity': {
      const { gcpWorkloadIdentityTokenSource } = await import('./gcp-workload-identity.js');
      return gcpWorkloadIdentityTokenSource(auth.metadataHost, auth.audience, pod.namespace, deps);
    }
  }
}
