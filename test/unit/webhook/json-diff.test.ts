/**
 * webhook/mutate/json-diff.ts makes the same patch as fast-json-patch's compare() (which it
 * replaces on the admission path to skip compare's deep clones): same operations, same order,
 * same serialised bytes — for any two JSON documents, and for a pod and its mutation.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import fastJsonPatch from 'fast-json-patch';
import { diffJson } from '../../../webhook/mutate/json-diff.js';

/** Documents that share structure, so the walk goes deep (independent ones mostly differ at the root). */
const related = fc.jsonValue().chain((base) =>
  fc
    .tuple(fc.constant(base), fc.jsonValue({ maxDepth: 2 }), fc.array(fc.string(), { maxLength: 3 }))
    .map(([a, extra, keys]) => {
      const b = structuredClone(a) as unknown;
      if (typeof b === 'object' && b !== null) {
        for (const k of keys) {
          if (Array.isArray(b)) b.push(extra);
          else (b as Record<string, unknown>)[k] = extra;
        }
        if (Array.isArray(b) && b.length > 1 && keys.length === 0) b.pop();
      }
      return [a, b] as const;
    }),
);

describe('diffJson (compare() without the clones)', () => {
  it('gives the same patch as fast-json-patch compare() for any two JSON documents', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        fc.pre(typeof a === 'object' && a !== null && typeof b === 'object' && b !== null);
        assert.equal(JSON.stringify(diffJson(a, b)), JSON.stringify(fastJsonPatch.compare(a, b)));
      }),
      { numRuns: 500 },
    );
  });

  it('gives the same patch for documents that differ deep inside, with keys that need escaping', () => {
    fc.assert(
      fc.property(related, ([a, b]) => {
        fc.pre(typeof a === 'object' && a !== null && typeof b === 'object' && b !== null);
        assert.equal(JSON.stringify(diffJson(a, b)), JSON.stringify(fastJsonPatch.compare(a, b)));
      }),
      { numRuns: 500 },
    );
    const a = {
      metadata: { annotations: { 'a/b~c': '1' } },
      spec: { containers: [{ env: [{ name: 'X', value: undefined }] }] },
    };
    const b = {
      metadata: { annotations: { 'a/b~c': '2', 'flyte.secrets/s0': 'x' } },
      spec: {
        containers: [{ env: [{ name: 'X' }, { name: 'Y', value: 'v' }] }],
        initContainers: [{ name: 'fetcher' }],
      },
    };
    assert.equal(JSON.stringify(diffJson(a, b)), JSON.stringify(fastJsonPatch.compare(a, b)));
  });

  it('applies: the patch turns the first document into the second', () => {
    fc.assert(
      fc.property(related, ([a, b]) => {
        fc.pre(typeof a === 'object' && a !== null && typeof b === 'object' && b !== null);
        const ops = JSON.parse(JSON.stringify(diffJson(a, b)));
        // Compared as JSON: applyPatch copies the document with a JSON round trip (-0 becomes 0).
        const patched = fastJsonPatch.applyPatch(structuredClone(a), ops, true, false).newDocument;
        assert.deepEqual(JSON.parse(JSON.stringify(patched)), JSON.parse(JSON.stringify(b)));
      }),
      { numRuns: 300 },
    );
  });
});
