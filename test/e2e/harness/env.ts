/**
 * A container's environment as the kubelet builds it when the container starts: `envFrom`
 * first, then `env` in order (later entries win), `$(VAR)` references expanded against the
 * entries before them, Secret and ConfigMap values read from the API server at that moment.
 */
import { ApiException, CoreV1Api, type KubeConfig, type V1Container, type V1Pod } from '@kubernetes/client-node';
import { resolveFieldRef } from './downward.js';

/** Where an env value came from: only literal `value`s are the pod author's paths; the rest is data. */
export type EnvSource = 'value' | 'fieldRef' | 'secretKeyRef' | 'configMapKeyRef' | 'envFrom';

export interface ResolvedEnv {
  values: Map<string, string>;
  sources: Map<string, EnvSource>;
}

export async function resolveContainerEnv(kc: KubeConfig, pod: V1Pod, container: V1Container): Promise<ResolvedEnv> {
  const reader = new ObjectReader(kc, pod);
  const values = new Map<string, string>();
  const sources = new Map<string, EnvSource>();
  const env = {
    set(name: string, value: string, source: EnvSource) {
      values.set(name, value);
      sources.set(name, source);
    },
  };

  for (const source of container.envFrom ?? []) {
    const prefix = source.prefix ?? '';
    let data: Record<string, string> | undefined;
    if (source.configMapRef)
      data = await reader.configMap(source.configMapRef.name ?? '', source.configMapRef.optional ?? false);
    else if (source.secretRef)
      data = await reader.secret(source.secretRef.name ?? '', source.secretRef.optional ?? false);
    for (const [k, v] of Object.entries(data ?? {})) env.set(prefix + k, v, 'envFrom');
  }

  for (const entry of container.env ?? []) {
    const from = entry.valueFrom;
    if (!from) {
      env.set(entry.name, expandReferences(entry.value ?? '', values), 'value');
    } else if (from.fieldRef) {
      env.set(entry.name, resolveFieldRef(pod, from.fieldRef.fieldPath), 'fieldRef');
    } else if (from.secretKeyRef) {
      const ref = from.secretKeyRef;
      const value = await reader.key('Secret', ref.name ?? '', ref.key, ref.optional ?? false, entry.name);
      if (value !== undefined) env.set(entry.name, value, 'secretKeyRef');
    } else if (from.configMapKeyRef) {
      const ref = from.configMapKeyRef;
      const value = await reader.key('ConfigMap', ref.name ?? '', ref.key, ref.optional ?? false, entry.name);
      if (value !== undefined) env.set(entry.name, value, 'configMapKeyRef');
    } else {
      throw new Error(
        `the kubelet step does not resolve env ${entry.name} of container ${container.name} (${Object.keys(from).join(', ')}); extend test/e2e/harness/env.ts`,
      );
    }
  }
  return { values, sources };
}

/**
 * Kubernetes' `$(VAR)` expansion: a defined name is replaced, an undefined one stays as written,
 * `$$` is a literal `$`.
 */
export function expandReferences(input: string, vars: ReadonlyMap<string, string>): string {
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const c = input[i]!;
    const next = input[i + 1];
    if (c !== '$' || next === undefined) {
      out += c;
    } else if (next === '$') {
      out += '$';
      i++;
    } else if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close === -1) return out + input.slice(i);
      const name = input.slice(i + 2, close);
      out += vars.get(name) ?? `$(${name})`;
      i = close;
    } else {
      out += c + next;
      i++;
    }
  }
  return out;
}

/** Reads Secrets and ConfigMaps in the pod's namespace, failing like the kubelet's CreateContainerConfigError. */
class ObjectReader {
  private readonly core: CoreV1Api;

  constructor(
    kc: KubeConfig,
    private readonly pod: V1Pod,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
  }

  private get namespace(): string {
    return this.pod.metadata?.namespace ?? 'default';
  }

  async secret(name: string, optional: boolean): Promise<Record<string, string> | undefined> {
    const secret = await this.orMissing(() => this.core.readNamespacedSecret({ name, namespace: this.namespace }));
    if (!secret) return this.missing('Secret', name, optional);
    const decoded: Record<string, string> = {};
    for (const [k, v] of Object.entries(secret.data ?? {})) decoded[k] = Buffer.from(v, 'base64').toString('utf8');
    return { ...decoded, ...(secret.stringData ?? {}) };
  }

  async configMap(name: string, optional: boolean): Promise<Record<string, string> | undefined> {
    const cm = await this.orMissing(() => this.core.readNamespacedConfigMap({ name, namespace: this.namespace }));
    if (!cm) return this.missing('ConfigMap', name, optional);
    return cm.data ?? {};
  }

  async key(
    kind: 'Secret' | 'ConfigMap',
    name: string,
    key: string,
    optional: boolean,
    envName: string,
  ): Promise<string | undefined> {
    const data = kind === 'Secret' ? await this.secret(name, optional) : await this.configMap(name, optional);
    if (data === undefined) return undefined;
    if (key in data) return data[key];
    if (optional) return undefined;
    throw new Error(
      `couldn't find key ${key} in ${kind} ${this.namespace}/${name} for env ${envName} (pod ${this.pod.metadata?.name}): the kubelet would not start the container`,
    );
  }

  private missing(kind: string, name: string, optional: boolean): undefined {
    if (optional) return undefined;
    throw new Error(
      `${kind} ${this.namespace}/${name} not found (pod ${this.pod.metadata?.name}): the kubelet would not start the container`,
    );
  }

  private async orMissing<T>(read: () => Promise<T>): Promise<T | undefined> {
    try {
      return await read();
    } catch (err) {
      if (err instanceof ApiException && err.code === 404) return undefined;
      throw err;
    }
  }
}

/** Shared with volumes.ts: the same reader fills configMap and secret volumes. */
export function objectReader(kc: KubeConfig, pod: V1Pod): Pick<ObjectReader, 'secret' | 'configMap'> {
  return new ObjectReader(kc, pod);
}
