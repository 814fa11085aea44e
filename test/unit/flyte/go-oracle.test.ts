/**
 * Replays what Flyte's own Go code answered (test/fixtures/flyte-go-oracle.json, made by
 * go-oracle/generate.ts) and checks we answer the same: same secret where Go accepts, an error
 * where Go rejects, and our two documented refusals (invalid UTF-8, unknown enum numbers; for
 * base32, a length Go would silently truncate) only where Go's answer is exactly that case.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { encodeSecretAnnotation } from '../../../webhook/flyte/annotations.js';
import { Base32Error, decodeBase32 } from '../../../webhook/flyte/base32.js';
import {
  type FlyteSecret,
  formatSecretText,
  parseSecretText,
  TextFormatError,
} from '../../../webhook/flyte/prototext.js';
import { ACCEPTED, REJECTED } from './text-format-cases.js';

type JsonBytes = string | { base64: string };
interface Oracle {
  parse: {
    name?: string;
    text?: string;
    textBase64?: string;
    go:
      | {
          ok: true;
          group: JsonBytes;
          groupVersion: JsonBytes;
          key: JsonBytes;
          envVar: JsonBytes;
          mountRequirement: number;
        }
      | { ok: false; error?: string; panic?: string };
  }[];
  base32: { annotation: string; go: { ok: true; bytesBase64: string } | { ok: false; error: string } }[];
  print: { secret: FlyteSecret; go: { text: string; annotation: string } }[];
}

const oracle = JSON.parse(
  readFileSync(new URL('../../fixtures/flyte-go-oracle.json', import.meta.url), 'utf8'),
) as Oracle;
const MOUNTS = ['ANY', 'ENV_VAR', 'FILE'] as const;

function outcome(run: () => unknown): { value?: unknown; error?: Error } {
  try {
    return { value: run() };
  } catch (error) {
    return { error: error as Error };
  }
}

describe("same answers as Flyte's Go code (golang/protobuf v1.5.4, Go base32)", () => {
  it('the fixture covers every documented text-format case', () => {
    const names = new Set(oracle.parse.map((c) => c.name));
    for (const c of [...ACCEPTED, ...REJECTED])
      assert.ok(names.has(c.name), `regenerate the fixture: "${c.name}" is missing`);
  });

  it('documented cases: Go accepts exactly the accepted ones, and the stricter-than-Go ones', () => {
    const byName = new Map(oracle.parse.map((c) => [c.name, c.go.ok]));
    for (const c of ACCEPTED) assert.equal(byName.get(c.name), true, c.name);
    for (const c of REJECTED) assert.equal(byName.get(c.name), c.stricterThanGo !== undefined, c.name);
  });

  it(`text format: ${oracle.parse.length} texts parse as Go parses them`, () => {
    let accepted = 0;
    let stricter = 0;
    for (const c of oracle.parse) {
      const bytes =
        c.text !== undefined ? new TextEncoder().encode(c.text) : Uint8Array.from(Buffer.from(c.textBase64!, 'base64'));
      const label = c.name ?? JSON.stringify(Buffer.from(bytes).toString('latin1'));
      const ours = outcome(() => parseSecretText(bytes));
      if (ours.error && !(ours.error instanceof TextFormatError))
        assert.fail(`${label}: unexpected ${String(ours.error)}`);
      const go = c.go;
      if (!go.ok) {
        assert.ok(ours.error, `${label}: Go rejects it (${go.error ?? go.panic}), we accept it`);
        continue;
      }
      const invalidUtf8 = [go.group, go.groupVersion, go.key, go.envVar].some((v) => typeof v !== 'string');
      const mount = MOUNTS[go.mountRequirement];
      if (invalidUtf8 || mount === undefined) {
        stricter++;
        assert.ok(ours.error, `${label}: Go keeps an invalid value, we must refuse it`);
        assert.match(ours.error.message, invalidUtf8 ? /is not valid UTF-8/ : /is not a known mount type/, label);
        continue;
      }
      accepted++;
      assert.ifError(ours.error);
      assert.deepEqual(
        ours.value,
        { group: go.group, groupVersion: go.groupVersion, key: go.key, mountRequirement: mount, envVar: go.envVar },
        label,
      );
    }
    assert.ok(accepted > 100 && stricter > 5, `fixture too thin: ${accepted} accepted, ${stricter} stricter`);
  });

  it('base32: decodes as Go decodes', () => {
    for (const c of oracle.base32) {
      const ours = outcome(() => decodeBase32(c.annotation));
      if (ours.error && !(ours.error instanceof Base32Error))
        assert.fail(`${JSON.stringify(c.annotation)}: unexpected ${String(ours.error)}`);
      if (!c.go.ok) {
        assert.ok(ours.error, `${JSON.stringify(c.annotation)}: Go rejects it (${c.go.error}), we accept it`);
      } else if (ours.error) {
        // Only where Go drops a trailing group of 1, 3 or 6 characters without a word.
        const length = c.annotation.replace(/[\r\n]/g, '').length;
        assert.ok(
          [1, 3, 6].includes(length % 8),
          `${JSON.stringify(c.annotation)}: Go accepts it, we reject it: ${ours.error.message}`,
        );
      } else {
        assert.deepEqual(
          Buffer.from(ours.value as Uint8Array),
          Buffer.from(c.go.bytesBase64, 'base64'),
          JSON.stringify(c.annotation),
        );
      }
    }
  });

  it('printing: byte for byte what proto.MarshalTextString and Flyte base32 write', () => {
    for (const c of oracle.print) {
      assert.equal(formatSecretText(c.secret), c.go.text, JSON.stringify(c.secret));
      assert.equal(encodeSecretAnnotation(c.secret), c.go.annotation, JSON.stringify(c.secret));
    }
  });
});
