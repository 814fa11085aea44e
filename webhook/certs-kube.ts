/**
 * The Kubernetes side of `certs ensure`: the TLS Secret store over @kubernetes/client-node. Kept
 * apart from certs.ts so the server, which only generates throw-away certificates, does not load
 * the Kubernetes client at start-up.
 */
import { AdmissionregistrationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { type CertsDeps, httpStatus, type TlsSecretStore, type WebhookConfigurationStore } from './certs.js';

/** Production dependencies: the in-cluster (or kubeconfig) identity, stdout and stderr. */
export function defaultCertsDeps(kubeConfig?: KubeConfig): CertsDeps {
  const kc = kubeConfig ?? loadDefaultKubeConfig();
  return {
    secrets: kubeTlsSecretStore(kc),
    configurations: kubeWebhookConfigurationStore(kc),
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  };
}

function kubeTlsSecretStore(kc: KubeConfig): TlsSecretStore {
  const core = kc.makeApiClient(CoreV1Api);
  return {
    async read(namespace, name) {
      try {
        return await core.readNamespacedSecret({ name, namespace });
      } catch (e) {
        if (httpStatus(e) === 404) return undefined;
        throw e;
      }
    },
    async create(namespace, body) {
      await core.createNamespacedSecret({ namespace, body });
    },
    async replace(namespace, name, body) {
      await core.replaceNamespacedSecret({ name, namespace, body });
    },
  };
}

function kubeWebhookConfigurationStore(kc: KubeConfig): WebhookConfigurationStore {
  const api = kc.makeApiClient(AdmissionregistrationV1Api);
  return {
    async read(name) {
      try {
        return await api.readMutatingWebhookConfiguration({ name });
      } catch (e) {
        if (httpStatus(e) === 404) return undefined;
        throw e;
      }
    },
    async replace(name, body) {
      await api.replaceMutatingWebhookConfiguration({ name, body });
    },
  };
}

function loadDefaultKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromDefault();
  return kc;
}
