/**
 * The JSON Patch from one document to another, exactly as fast-json-patch's `compare()` makes it
 * (same walk, same operations, same order: test/unit/webhook/json-diff.test.ts checks them
 * against each other) but without deep-cloning every added or replaced value. compare() clones
 * each value with a JSON round trip (`_deepClone`) so the patch stays valid if the documents
 * change later; the webhook serialises the patch at once, so the clone was pure cost: ~10% of the
 * webhook's CPU under load (bench/README.md, "Where the time goes").
 *
 * The values in the returned operations are the target document's own objects: serialise the
 * patch before changing that document.
 */
import fastJsonPatch, { type Operation } from 'fast-json-patch';

const { escapePathComponent } = fastJsonPatch;

const has = (value: object, key: string) => Object.hasOwn(value, key);

export function diffJson(from: object, to: object): Operation[] {
  const ops: Operation[] = [];
  generate(from, to, ops, '');
  return ops;
}

// biome-ignore lint/suspicious/noExplicitAny: walks any JSON value (object or array) by key, as fast-json-patch's _generate does
type Json = any;

/** One key present on both sides: nothing when unchanged, a walk into objects, else a replace. */
function compareValue(oldVal: Json, newVal: Json, ops: Operation[], path: string, key: string): void {
  // Shared (unchanged) subtrees are most of a pod: skip them before building a path.
  if (newVal === oldVal) return;
  const childPath = `${path}/${escapePathComponent(key)}`;
  if (
    typeof oldVal === 'object' &&
    oldVal !== null &&
    typeof newVal === 'object' &&
    newVal !== null &&
    Array.isArray(oldVal) === Array.isArray(newVal)
  ) {
    generate(oldVal, newVal, ops, childPath);
  } else {
    ops.push({ op: 'replace', path: childPath, value: newVal });
  }
}

/** Two arrays (JSON arrays: dense) by index, without making a key string per element. */
function generateArray(mirror: Json[], obj: Json[], ops: Operation[], path: string): void {
  for (let t = mirror.length - 1; t >= 0; t--) {
    if (t < obj.length) compareValue(mirror[t], obj[t], ops, path, String(t));
    else ops.push({ op: 'remove', path: `${path}/${t}` });
  }
  for (let i = mirror.length; i < obj.length; i++)
    if (obj[i] !== undefined) ops.push({ op: 'add', path: `${path}/${i}`, value: obj[i] });
}

function generate(mirror: Json, target: Json, ops: Operation[], path: string): void {
  if (target === mirror) return;
  const obj = typeof target.toJSON === 'function' ? target.toJSON() : target;
  if (Array.isArray(obj) && Array.isArray(mirror)) {
    generateArray(mirror, obj, ops, path);
    return;
  }
  const newKeys = Array.isArray(obj) ? obj.map((_, i) => String(i)) : Object.keys(obj);
  const oldKeys = Array.isArray(mirror) ? mirror.map((_, i) => String(i)) : Object.keys(mirror);
  let deleted = false;
  // Backwards, like compare(): array elements are removed from the end, so indices stay valid.
  for (let t = oldKeys.length - 1; t >= 0; t--) {
    const key = oldKeys[t]!;
    const oldVal = mirror[key];
    if (has(obj, key) && !(obj[key] === undefined && oldVal !== undefined && !Array.isArray(obj))) {
      compareValue(oldVal, obj[key], ops, path, key);
    } else if (Array.isArray(mirror) === Array.isArray(obj)) {
      ops.push({ op: 'remove', path: `${path}/${escapePathComponent(key)}` });
      deleted = true;
    } else {
      ops.push({ op: 'replace', path, value: obj });
    }
  }
  if (!deleted && newKeys.length === oldKeys.length) return;
  for (const key of newKeys) {
    if (!has(mirror, key) && obj[key] !== undefined)
      ops.push({ op: 'add', path: `${path}/${escapePathComponent(key)}`, value: obj[key] });
  }
}
