/**
 * Quoting user input in denial and warning messages. A key or value can be up to ~1 MiB of
 * annotation; messages go back to the client, into events and logs, so each quoted piece is
 * bounded: the start of it, and how long the rest was.
 */
const QUOTE_MAX_CHARS = 64;

/** `text` itself when short, else its start and its length (unquoted). */
export function clip(text: string, max = QUOTE_MAX_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}

export function quote(text: string, max = QUOTE_MAX_CHARS): string {
  if (text.length <= max) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, max))}… (${text.length} characters)`;
}

/** Any JSON value in a message: a string quoted and bounded, anything else by its type only. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return quote(value);
  if (value === null || value === undefined) return String(value);
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}
