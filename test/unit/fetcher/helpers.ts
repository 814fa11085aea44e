/** Deterministic clocks, deadlines and loggers for the fetcher's unit tests. */
import type { Fields, Logger } from '../../../fetcher/log.js';
import type { Clock, Deadline } from '../../../fetcher/retry.js';

/** A clock whose time moves only when something sleeps; `random` returns the queued values (default 0.5). */
export class FakeClock implements Clock {
  nowMs = 1_000_000;
  readonly sleeps: number[] = [];
  randoms: number[] = [];

  now(): number {
    return this.nowMs;
  }

  random(): number {
    return this.randoms.shift() ?? 0.5;
  }

  async sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw signal.reason;
    this.sleeps.push(ms);
    this.nowMs += ms;
  }
}

export function fakeDeadline(clock: Clock, totalMs: number, controller = new AbortController()): Deadline {
  return { atMs: clock.now() + totalMs, totalMs, signal: controller.signal };
}

export interface LogLine extends Fields {
  level: string;
  msg: string;
}

export class RecordingLogger implements Logger {
  constructor(
    readonly lines: LogLine[] = [],
    private readonly base: Fields = {},
  ) {}
  info(msg: string, fields: Fields = {}): void {
    this.lines.push({ level: 'info', msg, ...this.base, ...fields });
  }
  warn(msg: string, fields: Fields = {}): void {
    this.lines.push({ level: 'warn', msg, ...this.base, ...fields });
  }
  error(msg: string, fields: Fields = {}): void {
    this.lines.push({ level: 'error', msg, ...this.base, ...fields });
  }
  child(fields: Fields): Logger {
    return new RecordingLogger(this.lines, { ...this.base, ...fields });
  }
}

/** A JSON Response like a peer would send. */
export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

/** An unsigned JWT-shaped token with these claims (decodeJwt does not verify). */
export function fakeJwt(claims: Record<string, unknown>): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'ES256', typ: 'JWT' })}.${part(claims)}.c2lnbmF0dXJl`;
}
