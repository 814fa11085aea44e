/**
 * The admission JSON is parsed without a schema. The API server only ever sends well-typed pods,
 * but anyone who can reach the port can send `env: "x"`; the mutation assumes the types of the
 * fields it reads, so they are checked first and a wrong one is the client's error (HTTP 400
 * naming the field), never a crash (500). Only the fields the mutation reads or edits are checked.
 */
type Json = unknown;

const isObject = (x: Json): x is Record<string, Json> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Absent and null are fine (Go's `omitempty` / `null` slices); anything else must be the type. */
function optional(value: Json, path: string, problems: string[], check: (v: Json) => boolean, what: string): boolean {
  if (value === undefined || value === null) return false;
  if (!check(value)) {
    problems.push(`${path} must be ${what}`);
    return false;
  }
  return true;
}

function stringMap(value: Json, path: string, problems: string[]): void {
  if (!optional(value, path, problems, isObject, 'an object')) return;
  for (const [k, v] of Object.entries(value as Record<string, Json>)) {
    if (typeof v !== 'string') {
      problems.push(`${path}[${JSON.stringify(k.slice(0, 63))}] must be a string`);
      return;
    }
  }
}

function objects(
  value: Json,
  path: string,
  problems: string[],
  each: (item: Record<string, Json>, at: string) => void,
): void {
  if (!optional(value, path, problems, Array.isArray, 'an array')) return;
  (value as Json[]).forEach((item, i) => {
    if (!isObject(item)) problems.push(`${path}[${i}] must be an object`);
    else each(item, `${path}[${i}]`);
  });
}

const stringField = (o: Record<string, Json>, field: string, at: string, problems: string[], required: boolean) => {
  const v = o[field];
  if (v === undefined || v === null) {
    if (required) problems.push(`${at}.${field} must be a string`);
  } else if (typeof v !== 'string') problems.push(`${at}.${field} must be a string`);
};

function container(c: Record<string, Json>, at: string, problems: string[]): void {
  stringField(c, 'name', at, problems, true);
  stringField(c, 'image', at, problems, false);
  stringField(c, 'restartPolicy', at, problems, false);
  objects(c.env, `${at}.env`, problems, (e, p) => {
    stringField(e, 'name', p, problems, true);
    stringField(e, 'value', p, problems, false);
    optional(e.valueFrom, `${p}.valueFrom`, problems, isObject, 'an object');
  });
  objects(c.volumeMounts, `${at}.volumeMounts`, problems, (m, p) => {
    stringField(m, 'name', p, problems, true);
    stringField(m, 'mountPath', p, problems, true);
  });
}

/** Every type problem in the parts of `pod` the mutation reads (at most a handful reported). */
export function podShapeProblems(pod: Json): string[] {
  const problems: string[] = [];
  if (!isObject(pod)) return ['request.object must be a Pod object'];
  if (optional(pod.metadata, 'metadata', problems, isObject, 'an object')) {
    const m = pod.metadata as Record<string, Json>;
    stringField(m, 'name', 'metadata', problems, false);
    stringField(m, 'generateName', 'metadata', problems, false);
    stringField(m, 'namespace', 'metadata', problems, false);
    stringMap(m.labels, 'metadata.labels', problems);
    stringMap(m.annotations, 'metadata.annotations', problems);
  }
  if (optional(pod.spec, 'spec', problems, isObject, 'an object')) {
    const s = pod.spec as Record<string, Json>;
    objects(s.containers, 'spec.containers', problems, (c, p) => container(c, p, problems));
    objects(s.initContainers, 'spec.initContainers', problems, (c, p) => container(c, p, problems));
    objects(s.volumes, 'spec.volumes', problems, (v, p) => stringField(v, 'name', p, problems, true));
    stringMap(s.nodeSelector, 'spec.nodeSelector', problems);
    if (optional(s.os, 'spec.os', problems, isObject, 'an object'))
      stringField(s.os as Record<string, Json>, 'name', 'spec.os', problems, false);
    if (optional(s.securityContext, 'spec.securityContext', problems, isObject, 'an object')) {
      const fsGroup = (s.securityContext as Record<string, Json>).fsGroup;
      optional(fsGroup, 'spec.securityContext.fsGroup', problems, Number.isInteger, 'an integer');
    }
  }
  return problems.slice(0, 5);
}
