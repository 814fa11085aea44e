/**
 * A safety net, not the mechanism: messages are built from names only, so no value or token should
 * ever reach them. Every token and requested secret value the fetcher handles is registered here
 * anyway, and the text that leaves the process (log field values, stderr, the termination
 * message) passes through `apply`, so a peer that echoes a token in an error body cannot make us
 * print it.
 *
 * The net must not damage what it protects: the logger never passes a line's structure (time,
 * level, message, field names) through it, and values shorter than MIN_LENGTH are not registered —
 * masking `info` everywhere would break ordinary words and tell every reader what the value is.
 */
export class Redactor {
  readonly #needles = new Set<string>();
  /** The needles longest first (so a value that contains another is masked as a whole); rebuilt after `add`. */
  #ordered: string[] | null = null;

  /**
   * Values shorter than this (after trimming) are not registered. As short as that, a value is
   * guessable and likely to occur in ordinary text; GitLab's masked variables draw the same line.
   */
  static readonly MIN_LENGTH = 8;
  static readonly MASK = '[redacted]';

  /**
   * Registers a value and the spellings it may show up in: trimmed, and JSON-escaped when that
   * differs (a peer's JSON body quoted as text). The value itself is kept, not copied. Callers that
   * encode a value another way (the Secret's base64 data) register that form themselves.
   */
  add(sensitive: string): void {
    const trimmed = sensitive.trim();
    if (trimmed.length < Redactor.MIN_LENGTH) return;
    this.#needles.add(sensitive);
    this.#needles.add(trimmed);
    if (NEEDS_JSON_ESCAPE.test(trimmed)) this.#needles.add(JSON.stringify(trimmed).slice(1, -1));
    this.#ordered = null;
  }

  apply(text: string): string {
    this.#ordered ??= [...this.#needles].sort((a, b) => b.length - a.length);
    let out = text;
    for (const needle of this.#ordered) {
      if (out.includes(needle)) out = out.split(needle).join(Redactor.MASK);
    }
    return out;
  }
}

/** Characters JSON.stringify escapes: quote, backslash, control characters, (lone) surrogates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching the control characters JSON escapes is the point
const NEEDS_JSON_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
