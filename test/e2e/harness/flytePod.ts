/**
 * Task pods shaped as flytepropeller makes them (labels, annotations, one task container named
 * after the pod, restartPolicy Never), with the secret annotations taken from the shared vectors
 * (test/fixtures/flyte-secret-vectors.json, read from Flyte's and flytekit's own code).
 */
import { readFileSync } from 'node:fs';
import type { V1Pod } from '@kubernetes/client-node';

export interface SecretVector {
  name: string;
  secret: {
    group?: string;
    group_version?: string;
    key?: string;
    mount_requirement?: 'ANY' | 'ENV_VAR' | 'FILE';
    env_var?: string;
  };
  annotation_key: string;
  annotation_value: string;
  flytekit_lookup: { env_var: string; file_path: string };
}

const SECRET_VECTORS: SecretVector[] = JSON.parse(
  readFileSync(new URL('../../fixtures/flyte-secret-vectors.json', import.meta.url), 'utf8'),
) as SecretVector[];

export function vector(name: string): SecretVector {
  const found = SECRET_VECTORS.find((v) => v.name === name);
  if (!found) throw new Error(`no vector named ${JSON.stringify(name)} in test/fixtures/flyte-secret-vectors.json`);
  return found;
}

export interface FlytePodOptions {
  name: string;
  project: string;
  domain: string;
  /** Annotation values in request order; they become flyte.secrets/s0, s1, ... */
  secrets: string[];
  /** Default true: flytepropeller sets the label only when the task requests secrets. */
  injectLabel?: boolean;
  extraLabels?: Record<string, string>;
  serviceAccountName?: string;
}

/** A pod that also satisfies Pod Security "restricted" (so the same shape serves every scenario). */
export function flytePropellerPod(o: FlytePodOptions): V1Pod {
  const executionId = `${o.name.slice(0, 20)}exec`;
  const annotations: Record<string, string> = { 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'false' };
  o.secrets.forEach((value, i) => {
    annotations[`flyte.secrets/s${i}`] = value;
  });
  return {
    metadata: {
      name: o.name,
      labels: {
        domain: o.domain,
        'execution-id': executionId,
        interruptible: 'false',
        'node-id': 'n0',
        project: o.project,
        'shard-key': '7',
        'task-name': 'secrets-demo-read-secrets',
        'workflow-name': 'secrets-demo-wf',
        ...(o.injectLabel === false ? {} : { 'inject-flyte-secrets': 'true' }),
        ...o.extraLabels,
      },
      annotations,
    },
    spec: {
      restartPolicy: 'Never',
      serviceAccountName: o.serviceAccountName ?? 'default',
      securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: o.name,
          image: 'registry.example/flytesnacks:v1',
          args: [
            'pyflyte-fast-execute',
            '--additional-distribution',
            's3://bucket/fast.tar.gz',
            '--',
            'pyflyte-execute',
            '--task-module',
            'secrets_demo',
            '--task-name',
            'read_secrets',
          ],
          env: [
            { name: 'FLYTE_INTERNAL_EXECUTION_ID', value: executionId },
            { name: 'FLYTE_INTERNAL_EXECUTION_PROJECT', value: o.project },
            { name: 'FLYTE_INTERNAL_EXECUTION_DOMAIN', value: o.domain },
          ],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '100m', memory: '128Mi' } },
          terminationMessagePolicy: 'FallbackToLogsOnError',
          securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        },
      ],
    },
  };
}
