/**
 * The examples in deploy/examples are real: the Flyte-like pod goes through the admission code
 * (the same path `dap-secret-webhook render` and the server use) and gets what the README says.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Pod } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { loadConfig } from '../../../webhook/config.js';
import { render } from '../../../webhook/render.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('deploy/examples', () => {
  it('flyte-task-pod.yaml is admitted with the fetcher and all three secrets wired as flytekit reads them', async () => {
    const loaded = loadConfig({ FETCHER_IMAGE: 'dap-secret-fetcher:dev', MLP_API_HOST: 'http://mlp:8080' });
    assert.ok(loaded.ok);
    const result = render(
      await readFile(join(ROOT, 'deploy/examples/flyte-task-pod.yaml'), 'utf8'),
      loaded.config.injection,
      { output: 'yaml' },
    );
    assert.equal(result.denied, null);
    const pod = parse(result.text) as V1Pod;
    assert.equal(pod.spec!.initContainers![0]!.image, 'dap-secret-fetcher:dev', 'the fetcher runs first');
    const env = pod.spec!.containers[0]!.env!.map((e) => e.name);
    for (const name of ['_FSEC_MY-SECRETS_API_TOKEN', '_FSEC_OPENAI_API-KEY', 'OPENAI_API_KEY'])
      assert.ok(env.includes(name), name);
    const mount = pod.spec!.containers[0]!.volumeMounts!.find((m) => m.mountPath === '/etc/flyte/secrets');
    assert.ok(mount?.readOnly, 'FILE secrets in a read-only mount at FLYTE_SECRETS_DEFAULT_DIR');
  });

  it('admission-review.json is flyte-task-pod.yaml as the API server sends it, and is admitted with the injection patch', async () => {
    const review = JSON.parse(await readFile(join(ROOT, 'deploy/examples/admission-review.json'), 'utf8')) as {
      apiVersion: string;
      kind: string;
      request: { object: unknown; namespace: string; operation: string };
    };
    const pod = parse(await readFile(join(ROOT, 'deploy/examples/flyte-task-pod.yaml'), 'utf8')) as V1Pod;
    assert.deepEqual(
      review.request.object,
      pod,
      'the same pod: regenerate the review from the YAML when the pod changes',
    );
    assert.deepEqual(
      [review.apiVersion, review.kind, review.request.operation, review.request.namespace],
      ['admission.k8s.io/v1', 'AdmissionReview', 'CREATE', pod.metadata!.namespace],
    );
    const loaded = loadConfig({ FETCHER_IMAGE: 'dap-secret-fetcher:dev', MLP_API_HOST: 'http://mlp:8080' });
    assert.ok(loaded.ok);
    const answer = JSON.parse(render(JSON.stringify(review), loaded.config.injection).text) as {
      response: { allowed: boolean; patch?: string };
    };
    assert.equal(answer.response.allowed, true);
    assert.ok(answer.response.patch, 'a JSON Patch');
  });

  it('the Flyte cluster resource template binds the fetcher ClusterRole of the kustomize base', async () => {
    const template = parse(
      (await readFile(join(ROOT, 'deploy/examples/flyte-cluster-resource-template.yaml'), 'utf8')).replaceAll(
        '{{ namespace }}',
        'p-d',
      ),
    ) as {
      roleRef: { kind: string; name: string };
      subjects: { name: string }[];
    };
    const role = parse(await readFile(join(ROOT, 'deploy/kustomize/base/fetcher-rbac.yaml'), 'utf8')) as {
      metadata: { name: string };
    };
    assert.deepEqual(template.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: role.metadata.name,
    });
    assert.deepEqual(
      template.subjects.map((s) => s.name),
      ['system:serviceaccounts:p-d'],
    );
  });
});
