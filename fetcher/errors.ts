/**
 * The one error type the fetcher reports. Every failure a person will read names the pod, the MLP
 * project, the secret names and (when there was one) the HTTP status, says what went wrong and
 * what to do — and never carries a secret value or a token (see redact.ts for the safety net).
 */

export const EXIT_CODES = {
  ok: 0,
  /** MLP, the token source, Kubernetes or the filesystem refused or failed. */
  failed: 1,
  /** The environment or the plan is invalid: the pod spec (the webhook's output) needs fixing. */
  config: 2,
  /** The overall deadline passed while a peer kept failing or answering slowly. */
  deadline: 3,
} as const;
export type ExitCode = (typeof EXIT_CODES)[keyof typeof EXIT_CODES];

export interface FetcherErrorOptions {
  /** What went wrong: a sentence that names the thing (no values, no tokens). */
  problem: string;
  /** What the reader should do about it. */
  fix: string;
  /** HTTP status of the response that caused this, if any. */
  status?: number;
  /** The MLP secret names this is about; by default the report names every requested secret. */
  secrets?: string[];
  /** Network errors, 5xx and 429 are worth another attempt; everything else is not. */
  retryable?: boolean;
  /** The peer's Retry-After, already converted to milliseconds. */
  retryAfterMs?: number;
  exitCode?: ExitCode;
}

/** Marks FetcherErrors across module instances (a loader may evaluate this file twice, as tsx does in tests). */
const BRAND = Symbol.for('dap-secret-fetcher.FetcherError');

export class FetcherError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }

  readonly [BRAND] = true;
  readonly problem: string;
  readonly fix: string;
  readonly status: number | undefined;
  readonly secrets: string[] | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly exitCode: ExitCode;

  constructor(options: FetcherErrorOptions) {
    super(options.problem);
    this.name = 'FetcherError';
    this.problem = options.problem;
    this.fix = options.fix;
    this.status = options.status;
    this.secrets = options.secrets;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.exitCode = options.exitCode ?? EXIT_CODES.failed;
  }
}

/** What the report says the run was for; any part may be unknown when configuration failed. */
export interface ReportContext {
  pod?: string;
  project?: string;
  secrets?: string[];
}

/** Kubernetes keeps at most 4096 bytes of a termination message; stay well inside that. */
const MAX_REPORT_BYTES = 3800;
const MAX_LISTED_NAMES = 20;

export function quote(name: string): string {
  return `\`${name}\``;
}

/** `a`, `b` and 3 more */
export function listNames(names: readonly string[]): string {
  const shown = names.slice(0, MAX_LISTED_NAMES).map(quote).join(', ');
  const rest = names.length - MAX_LISTED_NAMES;
  return rest > 0 ? `${shown} and ${rest} more` : shown;
}

function sentence(text: string, capitalize = false): string {
  let trimmed = text.trim();
  if (capitalize) trimmed = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

/** The error as one paragraph: for stderr and the termination message. */
export function renderReport(error: FetcherError, context: ReportContext): string {
  const about: string[] = [];
  if (context.pod) about.push(`pod ${quote(context.pod)}`);
  if (context.project) about.push(`MLP project ${quote(context.project)}`);
  const secrets = error.secrets ?? context.secrets ?? [];
  if (secrets.length > 0) about.push(`${secrets.length === 1 ? 'secret' : 'secrets'} ${listNames(secrets)}`);
  const head = about.length > 0 ? `dap-secret-fetcher failed (${about.join(', ')}): ` : 'dap-secret-fetcher failed: ';
  const status = error.status === undefined ? '' : ` (HTTP ${error.status})`;
  const text = `${head}${sentence(error.problem.replace(/[.]$/, '') + status)} ${sentence(error.fix, true)}`;
  return truncateUtf8(text.replace(/\s*\n\s*/g, ' '), MAX_REPORT_BYTES);
}

function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  let cut = text.slice(0, maxBytes);
  while (Buffer.byteLength(cut, 'utf8') > maxBytes - 3) cut = cut.slice(0, -1);
  return `${cut}...`;
}

/** Anything thrown that is not a FetcherError is a bug; report it without its stack. */
export function asFetcherError(err: unknown): FetcherError {
  if (err instanceof FetcherError) return err;
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return new FetcherError({
    problem: `unexpected internal error (${message.slice(0, 300)})`,
    fix: 'this is a bug in dap-secret-fetcher; please report it with this message',
  });
}
