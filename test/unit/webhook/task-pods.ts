/** Small Flyte task pods for the admission unit tests: the secrets become `flyte.secrets/s<i>` annotations. */
import type { V1Container, V1Pod } from '@kubernetes/client-node';
import { encodeSecretAnnotation, type FlyteSecret } from '../../../webhook/flyte/annotations.js';

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
