/**
 * The MutatingWebhookConfiguration this server asks for (the API server's view of it is tested
 * in test/integration/webhook-server/registration.test.ts).
 */
import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import { loadConfig, type RegistrationSettings } from '../../../webhook/config.js';
import { describeKubeError, desiredConfiguration } from '../../../webhook/server/registration.js';

function settings(env: Record<string, string> = {}): RegistrationSettings {
  const loaded = loadConfig({ FETCHER_IMAGE: 'f:1', MLP_API_HOST: 'http://mlp', ...env }, 'dap-system');
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.problems.join('\n'));
  return loaded.config.registration;
}

describe('webhook server registration: the desired configuration', function () {
  it('references the Service by default (namespace from the pod) and a URL when WEBHOOK_URL is set', function () {
    const svc = desiredConfiguration(settings(), 'Q0E=');
    assert.deepEqual(svc.webhooks?.[0]?.clientConfig, {
      service: { name: 'dap-secret-webhook', namespace: 'dap-system', port: 443, path: '/mutate' },
      caBundle: 'Q0E=',
    });
    const url = desiredConfiguration(settings({ WEBHOOK_URL: 'https://hooks.example:9443/x' }), 'Q0E=');
    assert.deepEqual(url.webhooks?.[0]?.clientConfig, { url: 'https://hooks.example:9443/x', caBundle: 'Q0E=' });
  });

  it('keeps the caBundle already there when it has no CA of its own (e.g. cert-manager injects it)', function () {
    const s = settings();
    const existing = desiredConfiguration(s, 'T0xE');
    existing.metadata!.resourceVersion = '42';
    const next = desiredConfiguration(s, undefined, existing);
    assert.equal(next.webhooks?.[0]?.clientConfig.caBundle, 'T0xE');
    assert.equal(next.metadata?.resourceVersion, '42', 'the update is conditional on what was read');
    assert.equal(desiredConfiguration(s, undefined).webhooks?.[0]?.clientConfig.caBundle, undefined);
  });

  it('omits namespaceSelector unless configured', function () {
    assert.ok(!('namespaceSelector' in desiredConfiguration(settings(), undefined).webhooks![0]!));
    const sel = { matchExpressions: [{ key: 'flyte', operator: 'Exists' }] };
    assert.deepEqual(
      desiredConfiguration(settings({ WEBHOOK_NAMESPACE_SELECTOR: JSON.stringify(sel) }), undefined).webhooks![0]!
        .namespaceSelector,
      sel,
    );
  });

  it('describes API errors in one line, with the RBAC fix for 403', function () {
    const err = new ApiException(
      403,
      'HTTP-Code: 403\nMessage: ...\nBody: ...\nHeaders: ...',
      JSON.stringify({
        kind: 'Status',
        message:
          'mutatingwebhookconfigurations.admissionregistration.k8s.io "x" is forbidden: User "u" cannot get resource',
      }),
      {},
    );
    assert.equal(
      describeKubeError(err),
      'HTTP 403: mutatingwebhookconfigurations.admissionregistration.k8s.io "x" is forbidden: User "u" cannot get resource (grant this service account get, create and update on mutatingwebhookconfigurations)',
    );
    assert.equal(describeKubeError(new ApiException(500, 'x', 'not json', {})), 'HTTP 500');
  });
});
