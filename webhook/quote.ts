/**
 * Quoting user input in denial and warning messages. A key or value can be up to ~1 MiB of
 * annotation; messages go back to the client, into events and logs, so each quoted piece is
 * bounded: the start of it, and how long the rest was.
 */
export const QUOTE_MAX_CHARS = 64;

export function quote(text: string, max = QUOTE_MAX_CHARS): string {
  if (text.length <= max) return JSON.stringify(text);
  return `${JSON.stringify(text.slice(0, max))}… (${text.length} characters)`;
}
