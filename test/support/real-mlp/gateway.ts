/**
 * The CaraML-like gateway (test/support/mlp/gateway.ts, shared with the stand-in) in front of the
 * real MLP: bearer JWT → identity → the project's `readers`/`administrators`, read from MLP
 * itself on every request (no cache, so a test that changes a project's lists sees the effect at
 * once) → forwarded with `User-Email: <identity>`.
 */
import type { Server } from 'node:http';
import { closeServer, createGateway, type GatewayDecision, type GatewayOptions, listen } from '../mlp/index.js';
import { MlpApiError, type MlpClient } from './client.js';
import type { RealMlp } from './index.js';

/**
 * What CaraML's Keto policies grant (contract §5): readers and administrators may `get` the
 * project and its sub-resources. Routes not about one project pass (MLP lists projects to any
 * authenticated user); an unknown id passes so MLP itself answers its 404.
 */
export function projectAccessFromMlp(client: MlpClient): GatewayOptions['authorize'] {
  return async (identity, projectId) => {
    if (projectId === null) return true;
    try {
      const project = await client.getProject(projectId);
      return [...(project.readers ?? []), ...(project.administrators ?? [])].includes(identity);
    } catch (err) {
      if (err instanceof MlpApiError && err.status === 404) return true;
      throw err;
    }
  };
}

export interface RealMlpGateway {
  /** What a client (the fetcher) calls, e.g. http://127.0.0.1:40123 */
  url: string;
  /** Every gateway decision, in order. */
  decisions: GatewayDecision[];
  close(): Promise<void>;
}

export type RealMlpGatewayOptions = Pick<GatewayOptions, 'jwks' | 'jwksFetch' | 'issuer' | 'audience'>;

export async function startRealMlpGateway(
  mlp: RealMlp,
  options: RealMlpGatewayOptions,
  host?: string,
): Promise<RealMlpGateway> {
  const decisions: GatewayDecision[] = [];
  const { server, url }: { server: Server; url: string } = await listen(
    createGateway({
      ...options,
      authorize: projectAccessFromMlp(mlp.client),
      upstream: mlp.url,
      onDecision: (d) => decisions.push(d),
    }),
    host,
  );
  return { url, decisions, close: () => closeServer(server) };
}
