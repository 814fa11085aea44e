/**
 * The pods the admission benchmark sends: a real Flyte task pod (test/goldens/mixed) grown to
 * what a production task pod looks like — three containers (task + two sidecars), Flyte's env,
 * resources and tolerations, ~10 KB of JSON — carrying 1, 4 or 16 `flyte.secrets/s<i>`
 * annotations encoded exactly as flytepropeller writes them. FILE, ENV_VAR and ANY are mixed.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { GOLDEN_DIR } from '../../test/support/goldens.js';
import {
  encodeSecretAnnotation,
  type FlyteSecret,
  type MountRequirement,
  SECRET_ANNOTATION_PREFIX,
} from '../../webhook/flyte/annotations.js';
import { podReview } from '../../webhook/render.js';

export const SECRET_COUNTS = [1, 4, 16] as const;
export type SecretCount = (typeof SECRET_COUNTS)[number];

const MOUNTS: readonly MountRequirement[] = ['ENV_VAR', 'FILE', 'ANY'];

/** Secret i of a pod: groups repeat (several keys per MLP project secret group), mounts rotate. */
function benchSecret(i: number): FlyteSecret {
  return {
    group: `team-${i % 3}-creds`,
    groupVersion: '',
    key: `secret_${i}`,
    mountRequirement: MOUNTS[i % MOUNTS.length]!,
    envVar: '',
  };
}

function template(): Record<string, any> {
  return parse(readFileSync(`${GOLDEN_DIR}/mixed/input.yaml`, 'utf8')) as Record<string, any>;
}

/** What Flyte and a platform team typically add to a task container: env, mounts, probes. */
function enrichContainer(container: Record<string, any>, name: string): Record<string, any> {
  const c = structuredClone(container);
  c.name = name;
  c.env = [
    ...(c.env ?? []),
    {
      name: 'FLYTE_INTERNAL_EXECUTION_DOMAIN_CONFIG',
      value: 's3://my-s3-bucket/metadata/propeller/config/development.yaml',
    },
    { name: 'FLYTE_AWS_ENDPOINT', value: 'http://minio.flyte.svc.cluster.local:9000' },
    { name: 'FLYTE_AWS_ACCESS_KEY_ID', valueFrom: { secretKeyRef: { name: 'flyte-storage', key: 'access-key' } } },
    { name: 'FLYTE_AWS_SECRET_ACCESS_KEY', valueFrom: { secretKeyRef: { name: 'flyte-storage', key: 'secret-key' } } },
    { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } },
    { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector.observability.svc.cluster.local:4317' },
    { name: 'OTEL_RESOURCE_ATTRIBUTES', value: 'service.name=flyte-task,deployment.environment=development' },
    { name: 'FLYTE_INTERNAL_EXECUTION_WORKFLOW_VERSION', value: 'v1-8f14e45fceea167a5a36dedd4bea2543' },
    { name: 'FLYTE_INTERNAL_NODE_ID', value: 'n0' },
    { name: 'FLYTE_START_TIME', value: '1735689600000' },
  ];
  c.volumeMounts = [
    { name: 'kube-api-access-x7k2p', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true },
    { name: 'scratch', mountPath: '/tmp/scratch' },
  ];
  return c;
}

/** The pod with `secrets` annotations; ~10 KB as JSON. */
export function benchPod(secrets: SecretCount): Record<string, unknown> {
  const pod = template();
  const annotations: Record<string, string> = { 'cluster-autoscaler.kubernetes.io/safe-to-evict': 'false' };
  for (let i = 0; i < secrets; i++)
    annotations[`${SECRET_ANNOTATION_PREFIX}${i}`] = encodeSecretAnnotation(benchSecret(i));
  pod.metadata.annotations = annotations;
  const task = pod.spec.containers[0];
  pod.spec.containers = [
    enrichContainer(task, task.name),
    {
      ...enrichContainer(task, 'log-shipper'),
      image: 'fluent/fluent-bit:3.1.9',
      args: ['--config', '/fluent-bit/etc/fluent-bit.conf'],
      resources: { limits: { cpu: '100m', memory: '128Mi' }, requests: { cpu: '50m', memory: '64Mi' } },
    },
    {
      ...enrichContainer(task, 'metrics-proxy'),
      image: 'quay.io/prometheus/statsd-exporter:v0.27.1',
      args: ['--statsd.listen-udp=:9125', '--web.listen-address=:9102'],
      ports: [{ containerPort: 9102, name: 'metrics', protocol: 'TCP' }],
      resources: { limits: { cpu: '100m', memory: '64Mi' }, requests: { cpu: '20m', memory: '32Mi' } },
    },
  ];
  pod.spec.volumes = [
    {
      name: 'kube-api-access-x7k2p',
      projected: {
        defaultMode: 420,
        sources: [
          { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
          { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
          {
            downwardAPI: {
              items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
            },
          },
        ],
      },
    },
    { name: 'scratch', emptyDir: { sizeLimit: '1Gi' } },
  ];
  pod.spec.affinity = {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [
          { matchExpressions: [{ key: 'node-pool', operator: 'In', values: ['flyte-cpu', 'flyte-cpu-spot'] }] },
        ],
      },
    },
  };
  pod.spec.tolerations = [
    ...(pod.spec.tolerations ?? []),
    { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
    { key: 'flyte', operator: 'Equal', value: 'true', effect: 'NoSchedule' },
  ];
  return pod;
}

/** The AdmissionReview body for a pod with `secrets` annotations (fixed uid: every request is the same bytes). */
export function benchReviewBody(secrets: SecretCount): string {
  return JSON.stringify(podReview(benchPod(secrets), { uid: `bench-${secrets}-secrets` }));
}
