/**
 * A `fetch` that trusts one private CA (the cluster's), for peers that take a fetch function
 * (jose's remote JWKS in the MLP gateway stand-in). Node's global fetch cannot be given a CA.
 * GET-only and small bodies: enough for discovery documents and key sets.
 */
import { get } from 'node:https';

export function caFetch(caPem: string): typeof fetch {
  const fetchWithCa = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : String(input);
    if (init?.method && init.method !== 'GET')
      return Promise.reject(new Error(`caFetch supports GET only (asked ${init.method} ${url})`));
    return new Promise((resolve, reject) => {
      const req = get(
        url,
        { ca: caPem, headers: headerRecord(init?.headers), signal: init?.signal ?? undefined },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const headers = new Headers();
            for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
            resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0, headers }));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
    });
  };
  return fetchWithCa as typeof fetch;
}

function headerRecord(headers: HeadersInit | undefined): Record<string, string> {
  return Object.fromEntries(new Headers(headers ?? {}).entries());
}
