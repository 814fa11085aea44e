/**
 * A second, unrelated mutating webhook for the reinvocation scenarios, with
 * `reinvocationPolicy: IfNeeded`, for pods carrying its label. Registered under a name that sorts
 * after ours, so the API server calls it after our webhook and must then call ours again for
 * what it changed. In-process, HTTPS on 127.0.0.1, idempotent. Two kinds: one adds a container
 * (`sidecar`), one pins init container images to a digest as Kyverno's `mutateDigest` does.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { AdmissionregistrationV1Api, type V1Container, type V1Pod } from '@kubernetes/client-node';
import type { ControlPlane } from './controlPlane.js';

export const SIDECAR_LABEL = 'dap-e2e/add-sidecar';
export const SIDECAR_NAME = 'sidecar';

export interface SidecarWebhook {
  configurationName: string;
  /** How many AdmissionReviews it answered. */
  readonly calls: number;
  close(): Promise<void>;
}

type JsonPatch = { op: 'add' | 'replace'; path: string; value: unknown }[];

export function startSidecarWebhook(
  cp: ControlPlane,
  sidecar: V1Container = { name: SIDECAR_NAME, image: 'registry.example/sidecar:e2e' },
): Promise<SidecarWebhook> {
  return startSecondWebhook(cp, 'zz-dap-e2e-sidecar-injector', SIDECAR_LABEL, (pod) =>
    (pod.spec?.containers ?? []).some((c) => c.name === sidecar.name)
      ? []
      : [{ op: 'add', path: '/spec/containers/-', value: sidecar }],
  );
}

export const DIGEST_PIN_LABEL = 'dap-e2e/pin-digests';
export const PINNED_DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;

/** Rewrites every init container's `repo:tag` to `repo:tag@sha256:…`, as Kyverno's verifyImages (mutateDigest) does. */
export function startDigestPinningWebhook(cp: ControlPlane): Promise<SidecarWebhook> {
  return startSecondWebhook(cp, 'zz-dap-e2e-digest-pinner', DIGEST_PIN_LABEL, (pod) =>
    (pod.spec?.initContainers ?? []).flatMap((c, i) =>
      c.image && !c.image.includes('@')
        ? [{ op: 'replace' as const, path: `/spec/initContainers/${i}/image`, value: `${c.image}@${PINNED_DIGEST}` }]
        : [],
    ),
  );
}

async function startSecondWebhook(
  cp: ControlPlane,
  configurationName: string,
  label: string,
  patchFor: (pod: V1Pod) => JsonPatch,
): Promise<SidecarWebhook> {
  const cert = await cp.ca.issueServer(configurationName, ['127.0.0.1']);
  const state = { calls: 0 };
  const server: Server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.calls++;
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { request: { uid: string; object: V1Pod } };
      const patch = patchFor(review.request.object);
      const response = {
        uid: review.request.uid,
        allowed: true,
        ...(patch.length > 0
          ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') }
          : {}),
      };
      const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  // Webhooks are called in order of configuration name: "zz-" comes after ours.
  const admission = cp.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  await admission.createMutatingWebhookConfiguration({
    body: {
      metadata: { name: configurationName },
      webhooks: [
        {
          name: `${configurationName}.dap-e2e.invalid`,
          clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle: Buffer.from(cp.caPem).toString('base64') },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
          objectSelector: { matchLabels: { [label]: 'true' } },
          failurePolicy: 'Fail',
          sideEffects: 'None',
          reinvocationPolicy: 'IfNeeded',
          admissionReviewVersions: ['v1'],
          timeoutSeconds: 5,
        },
      ],
    },
  });
  return {
    configurationName,
    get calls() {
      return state.calls;
    },
    async close() {
      await admission.deleteMutatingWebhookConfiguration({ name: configurationName });
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
