/**
 * The webhook's structured JSON logger (pino).
 *
 * What may appear in a line: pod refs (namespace/name), outcomes, counts, denial reasons, file
 * paths of the TLS material, durations. What never does: request bodies, annotation values, env
 * values, pod specs, tokens, key material. Call sites pass only such fields; there is no
 * "log the object" helper on purpose.
 */
import { type DestinationStream, type Logger, pino } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'dap-secret-webhook' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // "level":"info" reads better in `kubectl logs` than "level":30.
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}

/** An error for a log line: its class, message and stack, without any attached properties. */
export function errorFields(err: unknown): { name: string; message: string; stack?: string } {
  if (err instanceof Error) return { name: err.name, message: err.message, ...(err.stack ? { stack: err.stack } : {}) };
  return { name: typeof err, message: String(err) };
}
