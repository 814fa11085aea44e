/**
 * `gcp-workload-identity` mode: a Google-signed ID token (with the `email` claim) for the MLP
 * audience, from the GKE metadata server — what CaraML's own clients send. On GKE the metadata
 * server answers for the Google service account bound to the pod's Kubernetes service account.
 */
import { readCappedText } from '../bounded-body.js';
import { FetcherError } from '../errors.js';
import { attemptRequest, bodyReadFailure, type CallInfo, peerErrorText, throwIfRetryableStatus } from '../http.js';
import { jwtIdentity, type TokenDeps, type TokenSource } from './source.js';

const PEER = 'the GKE metadata server';
/** A Google ID token is about 1 KB. */
const MAX_ID_TOKEN_BYTES = 64 * 1024;

export function identityTokenUrl(metadataHost: string, audience: string): URL {
  const url = new URL(`http://${metadataHost}/computeMetadata/v1/instance/service-accounts/default/identity`);
  url.searchParams.set('audience', audience);
  url.searchParams.set('format', 'full');
  return url;
}

export function gcpWorkloadIdentityTokenSource(
  metadataHost: string,
  audience: string,
  namespace: string,
  deps: TokenDeps,
): TokenSource {
  const url = identityTokenUrl(metadataHost, audience);
  return {
    async token(attempt) {
      const info: CallInfo = { peer: PEER, operation: `get an ID token for audience ${audience}`, attempt };
      const response = await attemptRequest(deps.http, info, url, { headers: { 'Metadata-Flavor': 'Google' } });
      throwIfRetryableStatus(response, info, deps.http.clock);
      if (response.status !== 200) {
        const detail = await peerErrorText(response);
        throw new FetcherError({
          problem: `${PEER} refused an ID token for audience ${audience}${detail ? ` (${detail})` : ''}`,
          fix:
            `enable Workload Identity on the node pool and bind the pod's Kubernetes ` +
            `service account in namespace ${namespace} to a Google service account ` +
            `(annotation iam.gke.io/gcp-service-account), or choose another MLP_AUTH_MODE`,
          status: response.status,
        });
      }
      let token: string;
      try {
        token = (
          await readCappedText(response.body, { peer: PEER, operation: info.operation, maxBytes: MAX_ID_TOKEN_BYTES })
        ).trim();
      } catch (err) {
        if (err instanceof FetcherError) throw err; // past the cap: not retried
        throw bodyReadFailure(info, url, err);
      }
      deps.redactor.add(token);
      if (token.split('.').length !== 3) {
        throw new FetcherError({
          problem: `${PEER} answered with something that is not an ID token`,
          fix: `check that GCE_METADATA_HOST (${metadataHost}) points at the GKE metadata server`,
          status: response.status,
        });
      }
      return token;
    },
    identity: (token) =>
      (token && jwtIdentity(token)) ?? `the Google service account bound to the pod's service account in ${namespace}`,
  };
}
