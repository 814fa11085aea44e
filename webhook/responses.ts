/**
 * The three answers the webhook gives, by name (as controller-runtime's admission/response.go):
 * allowed as is, denied with a reason, or patched (possibly with warnings). Nothing else builds
 * an AdmissionReview response, so every answer has the same, reviewed shape.
 */
import type { Operation } from 'fast-json-patch';

interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; reason: string; message: string };
  patchType?: 'JSONPatch';
  /** base64 of the JSON Patch. */
  patch?: string;
  warnings?: string[];
}

export interface AdmissionReviewResponse {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

const review = (response: AdmissionResponse): AdmissionReviewResponse => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  response,
});

/**
 * Warnings sent with one answer. The API server passes on only ~4 KiB of them (past that it cuts
 * each to 256 characters), while a pod with many containers each setting many of our env names
 * makes thousands: the first ones, then how many more.
 */
const MAX_WARNINGS = 20;

function boundedWarnings(warnings: readonly string[]): string[] {
  if (warnings.length <= MAX_WARNINGS) return [...warnings];
  return [...warnings.slice(0, MAX_WARNINGS), `and ${warnings.length - MAX_WARNINGS} more warnings like these`];
}

const withWarnings = (response: AdmissionResponse, warnings: readonly string[]): AdmissionResponse =>
  warnings.length > 0 ? { ...response, warnings: boundedWarnings(warnings) } : response;

/** Admitted unchanged (a pod we leave alone, or one that already has everything). */
export function allowed(uid: string, warnings: readonly string[] = []): AdmissionReviewResponse {
  return review(withWarnings({ uid, allowed: true }, warnings));
}

/**
 * Refused. 400 (BadRequest): the same pod would be refused again, so Flyte fails the task
 * instead of retrying; the API server shows `message` to whoever created the pod.
 */
export function denied(uid: string, message: string): AdmissionReviewResponse {
  return review({ uid, allowed: false, status: { code: 400, reason: 'BadRequest', message } });
}

/** Admitted with a JSON Patch; an empty patch is the same answer as allowed(). */
export function patched(
  uid: string,
  ops: readonly Operation[],
  warnings: readonly string[] = [],
): AdmissionReviewResponse {
  if (ops.length === 0) return allowed(uid, warnings);
  return patchedFromBytes(uid, Buffer.from(JSON.stringify(ops)), warnings);
}

/** As patched(), with the patch already serialised (so its size can be checked first). */
export function patchedFromBytes(
  uid: string,
  patchJson: Buffer,
  warnings: readonly string[] = [],
): AdmissionReviewResponse {
  return review(
    withWarnings({ uid, allowed: true, patchType: 'JSONPatch', patch: patchJson.toString('base64') }, warnings),
  );
}
