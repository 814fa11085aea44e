/**
 * The MLP peer for fetcher tests: the stand-in API (trusts User-Email) behind the gateway
 * (bearer JWT → identity → readers/administrators), with fault knobs in front of the gateway,
 * both on 127.0.0.1 with ephemeral ports.
 *
 *   const mlp = await startMlp({ jwks: cluster.jwks, issuer: cluster.issuer, audience: 'api.caraml' });
 *   mlp.data.addProject({ name: 'ns', readers: ['system:serviceaccount:ns:sa'], secrets: { token: 'v' } });
 *   mlp.faults.failNext(2);
 *   ... MLP_API_HOST=mlp.url ...
 *   await mlp.close();
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JSONWebKeySet, JWTVerifyGetKey } from 'jose';
import { Faults } from './faults.js';
import { createGateway, type GatewayDecision } from './gateway.js';
import { createMlpStandIn, MlpData } from './stand-in.js';

export { Faults } from './faults.js';
export { createGateway, type GatewayDecision, type GatewayOptions } from './gateway.js';
export { createMlpStandIn, likePrefix, MlpData } from './stand-in.js';

export interface MlpPeer {
  /** What the fetcher calls (the gateway), e.g. http://127.0.0.1:40123 */
  url: string;
  /** The stand-in itself, behind the gateway (trusts User-Email). */
  backendUrl: string;
  data: MlpData;
  faults: Faults;
  /** Every gateway decision, in order. */
  decisions: GatewayDecision[];
  close(): Promise<void>;
}

export interface MlpPeerOptions {
  jwks: URL | JSONWebKeySet | JWTVerifyGetKey;
  jwksFetch?: typeof fetch;
  issuer: string | string[];
  audience: string | string[];
}

/** `host`: 127.0.0.1 unless pods must reach it (the real-node tier listens on its node IP). */
export async function listen(listener: RequestListener, host = '127.0.0.1'): Promise<{ server: Server; url: string }> {
  const server = createServer(listener);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://${host}:${port}` };
}

export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export async function startMlp(options: MlpPeerOptions): Promise<MlpPeer> {
  const data = new MlpData();
  const faults = new Faults();
  const decisions: GatewayDecision[] = [];
  const backend = await listen(createMlpStandIn(data));
  const gateway = await listen(
    faults.wrap(
      createGateway({
        ...options,
        authorize: (identity, projectId) => data.canRead(identity, projectId),
        upstream: backend.url,
        onDecision: (d) => decisions.push(d),
      }),
    ),
  );
  return {
    url: gateway.url,
    backendUrl: backend.url,
    data,
    faults,
    decisions,
    close: async () => {
      faults.close();
      await closeServer(gateway.server);
      await closeServer(backend.server);
    },
  };
}
