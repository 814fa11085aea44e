/**
 * The fetcher's streaming split of MLP's secrets list (fetcher/json-array-items.ts): whatever the
 * chunking, it reports exactly the items JSON.parse sees, in order, and refuses what is not one
 * JSON array.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JsonArrayItems } from '../../../fetcher/json-array-items.js';

function feed(text: string, cuts: number[]): { items: unknown[]; ended: boolean; error: boolean } {
  const bytes = Buffer.from(text, 'utf8');
  const parser = new JsonArrayItems();
  const items: unknown[] = [];
  let error = false;
  parser.onValue = ({ value, key }) => {
    assert.equal(key, items.length);
    items.push(value);
  };
  parser.onError = () => {
    error = true;
  };
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const at of [...points, bytes.length]) {
    parser.write(bytes.subarray(from, at));
    from = at;
  }
  return { items, ended: parser.isEnded, error };
}

/** Pretty-printed or not, so whitespace lands everywhere JSON allows it. */
const layout = (value: unknown, indent: number) => JSON.stringify(value, null, indent);

describe('JsonArrayItems (MLP secrets list)', () => {
  it('reports the items JSON.parse sees, for any array and any chunking (escapes, nesting, UTF-8 split across chunks)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue()),
        fc.integer({ min: 0, max: 3 }),
        fc.array(fc.nat()),
        (array, indent, cuts) => {
          const text = layout(array, indent);
          const { items, ended, error } = feed(text, cuts);
          assert.equal(error, false);
          assert.equal(ended, true);
          assert.deepEqual(items, JSON.parse(text));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('MLP-shaped secrets with quotes, backslashes and non-ASCII in names and values', () => {
    const list = [
      { id: 1, name: 'a"b', data: 'x\\"y\\\\', secret_storage: { config: null } },
      { id: 2, name: 'ümlaut-☃', data: '\\', secret_storage: { config: { nested: ['[', ']', '{'] } } },
      { id: 3, name: 'plain', data: '"' },
    ];
    const text = JSON.stringify(list);
    for (let cut = 0; cut <= Buffer.byteLength(text); cut++) assert.deepEqual(feed(text, [cut]).items, list);
  });

  for (const [what, text] of [
    ['an object', '{"name":"a"}'],
    ['a string', '"[1]"'],
    ['a missing comma', '[{"a":1} {"b":2}]'],
    ['a trailing comma', '[1,]'],
    ['a leading comma', '[,1]'],
    ['a broken item', '[{"a":tru}]'],
    ['two values in one item', '[1 2]'],
    ['data after the array', '[1] [2]'],
    ['a stray closing brace', '[1}'],
  ] as const) {
    it(`refuses ${what}`, () => {
      const { ended, error } = feed(text, []);
      assert.equal(error, true);
      assert.equal(ended, false);
    });
  }

  it('is not ended when the body stops inside the array (a cut-off answer)', () => {
    for (const text of ['', '   ', '[', '[{"name":"a"}', '[{"name":"a"},', '[{"name":"a\\']) {
      const { ended, error } = feed(text, []);
      assert.equal(error, false, text);
      assert.equal(ended, false, text);
    }
  });
});
