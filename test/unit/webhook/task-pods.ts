/** Small Flyte task pods for the admission unit tests (the secrets become `flyte.secrets/s<i>` annotations), and the response type they read. */
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import type { admit } from '../../../webhook/admission.js';
import { encodeSecretAnnotation, type FlyteSecret } from '../../../webhook/flyte/annotations.js';

/** The AdmissionReview response fields the admission tests read. */
export type Resp = {
  uid: string;
  allowed: boolean;
  patch?: string;
  patchType?: string;
  status?: { code: number; message: string };
  warnings?: string[];
};

/** The response of an admit() result. */
export const resp = (result: ReturnType<typeof admit>) => result.review.response as Resp;

/** A labelled pod in `proj-dev` requesting `secrets`, with one plain container unless given others. */
export function taskPod(
  secrets: FlyteSecret[],
  containers: V1Container[] = [{ name: 'main', image: 'python:3.11' }],
  name = 'task-pod',
): V1Pod {
  const annotations = Object.fromEntries(secrets.map((s, i) => [`flyte.secrets/s${i}`, encodeSecretAnnotation(s)]));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'proj-dev', labels: { 'inject-flyte-secrets': 'true' }, annotations },
    spec: { containers },
  };
}
