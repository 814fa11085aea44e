/**
 * `dap-secret-webhook unregister`: deletes the MutatingWebhookConfiguration the webhook wrote.
 * The Helm chart's pre-delete hook runs it, because with self-registration Helm does not own
 * that object, and a leftover configuration with failurePolicy Fail would refuse every labelled
 * pod after uninstall. Needs only `delete` on that one name; "already gone" counts as done.
 */
import { AdmissionregistrationV1Api } from '@kubernetes/client-node';
import { isDnsSubdomain } from '../../contract/plan.js';
import { CONFIG_VARS } from '../config.js';
import { describeKubeError, findCluster } from './registration.js';

type Out = { out: (s: string) => void; err: (s: string) => void };

export async function unregister(env: Readonly<Record<string, string | undefined>>, io: Out): Promise<number> {
  const name = env.WEBHOOK_NAME?.trim() || CONFIG_VARS.find((v) => v.name === 'WEBHOOK_NAME')!.default;
  if (!isDnsSubdomain(name)) {
    io.err(`unregister: WEBHOOK_NAME=${JSON.stringify(name)} is not a valid object name\n`);
    return 2;
  }
  const cluster = await findCluster(env);
  if (!cluster.found) {
    io.err(`unregister: no Kubernetes cluster to talk to: ${cluster.why}\n`);
    return 1;
  }
  const api = cluster.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  try {
    await api.deleteMutatingWebhookConfiguration({ name });
    io.out(`MutatingWebhookConfiguration ${name} deleted\n`);
    return 0;
  } catch (err) {
    if ((err as { code?: number }).code === 404) {
      io.out(`MutatingWebhookConfiguration ${name} was already gone\n`);
      return 0;
    }
    io.err(`unregister: deleting MutatingWebhookConfiguration ${name} failed: ${describeKubeError(err)}\n`);
    return 1;
  }
}
