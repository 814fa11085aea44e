/**
 * Every byte a peer sends the fetcher is counted against a cap. A peer (MLP, its gateway, the
 * OIDC issuer, the metadata server — or anything that answers at MLP_API_HOST) could otherwise
 * stream a body, inflate a small gzip or send an endless value until the 256Mi init container is
 * OOM-killed with no message. Past a cap the run ends with a clear, non-retryable error (the same
 * answer would come again); below it, memory follows the cap, not the peer.
 *
 * Counting happens on the bytes the fetcher sees, i.e. after gzip decompression, so a small
 * compressed body that inflates past the cap is stopped as it inflates, not after.
 */
import { FetcherError } from './errors.js';

/** What a cap protects, for the message: "MLP's answer to list projects". */
export interface CapInfo {
  /** "MLP", "the OIDC issuer", … */
  peer: string;
  /** "list projects", … */
  operation: string;
  maxBytes: number;
  /** The setting that raises the cap, when an admin may need to; omitted for fixed caps. */
  setting?: string;
}

function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

export function bodyTooLarge(cap: CapInfo, what = 'its answer'): FetcherError {
  return new FetcherError({
    problem:
      `${cap.peer} sent more than ${formatBytes(cap.maxBytes)} in ${what} to ` +
      `${cap.operation} (counted after decompression); the fetcher stopped reading`,
    fix: cap.setting
      ? `check that MLP_API_HOST points at the MLP API and that the project is as large as that; ` +
        `if it is, raise ${cap.setting}`
      : `check that the URL for ${cap.peer} points at the right service`,
  });
}

/**
 * The body's chunks, failing with bodyTooLarge once more than `cap.maxBytes` have arrived. Leaving
 * the loop (or the failure) ends the underlying stream, so the rest is never read.
 */
export async function* capped(
  body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  cap: CapInfo,
): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const chunk of body) {
    seen += chunk.byteLength;
    if (seen > cap.maxBytes) throw bodyTooLarge(cap);
    yield chunk;
  }
}

/** The whole body as UTF-8 text, at most `cap.maxBytes` of it, else bodyTooLarge. */
export async function readCappedText(body: AsyncIterable<Uint8Array> | null, cap: CapInfo): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of capped(body ?? [], cap)) chunks.push(chunk);
  // TextDecoder, like fetch's text(): replaces bad bytes and drops a byte-order mark.
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/**
 * At most the first `maxBytes` of the body as text, without failing: for error bodies, whose
 * status already is the error and whose text is only quoted (shortened) in the message.
 */
export async function readTextPrefix(body: AsyncIterable<Uint8Array> | null, maxBytes: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let seen = 0;
  for await (const chunk of body ?? []) {
    const room = maxBytes - seen;
    chunks.push(chunk.byteLength > room ? chunk.subarray(0, room) : chunk);
    seen += Math.min(chunk.byteLength, room);
    if (seen >= maxBytes) break;
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}

/**
 * Splits chunks into slices of at most `size` bytes, so a per-item count taken between slices
 * (readWantedSecrets' per-secret cap) is exact to within one slice.
 */
export function* slices(chunk: Uint8Array, size: number): Generator<Uint8Array> {
  for (let at = 0; at < chunk.byteLength; at += size) yield chunk.subarray(at, Math.min(at + size, chunk.byteLength));
}
