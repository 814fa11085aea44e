/**
 * AdmissionReview (admission.k8s.io/v1) in, AdmissionReview out. Pure: the server owns HTTP,
 * this owns the protocol. The JSONPatch is the diff between the original and the mutated pod,
 * so the mutation code edits a plain object and never writes patch paths by hand.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { FileMountType, InjectionConfig } from './config.js';
import type { Denial, DenialReason } from './mutate/deliveries.js';
import { type InjectionOutcome, injectSecrets } from './mutate/inject.js';
import { diffJson } from './mutate/json-diff.js';
import { podShapeProblems } from './mutate/pod-shape.js';
import { clip, describeValue } from './quote.js';
import { type AdmissionReviewResponse, allowed, denied, patchedFromBytes } from './responses.js';

export type Outcome = 'injected' | 'unchanged' | 'denied' | 'ignored';

export interface AdmissionResult {
  /** The AdmissionReview to send back. */
  review: AdmissionReviewResponse;
  outcome: Outcome;
  /** For logs: namespace/name (or namespace/generateName*), never the spec. */
  pod: string;
  denialReasons: DenialReason[];
  warnings: string[];
  secretsByMount: Record<FileMountType, number>;
  dryRun: boolean;
}

export class InvalidReviewError extends Error {}

interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  resource?: { group?: string; version?: string; resource?: string };
  subResource?: string;
  operation?: string;
  namespace?: string;
  object?: unknown;
  dryRun?: boolean;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

const MAX_UID_LENGTH = 256;

/** Throws InvalidReviewError (→ HTTP 400) when the body is not an admission.k8s.io/v1 AdmissionReview request. */
function parseReview(body: unknown): AdmissionRequest {
  if (!isRecord(body)) throw new InvalidReviewError('the body must be a JSON object (an AdmissionReview)');
  if (body.apiVersion !== 'admission.k8s.io/v1' || body.kind !== 'AdmissionReview') {
    throw new InvalidReviewError(
      `expected apiVersion admission.k8s.io/v1, kind AdmissionReview; ` +
        `got ${describeValue(body.apiVersion)}, ${describeValue(body.kind)}`,
    );
  }
  const request = body.request;
  if (!isRecord(request) || typeof request.uid !== 'string' || request.uid === '') {
    throw new InvalidReviewError('the AdmissionReview has no request.uid');
  }
  // Echoed in every answer: the API server sends a 36-character UID.
  if (request.uid.length > MAX_UID_LENGTH) {
    throw new InvalidReviewError(
      `request.uid is ${request.uid.length} characters long; a Kubernetes UID has at most ${MAX_UID_LENGTH}`,
    );
  }
  // The namespace becomes the MLP project and part of every message: the API server sends a string.
  if (request.namespace !== undefined && request.namespace !== null && typeof request.namespace !== 'string') {
    throw new InvalidReviewError(`request.namespace must be a string, not ${describeValue(request.namespace)}`);
  }
  return request as unknown as AdmissionRequest;
}

/** Longest valid object name; the API server validates names only after mutating admission. */
const MAX_NAME_LENGTH = 253;
const shownName = (name: string) => (name.length <= MAX_NAME_LENGTH ? name : clip(name));

function podRef(namespace: string, pod: V1Pod): string {
  const name = pod.metadata?.name || (pod.metadata?.generateName ? `${pod.metadata.generateName}*` : '<unnamed>');
  return `${shownName(namespace || pod.metadata?.namespace || '<no namespace>')}/${shownName(name)}`;
}

function isPodCreate(request: AdmissionRequest): boolean {
  return (
    request.operation === 'CREATE' &&
    (request.resource?.group ?? '') === '' &&
    request.resource?.resource === 'pods' &&
    (request.subResource ?? '') === '' &&
    isRecord(request.object)
  );
}

/**
 * Problems listed in one denial. A pod at the caps can have a hundred (each container's own
 * settings, each secret); the first ones tell what to fix, and the message stays readable
 * wherever it is shown (kubectl, Flyte's execution error, events).
 */
const MAX_DENIAL_PROBLEMS = 10;

/** "admission webhook ... denied the request: <this>": one sentence per problem, at most MAX_DENIAL_PROBLEMS. */
function denialMessage(denials: Denial[]): string {
  const shown = denials.slice(0, MAX_DENIAL_PROBLEMS).map((d) => d.message);
  if (denials.length > MAX_DENIAL_PROBLEMS)
    shown.push(`and ${denials.length - MAX_DENIAL_PROBLEMS} more problems like these`);
  return shown.join('; ');
}

/**
 * The parts of a pod the mutation may change, at their real paths: diffing these instead of
 * the whole pod gives the same patch for a fraction of the work (the rest is shared, unchanged).
 */
function patchScope(pod: V1Pod): Record<string, unknown> {
  const scope: Record<string, unknown> = {};
  if (pod.metadata) scope.metadata = pod.metadata.annotations ? { annotations: pod.metadata.annotations } : {};
  if (pod.spec) {
    const { initContainers, containers, volumes, imagePullSecrets } = pod.spec;
    scope.spec = {
      ...(initContainers ? { initContainers } : {}),
      ...(containers ? { containers } : {}),
      ...(volumes ? { volumes } : {}),
      ...(imagePullSecrets ? { imagePullSecrets } : {}),
    };
  }
  return scope;
}

export function admit(body: unknown, config: InjectionConfig): AdmissionResult {
  const request = parseReview(body);
  const base = {
    denialReasons: [] as DenialReason[],
    warnings: [] as string[],
    secretsByMount: { FILE: 0, ENV_VAR: 0 },
    dryRun: request.dryRun === true,
  };
  if (!isPodCreate(request)) {
    return {
      ...base,
      review: allowed(request.uid),
      outcome: 'ignored',
      pod: `${shownName(request.namespace ?? '')}/${shownName(String(request.resource?.resource ?? '?'))}`,
    };
  }
  const shape = podShapeProblems(request.object);
  if (shape.length > 0) throw new InvalidReviewError(`request.object is not a valid Pod: ${shape.join('; ')}`);
  const pod = request.object as V1Pod;
  const namespace = request.namespace || pod.metadata?.namespace || '';
  const ref = podRef(namespace, pod);
  const deny = (denials: Denial[]): AdmissionResult => ({
    ...base,
    review: denied(request.uid, `pod ${ref}: ${denialMessage(denials)}`),
    outcome: 'denied',
    pod: ref,
    denialReasons: denials.map((d) => d.reason),
  });
  const outcome: InjectionOutcome = injectSecrets({ pod, namespace, nonce: request.uid, config });

  switch (outcome.kind) {
    case 'skip':
      return { ...base, review: allowed(request.uid), outcome: 'unchanged', pod: ref };
    case 'deny':
      return deny(outcome.denials);
    case 'inject': {
      const ops = diffJson(patchScope(pod), patchScope(outcome.pod));
      const patch = Buffer.from(JSON.stringify(ops));
      const { maxPatchBytes } = config.limits;
      if (patch.length > maxPatchBytes) {
        return deny([
          {
            reason: 'over-limit',
            message:
              `the injection would be a ${patch.length}-byte patch, ` +
              `more than WEBHOOK_MAX_PATCH_BYTES=${maxPatchBytes}; ` +
              `request fewer secrets or wire fewer containers, ` +
              `or ask the webhook's admin to raise WEBHOOK_MAX_PATCH_BYTES`,
          },
        ]);
      }
      outcome.remember();
      const changed = ops.length > 0;
      return {
        ...base,
        review: changed
          ? patchedFromBytes(request.uid, patch, outcome.warnings)
          : allowed(request.uid, outcome.warnings),
        outcome: changed ? 'injected' : 'unchanged',
        pod: ref,
        warnings: outcome.warnings,
        secretsByMount: changed ? outcome.secretsByMount : base.secretsByMount,
      };
    }
  }
}
