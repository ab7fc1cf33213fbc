{{/* Ports the binary listens on (its contract: MALHA_GRPC_ADDR, MALHA_ADMIN_ADDR). */}}
{{- define "malha.grpcPort" -}}50051{{- end }}
{{- define "malha.adminPort" -}}9090{{- end }}

{{- define "malha.fullname" -}}
{{- if contains "malha" .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-malha" .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end }}

{{/* Name of a component's objects: <fullname>-<component>. */}}
{{- define "malha.name" -}}
{{- printf "%s-%s" (include "malha.fullname" .root) .component | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{- define "malha.selectorLabels" -}}
app.kubernetes.io/name: malha
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "malha.labels" -}}
{{ include "malha.selectorLabels" . }}
app.kubernetes.io/part-of: malha
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end }}

{{/* The generated API facts: targets + call graph, gRPC services, public RPCs. */}}
{{- define "malha.api" -}}
{{- .Files.Get "files/api.yaml" -}}
{{- end }}

{{/*
Enabled targets, sorted, as a YAML list. Fails on a `services:` key that is
not a target of the binary, so a misspelt service name is an error.
*/}}
{{- define "malha.targets" -}}
{{- $api := include "malha.api" . | fromYaml -}}
{{- range $name, $_ := .Values.services -}}
{{- if not (hasKey $api.targets $name) -}}
{{- fail (printf "services.%s: not a target of the malha binary (targets: %s)" $name (keys $api.targets | sortAlpha | join ", ")) -}}
{{- end -}}
{{- end -}}
{{- $out := list -}}
{{- range $name := keys $api.targets | sortAlpha -}}
{{- $over := get $.Values.services $name | default dict -}}
{{- if ne (toString (get $over "enabled")) "false" -}}
{{- $out = append $out $name -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end }}

{{/* One service's settings: defaults deep-merged with services.<name>. */}}
{{- define "malha.serviceConfig" -}}
{{- $over := get .root.Values.services .name | default dict | deepCopy -}}
{{- $cfg := mustMergeOverwrite (deepCopy .root.Values.defaults) $over -}}
{{- toYaml $cfg -}}
{{- end }}

{{/* Kubernetes Service DNS name of a target's gRPC endpoint. */}}
{{- define "malha.serviceHost" -}}
{{- $name := include "malha.name" . -}}
{{- if eq .root.Values.mesh "none" -}}
{{- printf "%s-headless.%s.svc.cluster.local" $name .root.Release.Namespace -}}
{{- else -}}
{{- printf "%s.%s.svc.cluster.local" $name .root.Release.Namespace -}}
{{- end -}}
{{- end }}

{{- define "malha.serviceAccountName" -}}
{{- include "malha.name" . -}}
{{- end }}

{{- define "malha.image" -}}
{{- $tag := .image.tag | default .root.Chart.AppVersion -}}
{{- if hasPrefix "sha256:" $tag -}}
{{- printf "%s@%s" .image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end }}

{{/* Hardened container securityContext (the image runs as uid 65532). */}}
{{- define "malha.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "malha.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Pod annotations for the mesh. */}}
{{- define "malha.meshAnnotations" -}}
{{- if eq .Values.mesh "linkerd" }}
linkerd.io/inject: enabled
config.linkerd.io/default-inbound-policy: deny
{{- else if eq .Values.mesh "istio" }}
proxy.istio.io/config: '{"holdApplicationUntilProxyStarts": true}'
{{- end }}
{{- end }}

{{/* Pod labels for the mesh (Istio reads injection from a label). */}}
{{- define "malha.meshLabels" -}}
{{- if eq .Values.mesh "istio" }}
sidecar.istio.io/inject: "true"
{{- end }}
{{- end }}

{{/* Environment shared by service pods and migration Jobs. */}}
{{- define "malha.commonEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.existingSecret | default (include "malha.name" (dict "root" . "component" "config")) }}
      key: {{ ternary .Values.database.existingSecretKey "DATABASE_URL" (ne .Values.database.existingSecret "") }}
- name: MALHA_NATS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.eventBus.existingSecret | default (include "malha.name" (dict "root" . "component" "config")) }}
      key: {{ ternary .Values.eventBus.existingSecretKey "MALHA_NATS_URL" (ne .Values.eventBus.existingSecret "") }}
- name: MALHA_JWT_ISSUER
  value: {{ .Values.config.jwtIssuer | quote }}
- name: MALHA_JWT_AUDIENCE
  value: {{ .Values.config.jwtAudience | quote }}
- name: RUST_LOG
  value: {{ .Values.config.logLevel | quote }}
- name: MALHA_LOG_FORMAT
  value: {{ .Values.config.logFormat | quote }}
{{- with .Values.config.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{- end }}
