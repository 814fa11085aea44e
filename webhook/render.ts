/**
 * `render`: a Pod or an AdmissionReview (JSON or YAML) through the very admission code the
 * server runs. A Pod comes back mutated (the patch applied); an AdmissionReview comes back as
 * the response the server would send. Pure apart from the caller's I/O.
 */
import { randomUUID } from 'node:crypto';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { type AdmissionResult, admit, InvalidReviewError } from './admission.js';
import type { InjectionConfig } from './config.js';

export interface RenderOptions {
  /** Admission request uid (the per-pod Secret name derives from it); random when absent. */
  uid?: string;
  /** Namespace of the request when the pod has none. */
  namespace?: string;
  output?: 'json' | 'yaml';
}

export interface RenderResult {
  text: string;
  result: AdmissionResult;
  /** Set when the pod was denied: the message the API server would return. */
  denied: string | null;
}

export class RenderInputError extends Error {}

function parseInput(text: string): { doc: Record<string, unknown>; wasJson: boolean } {
  const trimmed = text.trimStart();
  const wasJson = trimmed.startsWith('{');
  let doc: unknown;
  try {
    doc = wasJson ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new RenderInputError(
      `the input is not valid ${wasJson ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new RenderInputError('the input must be one Pod or one AdmissionReview object');
  return { doc: doc as Record<string, unknown>, wasJson };
}

export function podReview(pod: Record<string, unknown>, opts: RenderOptions): Record<string, unknown> {
  const metadata = (pod.metadata ?? {}) as Record<string, unknown>;
  const namespace = (metadata.namespace as string | undefined) || opts.namespace || 'default';
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: opts.uid ?? randomUUID(),
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      name: metadata.name ?? '',
      namespace,
      operation: 'CREATE',
      userInfo: { username: 'dap-secret-webhook-render' },
      object: pod,
      dryRun: false,
    },
  };
}

export function render(text: string, config: InjectionConfig, opts: RenderOptions = {}): RenderResult {
  const { doc, wasJson } = parseInput(text);
  const output = opts.output ?? (wasJson ? 'json' : 'yaml');
  const format = (value: unknown) => (output === 'json' ? `${JSON.stringify(value, null, 2)}\n` : stringifyYaml(value));

  const isReview = doc.kind === 'AdmissionReview';
  // `pod`: what Flyte's Go code writes (flytek8s.BuildIdentityPod), e.g. a pod dumped from propeller.
  if (!isReview && doc.kind !== 'Pod' && doc.kind !== 'pod')
    throw new RenderInputError(`expected kind Pod or AdmissionReview, got ${JSON.stringify(doc.kind)}`);
  let result: AdmissionResult;
  try {
    result = admit(isReview ? doc : podReview(doc, opts), config);
  } catch (err) {
    // The same input over HTTP is a 400: here, an input error in words, not a stack trace.
    if (err instanceof InvalidReviewError) throw new RenderInputError(err.message);
    throw err;
  }
  const response = result.review.response as { status?: { message?: string }; patch?: string };
  const denied = result.outcome === 'denied' ? (response.status?.message ?? 'denied') : null;
  if (isReview) return { text: format(result.review), result, denied };

  let pod: unknown = doc;
  if (response.patch) {
    const ops = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as Operation[];
    pod = fastJsonPatch.applyPatch(structuredClone(doc), ops, true, false).newDocument;
  }
  return { text: format(pod), result, denied };
}
