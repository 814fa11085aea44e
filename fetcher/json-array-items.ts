/**
 * The items of a top-level JSON array, one at a time, as the bytes arrive: the scanner finds
 * where each item ends (strings and nesting tracked byte by byte, string bodies skipped with
 * Buffer.indexOf) and hands that item alone to JSON.parse. Holds one item at a time, so a large
 * list costs about one item of memory, and runs at JSON.parse's native speed instead of a
 * JavaScript tokenizer's (@streamparser/json took ~0.1 ms per listed MLP secret, 100 ms for a
 * project of 1,000; see bench/README.md, "herd").
 *
 * Same surface as the parts of @streamparser/json's JSONParser that fetcher/mlp.ts used:
 * `onValue({ value, key })` per item, `onError(err)` once on malformed input (nothing more is
 * reported after it), `write(chunk)`, `isEnded` once the closing `]` was read.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const isWhitespace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;

/** How many backslashes directly precede `at`, counting back no further than `from`. */
function backslashesBefore(buf: Buffer, at: number, from: number): number {
  let n = 0;
  while (at - n - 1 >= from && buf[at - n - 1] === BACKSLASH) n++;
  return n;
}

type Expect = 'array' | 'item-or-end' | 'item' | 'comma-or-end' | 'done';

export class JsonArrayItems {
  onValue: (item: { value: unknown; key: number }) => void = () => {};
  onError: (err: Error) => void = () => {};
  #expect: Expect = 'array';
  #failed = false;
  /** Inside the current item: nesting depth below the array, string and escape state. */
  #depth = 0;
  #inString = false;
  #escaped = false;
  #inItem = false;
  /** The current item's bytes so far (slices of the chunks it spans). */
  #parts: Buffer[] = [];
  #index = 0;

  get isEnded(): boolean {
    return this.#expect === 'done' && !this.#failed;
  }

  write(chunk: Uint8Array): void {
    if (this.#failed) return;
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    try {
      this.#scan(buf);
    } catch (err) {
      this.#fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  #fail(err: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#parts = [];
    this.onError(err);
  }

  #scan(buf: Buffer): void {
    // The hot loop works on locals (a field access per byte costs several times the loop).
    let inItem = this.#inItem;
    let inString = this.#inString;
    let escaped = this.#escaped;
    let depth = this.#depth;
    let itemStart = inItem ? 0 : -1;
    const end = (at: number) => {
      this.#endItem(buf, itemStart, at);
      inItem = false;
      depth = 0;
    };
    for (let i = 0; i < buf.length; i++) {
      if (inString) {
        // Skip the string body natively: the next quote not escaped by an odd run of backslashes.
        if (escaped) {
          escaped = false;
          continue;
        }
        let quote = buf.indexOf(QUOTE, i);
        while (quote !== -1 && backslashesBefore(buf, quote, i) % 2 === 1) quote = buf.indexOf(QUOTE, quote + 1);
        if (quote === -1) {
          escaped = backslashesBefore(buf, buf.length, i) % 2 === 1;
          break;
        }
        i = quote;
        inString = false;
        if (depth === 0) end(i + 1);
        continue;
      }
      const b = buf[i]!;
      if (inItem) {
        if (b === QUOTE) inString = true;
        else if (b === OPEN_OBJECT || b === OPEN_ARRAY) depth++;
        else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
          if (depth === 0) {
            // A scalar item ended by the array's `]`.
            if (b !== CLOSE_ARRAY) throw new Error('unexpected } in the array');
            end(i);
            this.#expect = 'done';
          } else if (--depth === 0) end(i + 1);
        } else if (b === COMMA && depth === 0) {
          end(i);
          this.#expect = 'item';
        }
        continue;
      }
      if (isWhitespace(b)) continue;
      switch (this.#expect) {
        case 'array':
          if (b !== OPEN_ARRAY) throw new Error('not a JSON array');
          this.#expect = 'item-or-end';
          break;
        case 'item-or-end':
        case 'item':
          if (b === CLOSE_ARRAY && this.#expect === 'item-or-end') {
            this.#expect = 'done';
            break;
          }
          if (b === COMMA || b === CLOSE_ARRAY || b === CLOSE_OBJECT) throw new Error('expected an array item');
          inItem = true;
          itemStart = i;
          if (b === QUOTE) inString = true;
          else if (b === OPEN_OBJECT || b === OPEN_ARRAY) depth = 1;
          break;
        case 'comma-or-end':
          if (b === COMMA) this.#expect = 'item';
          else if (b === CLOSE_ARRAY) this.#expect = 'done';
          else throw new Error('expected , or ] after an array item');
          break;
        case 'done':
          throw new Error('data after the end of the array');
      }
    }
    if (inItem) this.#parts.push(buf.subarray(Math.max(itemStart, 0)));
    this.#inItem = inItem;
    this.#inString = inString;
    this.#escaped = escaped;
    this.#depth = depth;
  }

  /** The item ends before `end` in `buf`; parse it alone. */
  #endItem(buf: Buffer, start: number, end: number): void {
    const last = buf.subarray(Math.max(start, 0), end);
    const bytes = this.#parts.length === 0 ? last : Buffer.concat([...this.#parts, last]);
    this.#parts = [];
    this.#expect = 'comma-or-end';
    // JSON.parse rejects anything that is not one complete value (e.g. `tru`, `1 2`).
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    this.onValue({ value, key: this.#index++ });
  }
}
