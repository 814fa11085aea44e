// The parts of oidc-provider (which ships no types) that test/support/oidc uses.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface OidcContext {
    oidc: {
      params: Record<string, string | undefined>;
      client: unknown;
      provider: Provider;
    };
    body: unknown;
    [key: string]: unknown;
  }

  export interface AccessTokenLike {
    resourceServer: unknown;
    scope?: string;
    expiration: number;
    save(): Promise<string>;
  }

  export class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    issuer: string;
    proxy: boolean;
    ClientCredentials: new (init: {
      client: unknown;
      scope?: string;
    }) => AccessTokenLike;
    registerGrantType(
      name: string,
      handler: (ctx: OidcContext) => Promise<void>,
      params?: string[],
      dupes?: string[],
    ): void;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  export const errors: {
    InvalidRequest: new (description: string) => Error;
    InvalidGrant: new (description: string) => Error;
    InvalidTarget: new (description: string) => Error;
  };
}
