/**
 * Reading rendered manifests: find objects by kind/name, and the parts the assertions look at.
 */
import assert from 'node:assert/strict';
import type {
  KubernetesObject,
  V1ClusterRole,
  V1CronJob,
  V1Deployment,
  V1EnvVar,
  V1Job,
  V1PodTemplateSpec,
  V1PolicyRule,
  V1Role,
} from '@kubernetes/client-node';

export function ofKind<T extends KubernetesObject>(objects: KubernetesObject[], kind: string): T[] {
  return objects.filter((o) => o.kind === kind) as T[];
}

export function one<T extends KubernetesObject>(objects: KubernetesObject[], kind: string, name?: string): T {
  const found = ofKind<T>(objects, kind).filter((o) => name === undefined || o.metadata?.name === name);
  assert.equal(
    found.length,
    1,
    `expected exactly one ${kind}${name ? ` named ${name}` : ''}, found ${found.map((o) => o.metadata?.name).join(', ') || 'none'}`,
  );
  return found[0]!;
}

export function maybe<T extends KubernetesObject>(
  objects: KubernetesObject[],
  kind: string,
  name: string,
): T | undefined {
  return ofKind<T>(objects, kind).find((o) => o.metadata?.name === name);
}

export function webhookDeployment(objects: KubernetesObject[]): V1Deployment {
  return one<V1Deployment>(objects, 'Deployment');
}

/** The webhook container's env as a plain map (every value is a literal in our manifests). */
export function webhookEnv(deployment: V1Deployment): Record<string, string> {
  const container = deployment.spec!.template.spec!.containers.find((c) => c.name === 'webhook');
  assert.ok(container, 'the Deployment has a container named webhook');
  const env: Record<string, string> = {};
  for (const e of container.env ?? ([] as V1EnvVar[])) {
    assert.equal(e.valueFrom, undefined, `env ${e.name} should be a literal`);
    env[e.name] = e.value ?? '';
  }
  return env;
}

/** Every pod template in the objects: Deployments, Jobs and CronJobs. */
export function podTemplates(objects: KubernetesObject[]): { owner: string; template: V1PodTemplateSpec }[] {
  const out: { owner: string; template: V1PodTemplateSpec }[] = [];
  for (const d of ofKind<V1Deployment>(objects, 'Deployment'))
    out.push({ owner: `Deployment ${d.metadata!.name}`, template: d.spec!.template });
  for (const j of ofKind<V1Job>(objects, 'Job'))
    out.push({ owner: `Job ${j.metadata!.name}`, template: j.spec!.template });
  for (const c of ofKind<V1CronJob>(objects, 'CronJob'))
    out.push({ owner: `CronJob ${c.metadata!.name}`, template: c.spec!.jobTemplate.spec!.template });
  return out;
}

export function rulesOf(objects: KubernetesObject[]): { owner: string; rule: V1PolicyRule }[] {
  const roles = [...ofKind<V1ClusterRole>(objects, 'ClusterRole'), ...ofKind<V1Role>(objects, 'Role')];
  return roles.flatMap((r) => (r.rules ?? []).map((rule) => ({ owner: `${r.kind} ${r.metadata!.name}`, rule })));
}

/** Rules with YAML's incidental differences removed, for deepEqual. */
export function normalRules(rules: V1PolicyRule[] | undefined): V1PolicyRule[] {
  return (rules ?? []).map((r) => ({
    apiGroups: [...(r.apiGroups ?? [])].sort(),
    resources: [...(r.resources ?? [])].sort(),
    verbs: [...r.verbs].sort(),
    ...(r.resourceNames ? { resourceNames: [...r.resourceNames].sort() } : {}),
  }));
}

export function hookOf(obj: KubernetesObject): string | undefined {
  return obj.metadata?.annotations?.['helm.sh/hook'];
}
