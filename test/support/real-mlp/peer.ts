/**
 * The real MLP as a test peer, shaped like the stand-in's `startMlp()` (test/support/mlp): MLP and
 * PostgreSQL, the gateway in front, seeding through MLP's own API. For the scenarios that read
 * secrets; fault scenarios (5xx, 429, resets, latency) keep the stand-in and its knobs.
 *
 *   const mlp = await startRealMlpPeer({ jwks: new URL(cp.jwksUrl), jwksFetch: caFetch(cp.caPem), issuer: cp.issuer, audience: 'api.caraml' });
 *   await mlp.seedProject({ name: 'flytesnacks-development', readers: [podIdentity], secrets: { key: 'value' } });
 *   ... MLP_API_HOST=mlp.url ...
 *   await mlp.close();
 */
import type { GatewayDecision } from '../mlp/index.js';
import { type RealMlpGateway, type RealMlpGatewayOptions, startRealMlpGateway } from './gateway.js';
import {
  type MlpProject,
  type MlpSecret,
  type RealMlp,
  type RealMlpOptions,
  type SeedProject,
  startRealMlp,
} from './index.js';

export interface RealMlpPeer {
  /** What the fetcher calls (the gateway), e.g. http://127.0.0.1:40123 */
  url: string;
  /** MLP itself, behind the gateway (trusts User-Email). */
  backendUrl: string;
  /** Every gateway decision, in order. */
  decisions: GatewayDecision[];
  /** A project (its creator, SEEDER_EMAIL, becomes an administrator) and its secrets. */
  seedProject(p: SeedProject): Promise<{ project: MlpProject; secrets: MlpSecret[] }>;
  /** The launcher: seeding client, log tails. */
  mlp: RealMlp;
  /** Stops the gateway, MLP and PostgreSQL. Safe to call twice. */
  close(): Promise<void>;
}

/** `options.gatewayHost`: where the gateway listens (default 127.0.0.1; the real-node tier: its node IP). */
export async function startRealMlpPeer(
  gatewayOptions: RealMlpGatewayOptions,
  options: RealMlpOptions & { gatewayHost?: string } = {},
): Promise<RealMlpPeer> {
  const { gatewayHost: _, ...mlpOptions } = options;
  const mlp = await startRealMlp(mlpOptions);
  let gateway: RealMlpGateway;
  try {
    gateway = await startRealMlpGateway(mlp, gatewayOptions, options.gatewayHost);
  } catch (err) {
    await mlp.stop();
    throw err;
  }
  let closed: Promise<void> | undefined;
  return {
    url: gateway.url,
    backendUrl: mlp.url,
    decisions: gateway.decisions,
    seedProject: (p) => mlp.seedProject(p),
    mlp,
    close: () => (closed ??= gateway.close().finally(() => mlp.stop())),
  };
}
