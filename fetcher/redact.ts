/**
 * A safety net, not the mechanism: messages are built from names only, so no value or token should
 * ever reach them. Every token and secret value the fetcher handles is registered here anyway, and
 * every line that leaves the process (logs, stderr, the termination message) passes through
 * `apply`, so a peer that echoes a token in an error body cannot make us print it.
 */
export class Redactor {
  readonly #needles = new Set<string>();

  /** Very short strings would turn ordinary words into noise; values that short are not secret. */
  static readonly MIN_LENGTH = 4;
  static readonly MASK = '[redacted]';

  add(sensitive: string): void {
    for (const form of [sensitive, sensitive.trim(), Buffer.from(sensitive, 'utf8').toString('base64')]) {
      if (form.length >= Redactor.MIN_LENGTH) this.#needles.add(form);
    }
  }

  apply(text: string): string {
    let out = text;
    // Longest first, so a value that contains another is masked as a whole.
    for (const needle of [...this.#needles].sort((a, b) => b.length - a.length)) {
      if (out.includes(needle)) out = out.split(needle).join(Redactor.MASK);
    }
    return out;
  }
}
