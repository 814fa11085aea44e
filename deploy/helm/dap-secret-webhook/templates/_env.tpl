{{/* Every env var the webhook reads (webhook/config.ts CONFIG_VARS); a unit test keeps this list
     complete. Values come from values.yaml; see the table in deploy/README.md. */}}
{{- define "dsw.env" -}}
- name: FETCHER_IMAGE
  value: {{ .Values.fetcher.image | quote }}
- name: FETCHER_IMAGE_PULL_POLICY
  value: {{ .Values.fetcher.pullPolicy | quote }}
- name: FETCHER_CPU_REQUEST
  value: {{ .Values.fetcher.resources.requests.cpu | quote }}
- name: FETCHER_CPU_LIMIT
  value: {{ .Values.fetcher.resources.limits.cpu | quote }}
- name: FETCHER_MEMORY_REQUEST
  value: {{ .Values.fetcher.resources.requests.memory | quote }}
- name: FETCHER_MEMORY_LIMIT
  value: {{ .Values.fetcher.resources.limits.memory | quote }}
- name: FETCHER_RUN_AS_USER
  value: {{ .Values.fetcher.runAsUser | quote }}
- name: FETCHER_DEADLINE_SECONDS
  value: {{ .Values.fetcher.deadlineSeconds | quote }}
- name: FETCHER_MAX_PROJECTS_BYTES
  value: {{ .Values.fetcher.maxBytes.projects | int64 | quote }}
- name: FETCHER_MAX_SECRETS_BYTES
  value: {{ .Values.fetcher.maxBytes.secrets | int64 | quote }}
- name: FETCHER_MAX_SECRET_BYTES
  value: {{ .Values.fetcher.maxBytes.secret | int64 | quote }}
- name: FETCHER_CA_CONFIGMAP
  value: {{ .Values.fetcher.caBundle.configMap | quote }}
- name: FETCHER_CA_CONFIGMAP_KEY
  value: {{ .Values.fetcher.caBundle.key | quote }}
- name: FETCHER_EXTRA_ENV
  value: {{ if .Values.fetcher.extraEnv }}{{ .Values.fetcher.extraEnv | toJson | quote }}{{ else }}""{{ end }}
- name: FETCHER_IMAGE_PULL_SECRETS
  value: {{ join "," .Values.fetcher.imagePullSecrets | quote }}
- name: SECRETS_VOLUME_SIZE_LIMIT
  value: {{ .Values.fetcher.secretsVolumeSizeLimit | quote }}
- name: FLYTE_SECRETS_DEFAULT_DIR
  value: {{ .Values.flyte.secretsDefaultDir | quote }}
- name: DEFAULT_MOUNT_TYPE
  value: {{ .Values.flyte.defaultMountType | quote }}
- name: MLP_API_HOST
  value: {{ .Values.mlp.apiHost | quote }}
- name: MLP_PROJECT_SOURCE
  value: {{ .Values.mlp.projectSource | quote }}
- name: MLP_AUTH_MODE
  value: {{ .Values.mlp.auth.mode | quote }}
- name: MLP_TOKEN_AUDIENCE
  value: {{ .Values.mlp.auth.tokenAudience | quote }}
- name: MLP_TOKEN_EXPIRATION_SECONDS
  value: {{ .Values.mlp.auth.tokenExpirationSeconds | quote }}
- name: MLP_TOKEN_EXCHANGE_ISSUER
  value: {{ .Values.mlp.auth.tokenExchange.issuer | quote }}
- name: MLP_TOKEN_EXCHANGE_AUDIENCE
  value: {{ .Values.mlp.auth.tokenExchange.audience | quote }}
- name: MLP_TOKEN_EXCHANGE_SCOPE
  value: {{ .Values.mlp.auth.tokenExchange.scope | quote }}
- name: MLP_TOKEN_EXCHANGE_CLIENT_ID
  value: {{ .Values.mlp.auth.tokenExchange.clientId | quote }}
- name: MLP_TOKEN_EXCHANGE_CLIENT_SECRET_NAME
  value: {{ .Values.mlp.auth.tokenExchange.clientSecretName | quote }}
- name: WEBHOOK_NAME
  value: {{ include "dsw.configurationName" . | quote }}
- name: WEBHOOK_WEBHOOK_NAME
  value: {{ .Values.webhook.webhookName | quote }}
- name: WEBHOOK_SERVICE_NAME
  value: {{ include "dsw.fullname" . | quote }}
- name: WEBHOOK_SERVICE_NAMESPACE
  value: {{ .Release.Namespace | quote }}
- name: WEBHOOK_SERVICE_PORT
  value: {{ .Values.service.port | quote }}
- name: WEBHOOK_URL
  value: {{ .Values.webhook.url | quote }}
- name: WEBHOOK_MUTATE_PATH
  value: {{ .Values.webhook.mutatePath | quote }}
- name: WEBHOOK_HOST
  value: {{ .Values.listenHost | quote }}
- name: WEBHOOK_PORT
  value: {{ .Values.ports.webhook | quote }}
- name: HEALTH_PORT
  value: {{ .Values.ports.health | quote }}
- name: WEBHOOK_MAX_BODY_BYTES
  value: {{ .Values.maxBodyBytes | int64 | quote }}
- name: WEBHOOK_MAX_INFLIGHT_BODY_BYTES
  value: {{ .Values.maxInflightBodyBytes | int64 | quote }}
- name: WEBHOOK_MAX_SECRETS_PER_POD
  value: {{ .Values.admissionLimits.maxSecretsPerPod | int64 | quote }}
- name: WEBHOOK_MAX_WIRED_CONTAINERS
  value: {{ .Values.admissionLimits.maxWiredContainers | int64 | quote }}
- name: WEBHOOK_MAX_ANNOTATION_BYTES
  value: {{ .Values.admissionLimits.maxAnnotationBytes | int64 | quote }}
- name: WEBHOOK_MAX_PATCH_BYTES
  value: {{ .Values.admissionLimits.maxPatchBytes | int64 | quote }}
- name: WEBHOOK_MAX_CONCURRENT_STREAMS
  value: {{ .Values.serverLimits.maxConcurrentStreams | int64 | quote }}
- name: WEBHOOK_MAX_CONNECTIONS
  value: {{ .Values.serverLimits.maxConnections | int64 | quote }}
- name: WEBHOOK_IDLE_TIMEOUT_SECONDS
  value: {{ .Values.serverLimits.idleTimeoutSeconds | int64 | quote }}
- name: WEBHOOK_HEADERS_TIMEOUT_SECONDS
  value: {{ .Values.serverLimits.headersTimeoutSeconds | int64 | quote }}
- name: WEBHOOK_REQUEST_TIMEOUT_SECONDS
  value: {{ .Values.serverLimits.requestTimeoutSeconds | int64 | quote }}
- name: WEBHOOK_REGISTER
  value: {{ .Values.webhook.register | quote }}
- name: WEBHOOK_FAILURE_POLICY
  value: {{ .Values.webhook.failurePolicy | quote }}
- name: WEBHOOK_TIMEOUT_SECONDS
  value: {{ .Values.webhook.timeoutSeconds | quote }}
- name: WEBHOOK_DRAIN_DELAY_SECONDS
  value: {{ .Values.webhook.drainDelaySeconds | quote }}
- name: WEBHOOK_NAMESPACE_SELECTOR
  value: {{ include "dsw.namespaceSelector" . | quote }}
- name: TLS_SERVER_CERT_FILE
  value: /etc/dap-secret-webhook/tls/tls.crt
- name: TLS_SERVER_KEY_FILE
  value: /etc/dap-secret-webhook/tls/tls.key
- name: TLS_CA_CERT_FILE
  value: /etc/dap-secret-webhook/tls/ca.crt
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
{{- end -}}
