/**
 * JSON lines on stdout, one object per event: what the kubelet collects and any log pipeline
 * parses. Hand-written rather than pino: the fetcher logs a dozen lines per run, and a dozen lines
 * of code keep the single executable small and its start-up fast.
 */
import type { Redactor } from './redact.js';

export type Fields = Record<string, string | number | boolean | null | undefined | string[]>;

export interface Logger {
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: Fields): Logger;
}

export interface LogSink {
  write(line: string): void;
}

/** Every line's own keys: set by the logger, never by a field, never redacted. */
const FIXED_KEYS = new Set(['time', 'level', 'msg']);

export function jsonLogger(
  sink: LogSink,
  redactor: Redactor,
  now: () => Date = () => new Date(),
  base: Fields = {},
): Logger {
  const emit = (level: string, msg: string, fields: Fields = {}): void => {
    const record: Record<string, unknown> = { time: now().toISOString(), level, msg };
    for (const [key, value] of Object.entries({ ...base, ...fields })) if (!FIXED_KEYS.has(key)) record[key] = value;
    // Only field values pass through the redactor, each before JSON escaping changes its spelling:
    // the line's structure (fixed keys, field names, punctuation) is the code's and stays intact.
    const line = JSON.stringify(record, function (this: unknown, key: string, value: unknown) {
      if (this === record && FIXED_KEYS.has(key)) return value;
      return typeof value === 'string' ? redactor.apply(value) : value;
    });
    sink.write(`${line}\n`);
  };
  return {
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) => jsonLogger(sink, redactor, now, { ...base, ...fields }),
  };
}
