{{/* Names ------------------------------------------------------------------------------------ */}}

{{- define "dsw.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "dsw.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A suffixed name that still fits in 63 characters. */}}
{{- define "dsw.suffixed" -}}
{{- $root := index . 0 -}}{{- $suffix := index . 1 -}}
{{- printf "%s-%s" (include "dsw.fullname" $root | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix -}}
{{- end -}}

{{- define "dsw.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "dsw.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create=false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "dsw.configurationName" -}}
{{- default (include "dsw.fullname" .) .Values.webhook.configurationName -}}
{{- end -}}

{{- define "dsw.tlsSecretName" -}}
{{- default (include "dsw.suffixed" (list . "tls")) .Values.tls.secretName -}}
{{- end -}}

{{- define "dsw.certificateName" -}}
{{- include "dsw.suffixed" (list . "serving") -}}
{{- end -}}

{{- define "dsw.fetcherClusterRoleName" -}}
{{- include "dsw.suffixed" (list . "fetcher") -}}
{{- end -}}

{{/* Labels ----------------------------------------------------------------------------------- */}}

{{- define "dsw.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dsw.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dsw.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "dsw.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dap-secret-webhook
{{- end -}}

{{/* Images ----------------------------------------------------------------------------------- */}}

{{- define "dsw.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "dsw.certsJobImage" -}}
{{- default (include "dsw.image" .) .Values.tls.job.image -}}
{{- end -}}

{{/* The namespaceSelector, shared by WEBHOOK_NAMESPACE_SELECTOR and a chart-rendered configuration.
     The release namespace is always excluded so the webhook can never block its own pods. */}}
{{- define "dsw.namespaceSelector" -}}
{{- $excluded := concat (.Values.webhook.excludedNamespaces | default list) (list .Release.Namespace) | uniq -}}
{{- $self := dict "key" "kubernetes.io/metadata.name" "operator" "NotIn" "values" $excluded -}}
{{- if .Values.webhook.namespaceSelector -}}
{{- $sel := deepCopy .Values.webhook.namespaceSelector -}}
{{- $_ := set $sel "matchExpressions" (append ($sel.matchExpressions | default list) (dict "key" "kubernetes.io/metadata.name" "operator" "NotIn" "values" (list .Release.Namespace))) -}}
{{- toJson $sel -}}
{{- else -}}
{{- toJson (dict "matchExpressions" (list $self)) -}}
{{- end -}}
{{- end -}}

{{/* Checks that fail the render with a sentence naming the value to set. */}}
{{- define "dsw.validate" -}}
{{- if not .Values.fetcher.image -}}
{{- fail "fetcher.image is required: the fetcher init-container image, e.g. --set fetcher.image=ghcr.io/caraml-dev/dap-secret-fetcher:0.1.0" -}}
{{- end -}}
{{- if not .Values.mlp.apiHost -}}
{{- fail "mlp.apiHost is required: the MLP base URL the fetcher calls, e.g. --set mlp.apiHost=http://mlp.caraml.svc.cluster.local:8080" -}}
{{- end -}}
{{- if not (has .Values.tls.mode (list "job" "cert-manager" "secret")) -}}
{{- fail (printf "tls.mode=%q must be job, cert-manager or secret" .Values.tls.mode) -}}
{{- end -}}
{{- if and (eq .Values.tls.mode "secret") (not .Values.tls.secretName) -}}
{{- fail "tls.mode=secret needs tls.secretName: the kubernetes.io/tls Secret (tls.crt, tls.key, ca.crt) you created" -}}
{{- end -}}
{{- if and (not .Values.webhook.register) (eq .Values.tls.mode "secret") (not .Values.tls.caBundle) -}}
{{- fail "webhook.register=false with tls.mode=secret needs tls.caBundle (base64 PEM of the CA that signed tls.crt)" -}}
{{- end -}}
{{- if and (eq .Values.mlp.auth.mode "token-exchange") (not .Values.mlp.auth.tokenExchange.issuer) -}}
{{- fail "mlp.auth.mode=token-exchange needs mlp.auth.tokenExchange.issuer (the OIDC issuer URL)" -}}
{{- end -}}
{{- if and .Values.fetcher.caBundle.pem (not .Values.fetcher.caBundle.configMap) -}}
{{- fail "fetcher.caBundle.pem needs fetcher.caBundle.configMap: the name of the ConfigMap the chart creates in each fetcher namespace, e.g. --set fetcher.caBundle.configMap=mlp-ca" -}}
{{- end -}}
{{- if and .Values.fetcher.caBundle.pem (not (include "dsw.fetcherNamespaces" . | fromJsonArray)) -}}
{{- fail "fetcher.caBundle.pem is set but no fetcher namespace is: set fetcher.rbac.namespaces or fetcher.rbac.flyteProjects (the chart creates the CA ConfigMap there), or create the ConfigMaps yourself and leave pem empty" -}}
{{- end -}}
{{- if and .Values.fetcher.caBundle.pem (not (contains "-----BEGIN CERTIFICATE-----" .Values.fetcher.caBundle.pem)) -}}
{{- fail "fetcher.caBundle.pem must be PEM CA certificate(s) (-----BEGIN CERTIFICATE----- …), e.g. --set-file fetcher.caBundle.pem=mlp-ca.crt" -}}
{{- end -}}
{{- /* webhook/server/serve.ts: the drain delay, then up to 20 s for in-flight requests. */ -}}
{{- $minimum := add (int .Values.webhook.drainDelaySeconds) 21 -}}
{{- if lt (int .Values.terminationGracePeriodSeconds) (int $minimum) -}}
{{- fail (printf "terminationGracePeriodSeconds=%v is too short: on SIGTERM the webhook keeps serving for webhook.drainDelaySeconds=%v s (the API server calls the pod until the endpoints drop it), then gives in-flight requests up to 20 s; set at least %v so the kubelet never cuts an admission call (pod creation would fail with failurePolicy Fail)" (toString .Values.terminationGracePeriodSeconds) (toString .Values.webhook.drainDelaySeconds) (toString $minimum)) -}}
{{- end -}}
{{- if ge (int .Values.tls.renewBeforeDays) (int .Values.tls.validityDays) -}}
{{- fail (printf "tls.renewBeforeDays (%v) must be less than tls.validityDays (%v)" .Values.tls.renewBeforeDays .Values.tls.validityDays) -}}
{{- end -}}
{{- end -}}

{{/* The fetcher's namespaces: the explicit list plus every project × domain of the template. */}}
{{- define "dsw.fetcherNamespaces" -}}
{{- $out := .Values.fetcher.rbac.namespaces | default list -}}
{{- range $p := .Values.fetcher.rbac.flyteProjects -}}
{{- range $d := $.Values.fetcher.rbac.flyteDomains -}}
{{- $ns := $.Values.fetcher.rbac.namespaceTemplate | replace "{{ project }}" $p | replace "{{ domain }}" $d | replace "{{project}}" $p | replace "{{domain}}" $d -}}
{{- $out = append $out $ns -}}
{{- end -}}
{{- end -}}
{{- toJson ($out | uniq) -}}
{{- end -}}

{{/* `certs ensure` arguments (the image's entrypoint is the webhook program), shared by the hook
     Jobs and the renewal CronJob. With a chart-rendered configuration they also keep its caBundle
     current; `mayBeMissing` for the pre-install run, before the configuration exists. */}}
{{- define "dsw.certsArgs" -}}
{{- $root := .root | default . -}}
- certs
- ensure
- --secret={{ include "dsw.tlsSecretName" $root }}
- --namespace={{ $root.Release.Namespace }}
- --service={{ include "dsw.fullname" $root }}
- --renew-before-days={{ $root.Values.tls.renewBeforeDays }}
- --validity-days={{ $root.Values.tls.validityDays }}
{{- if not $root.Values.webhook.register }}
- --webhook-configuration={{ include "dsw.configurationName" $root }}
{{- if .mayBeMissing }}
- --configuration-may-be-missing
{{- end }}
{{- end }}
{{- end -}}

{{/* The certs container, shared by the hook Job and the renewal CronJob. */}}
{{- define "dsw.certsPodSpec" -}}
serviceAccountName: {{ .serviceAccountName }}
restartPolicy: Never
automountServiceAccountToken: true
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
containers:
  - name: certs
    image: {{ include "dsw.certsJobImage" .root }}
    imagePullPolicy: {{ .root.Values.image.pullPolicy }}
    args:
      {{- include "dsw.certsArgs" (dict "root" .root "mayBeMissing" .mayBeMissing) | nindent 6 }}
    securityContext:
      {{- toYaml .root.Values.securityContext | nindent 6 }}
    resources:
      {{- toYaml .root.Values.tls.job.resources | nindent 6 }}
{{- end -}}

{{/* What `certs ensure` may do with a chart-rendered configuration: read and rewrite that one
     MutatingWebhookConfiguration (its caBundle), by name. */}}
{{- define "dsw.caBundleRules" -}}
- apiGroups: [admissionregistration.k8s.io]
  resources: [mutatingwebhookconfigurations]
  resourceNames: [{{ include "dsw.configurationName" . | quote }}]
  verbs: [get, update]
{{- end -}}

{{/* What `certs ensure` may do: read and rewrite the one TLS Secret, and create it. */}}
{{- define "dsw.certsRules" -}}
- apiGroups: [""]
  resources: [secrets]
  resourceNames: [{{ include "dsw.tlsSecretName" . | quote }}]
  verbs: [get, update]
# create cannot be limited by resourceNames: the object has no name the authorizer can see yet.
- apiGroups: [""]
  resources: [secrets]
  verbs: [create]
{{- end -}}

{{/* CEL list items 'system:serviceaccount:<ns>:<name>' for (list namespace names). */}}
{{- define "dsw.quotedServiceAccounts" -}}
{{- $ns := index . 0 -}}
{{- $items := list -}}
{{- range index . 1 }}{{ $items = append $items (printf "'system:serviceaccount:%s:%s'" $ns .) }}{{ end -}}
{{- join ", " $items -}}
{{- end -}}
