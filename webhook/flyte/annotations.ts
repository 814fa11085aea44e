/**
 * Flyte's secret requests on a task pod: one annotation `flyte.secrets/s<i>` per secret, whose value
 * is Flyte's base32 of the protobuf text format of `flyteidl.core.Secret` (flytepropeller
 * `pkg/utils/secrets/marshaler.go`). Pure: no I/O, no logging.
 */
import { Base32Error, decodeBase32, encodeBase32 } from './base32.js';
import { type FlyteSecret, formatSecretText, parseSecretText, TextFormatError } from './prototext.js';

export type { FlyteSecret, MountRequirement } from './prototext.js';

export const SECRET_ANNOTATION_PREFIX = 'flyte.secrets/s';

/**
 * One annotation that cannot be read. The message names the annotation, what is wrong and where,
 * e.g. `flyte.secrets/s1: not valid base32 at character 17 ('!')`.
 */
export class AnnotationError extends Error {
  override name = 'AnnotationError';
  constructor(
    readonly annotation: string,
    /** The message without the annotation name. */
    readonly problem: string,
  ) {
    super(`${annotation}: ${problem}`);
  }
}

/**
 * Decoded values, most recent first out. The pods of one workflow carry the same few annotation
 * values again and again, and decoding was the largest share of admission CPU with many secrets.
 * Bounded by bytes (MEMO_MAX_BYTES of values in all, none above MEMO_MAX_VALUE_BYTES), and only
 * filled by rememberDecoded(), which the mutation calls for pods it admits: a stream of denied
 * pods with huge annotations cannot grow it. Entries are frozen, so no caller can change what
 * another receives.
 */
const decoded = new Map<string, Readonly<FlyteSecret>>();
let decodedBytes = 0;
export const MEMO_MAX_BYTES = 256 * 1024;
const MEMO_MAX_VALUE_BYTES = 2048;

/** Bytes of annotation values the memo holds now (for tests). */
export const memoBytes = () => decodedBytes;

/** Keeps these decoded values for the next pods (call only for admitted pods). */
export function rememberDecoded(entries: readonly (readonly [value: string, secret: Readonly<FlyteSecret>])[]): void {
  for (const [value, secret] of entries) {
    // Annotation values are base32 (ASCII), so length is bytes; anything else is not worth keeping.
    if (decoded.has(value) || value.length > MEMO_MAX_VALUE_BYTES) continue;
    decoded.set(value, secret);
    decodedBytes += value.length;
    while (decodedBytes > MEMO_MAX_BYTES) {
      const oldest = decoded.keys().next().value!;
      decoded.delete(oldest);
      decodedBytes -= oldest.length;
    }
  }
}

/** Decodes one annotation value; throws AnnotationError naming the annotation key, what is wrong and where. */
export function decodeSecretAnnotation(annotationKey: string, value: string): Readonly<FlyteSecret> {
  // Kubernetes only stores strings, but the admission JSON is parsed without a schema.
  if (typeof value !== 'string') throw new AnnotationError(annotationKey, 'the value is not a string');
  return decoded.get(value) ?? Object.freeze(decodeUncached(annotationKey, value));
}

function decodeUncached(annotationKey: string, value: string): FlyteSecret {
  let text: Uint8Array;
  try {
    text = decodeBase32(value);
  } catch (error) {
    if (error instanceof Base32Error) throw new AnnotationError(annotationKey, error.message);
    throw error;
  }
  try {
    return parseSecretText(text);
  } catch (error) {
    if (error instanceof TextFormatError) {
      const where = `at line ${error.line}, column ${error.column} of the decoded text`;
      throw new AnnotationError(annotationKey, `${error.problem} ${where}${error.hint ? `; ${error.hint}` : ''}`);
    }
    throw error;
  }
}

/** Encodes exactly as Flyte does (golang/protobuf v1 proto.MarshalTextString + Flyte's base32). */
export function encodeSecretAnnotation(secret: FlyteSecret): string {
  // The text is pure ASCII: the printer escapes every other byte.
  return encodeBase32(new TextEncoder().encode(formatSecretText(secret)));
}

/** The keys of Flyte's secret annotations on a pod (unordered). */
export function secretAnnotationKeys(annotations: Record<string, string> | undefined): string[] {
  return Object.keys(annotations ?? {}).filter((key) => key.startsWith(SECRET_ANNOTATION_PREFIX));
}

export interface ReadSecret {
  annotation: string;
  secret: Readonly<FlyteSecret>;
}

/**
 * Every annotation whose key starts with flyte.secrets/s (as Flyte reads them), in numeric index
 * order (s0, s1, ..., s10), decoded; collects ALL errors rather than stopping at the first.
 * Keys whose suffix is not a plain number (never written by Flyte) come last, in string order.
 */
export function readSecretAnnotations(annotations: Record<string, string> | undefined): {
  secrets: ReadSecret[];
  errors: AnnotationError[];
} {
  const secrets: ReadSecret[] = [];
  const errors: AnnotationError[] = [];
  for (const annotation of secretAnnotationKeys(annotations).sort(byIndex)) {
    const value = annotations![annotation]!;
    try {
      secrets.push({ annotation, secret: decodeSecretAnnotation(annotation, value) });
    } catch (error) {
      if (!(error instanceof AnnotationError)) throw error;
      errors.push(error);
    }
  }
  return { secrets, errors };
}

function byIndex(a: string, b: string): number {
  const index = (key: string) => {
    const suffix = key.slice(SECRET_ANNOTATION_PREFIX.length);
    return /^[0-9]+$/.test(suffix) ? BigInt(suffix) : undefined;
  };
  const [ia, ib] = [index(a), index(b)];
  if (ia !== undefined && ib !== undefined && ia !== ib) return ia < ib ? -1 : 1;
  if (ia !== undefined && ib === undefined) return -1;
  if (ia === undefined && ib !== undefined) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
