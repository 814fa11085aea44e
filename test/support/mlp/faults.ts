/**
 * Fault knobs for any request listener: added latency, the next N connections reset, the next N
 * answers 429 with Retry-After, the next N answers 5xx. After the latency, a request gets the first
 * of reset / 429 / 5xx that still has a count, and that count runs down by one. Timers are tracked so `close()` leaves
 * nothing running.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

export interface FaultedRequest {
  method: string;
  path: string;
  fault: 'reset' | 'rate-limited' | 'failed' | null;
}

export class Faults {
  latencyMs = 0;
  /** Every request that reached the knobs, in order, with what they did to it. */
  readonly requests: FaultedRequest[] = [];
  #failures: { remaining: number; status: number; retryAfter?: string } = { remaining: 0, status: 503 };
  #rateLimits: { remaining: number; retryAfter: string } = { remaining: 0, retryAfter: '1' };
  #resets = 0;
  readonly #timers = new Set<NodeJS.Timeout>();

  /** Answer the next `count` requests with `status` and an `{"error": ...}` body (and `Retry-After`, if given). */
  failNext(count: number, status = 503, retryAfter?: string): this {
    this.#failures = { remaining: count, status, ...(retryAfter === undefined ? {} : { retryAfter }) };
    return this;
  }

  /** Answer the next `count` requests with 429 and `Retry-After: retryAfter` (seconds or an HTTP-date). */
  rateLimitNext(count: number, retryAfter: string): this {
    this.#rateLimits = { remaining: count, retryAfter };
    return this;
  }

  /** Reset (TCP RST) the connection of the next `count` requests without answering. */
  resetNext(count: number): this {
    this.#resets = count;
    return this;
  }

  clear(): void {
    this.latencyMs = 0;
    this.#failures.remaining = 0;
    this.#rateLimits.remaining = 0;
    this.#resets = 0;
  }

  /** Cancels pending latency timers (their requests are abandoned). */
  close(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  wrap(inner: RequestListener): RequestListener {
    const apply = (req: IncomingMessage, res: ServerResponse): void => {
      const record: FaultedRequest = {
        method: req.method ?? 'GET',
        path: new URL(req.url ?? '/', 'http://x').pathname,
        fault: null,
      };
      this.requests.push(record);
      if (this.#resets > 0) {
        this.#resets--;
        record.fault = 'reset';
        req.socket.resetAndDestroy();
        return;
      }
      if (this.#rateLimits.remaining > 0) {
        this.#rateLimits.remaining--;
        record.fault = 'rate-limited';
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': this.#rateLimits.retryAfter });
        res.end(JSON.stringify({ error: 'too many requests' }));
        return;
      }
      if (this.#failures.remaining > 0) {
        this.#failures.remaining--;
        record.fault = 'failed';
        res.writeHead(this.#failures.status, {
          'content-type': 'application/json',
          ...(this.#failures.retryAfter === undefined ? {} : { 'retry-after': this.#failures.retryAfter }),
        });
        res.end(JSON.stringify({ error: 'injected failure' }));
        return;
      }
      inner(req, res);
    };
    return (req, res) => {
      if (this.latencyMs <= 0) return apply(req, res);
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        apply(req, res);
      }, this.latencyMs);
      this.#timers.add(timer);
    };
  }
}
