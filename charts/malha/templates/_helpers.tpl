{{/* Ports the binary listens on (its contract: MALHA_GRPC_ADDR, MALHA_ADMIN_ADDR). */}}
{{- define "malha.grpcPort" -}}50051{{- end }}
{{- define "malha.adminPort" -}}9090{{- end }}
{{/* PgBouncer's port (pgbouncer.enabled). */}}
{{- define "malha.pgbouncerPort" -}}6432{{- end }}

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

{{/* The same hardening for PgBouncer's containers, as its image's user: dict uid gid. */}}
{{- define "malha.pgbouncer.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .gid }}
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

{{/* The Secret key holding PostgreSQL's own URL (database.url or database.existingSecret). */}}
{{- define "malha.databaseSecretKeyRef" -}}
name: {{ .Values.database.existingSecret | default (include "malha.name" (dict "root" . "component" "config")) }}
key: {{ ternary .Values.database.existingSecretKey "DATABASE_URL" (ne .Values.database.existingSecret "") }}
{{- end }}

{{/* Environment shared by service pods and migration Jobs: PostgreSQL directly, and the rest. */}}
{{- define "malha.commonEnv" -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef: {{- include "malha.databaseSecretKeyRef" . | nindent 6 }}
{{ include "malha.sharedEnv" . }}
{{- end }}

{{/*
A service pod's database environment. Without PgBouncer: DATABASE_URL is
PostgreSQL, as for the migration Jobs. With it: DATABASE_URL is the target's
own PgBouncer alias, assembled by Kubernetes from the auth Secret's user and
password ($(VAR) references, so no password is rendered), and
DATABASE_DIRECT_URL is PostgreSQL, for LISTEN and migrations.
*/}}
{{- define "malha.serviceDatabaseEnv" -}}
{{- $root := .root -}}
{{- if $root.Values.pgbouncer.enabled -}}
{{- $auth := include "malha.pgbouncer.auth" $root | fromYaml -}}
- name: MALHA_PGBOUNCER_USER
  valueFrom: {secretKeyRef: {name: {{ $auth.secret | quote }}, key: {{ $auth.userKey | quote }}}}
- name: MALHA_PGBOUNCER_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ $auth.secret | quote }}, key: {{ $auth.passwordKey | quote }}}}
- name: DATABASE_URL
  value: {{ printf "postgres://$(MALHA_PGBOUNCER_USER):$(MALHA_PGBOUNCER_PASSWORD)@%s:%s/%s" (include "malha.name" (dict "root" $root "component" "pgbouncer")) (include "malha.pgbouncerPort" $root) .name | quote }}
- name: DATABASE_DIRECT_URL
  valueFrom:
    secretKeyRef: {{- include "malha.databaseSecretKeyRef" $root | nindent 6 }}
{{- else -}}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef: {{- include "malha.databaseSecretKeyRef" $root | nindent 6 }}
{{- end -}}
{{- end }}

{{/* Environment every service pod and migration Job gets besides the database. */}}
{{- define "malha.sharedEnv" -}}
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

{{/*
PgBouncer's login: {secret, userKey, passwordKey}. pgbouncer.auth.existingSecret,
else (postgresql.enabled) the bundled server's Secret.
*/}}
{{- define "malha.pgbouncer.auth" -}}
{{- $a := .Values.pgbouncer.auth -}}
{{- if $a.existingSecret -}}
{{- toYaml (dict "secret" $a.existingSecret "userKey" $a.userKey "passwordKey" $a.passwordKey) -}}
{{- else if .Values.postgresql.enabled -}}
{{- toYaml (dict "secret" (printf "%s-postgresql" .Release.Name | trunc 63) "userKey" "POSTGRES_USER" "passwordKey" "POSTGRES_PASSWORD") -}}
{{- else -}}
{{- fail "pgbouncer.auth.existingSecret: create a Secret with the PostgreSQL role's user and password (keys pgbouncer.auth.userKey and pgbouncer.auth.passwordKey, URL-safe characters only) and name it here (docs/scaling.md, \"PgBouncer\")" -}}
{{- end -}}
{{- end }}

{{/* Where PgBouncer connects: {host, port, dbname, sslmode}; with postgresql.enabled the bundled server by default. */}}
{{- define "malha.pgbouncer.server" -}}
{{- $pg := .Values.pgbouncer.postgres -}}
{{- $host := $pg.host -}}
{{- $dbname := $pg.dbname -}}
{{- if .Values.postgresql.enabled -}}
{{- $host = $host | default (printf "%s-postgresql" .Release.Name | trunc 63) -}}
{{- $dbname = $dbname | default .Values.postgresql.auth.database -}}
{{- end -}}
{{- if not $host -}}
{{- fail "pgbouncer.postgres.host: set it to your PostgreSQL's host (the one in database.url), where PgBouncer connects" -}}
{{- end -}}
{{- if not $dbname -}}
{{- fail "pgbouncer.postgres.dbname: set it to the database of database.url, the one every target's schema lives in" -}}
{{- end -}}
{{- toYaml (dict "host" $host "port" (int $pg.port) "dbname" $dbname "sslmode" $pg.sslmode) -}}
{{- end }}

{{/* Server connections of one target's alias per PgBouncer pod: pgbouncer.poolSizeByTarget.<target>, else pgbouncer.poolSize. */}}
{{- define "malha.pgbouncer.poolSize" -}}
{{- $p := .root.Values.pgbouncer -}}
{{- $size := $p.poolSize -}}
{{- if hasKey $p.poolSizeByTarget .name }}{{ $size = get $p.poolSizeByTarget .name }}{{ end -}}
{{- int $size -}}
{{- end }}

{{/*
pgbouncer.ini. One alias per enabled target, named after the target's schema
(the schema is the target's name): PostgreSQL 15 does not report search_path
to PgBouncer, which therefore cannot carry it from the client, so each
alias's server connections set it themselves, with the statement and
idle-transaction timeouts the binary asks for on its own connections
(services/kit/src/db/mod.rs, connect_options). The clients' startup options
are ignored.
*/}}
{{- define "malha.pgbouncer.ini" -}}
{{- $root := . -}}
{{- $p := .Values.pgbouncer -}}
{{- $pg := include "malha.pgbouncer.server" . | fromYaml -}}
{{- $api := include "malha.api" . | fromYaml -}}
{{- range $name, $_ := $p.poolSizeByTarget -}}
{{- if not (hasKey $api.targets $name) -}}
{{- fail (printf "pgbouncer.poolSizeByTarget.%s: not a target of the malha binary (targets: %s)" $name (keys $api.targets | sortAlpha | join ", ")) -}}
{{- end -}}
{{- end -}}
; Generated by the malha chart from its values (pgbouncer.*): edit those.
; One alias per target, named after its schema.
[databases]
{{- range $name := include "malha.targets" . | fromYamlArray }}
{{- if not (regexMatch "^[a-z_][a-z0-9_]*$" $name) }}
{{- fail (printf "pgbouncer: target %s is not a plain SQL identifier, so it cannot name a PgBouncer alias and a search_path unquoted" $name) }}
{{- end }}
{{ $name }} = host={{ $pg.host }} port={{ $pg.port }} dbname={{ $pg.dbname }} pool_size={{ include "malha.pgbouncer.poolSize" (dict "root" $root "name" $name) }} connect_query='SET search_path = {{ $name }}; SET statement_timeout = ''10s''; SET idle_in_transaction_session_timeout = ''30s'''
{{- end }}

[pgbouncer]
listen_addr = *
listen_port = {{ include "malha.pgbouncerPort" . }}
; No Unix socket: nothing in the pod uses one, and the root filesystem is read-only.
unix_socket_dir =
auth_type = scram-sha-256
auth_file = /etc/pgbouncer/auth/userlist.txt
; A server connection per transaction: LISTEN and session advisory locks go
; to DATABASE_DIRECT_URL, never through here.
pool_mode = transaction
default_pool_size = {{ $p.poolSize | int }}
reserve_pool_size = {{ $p.reservePoolSize | int }}
max_client_conn = {{ $p.maxClientConn | int }}
; sqlx prepares every statement (protocol-level, named): PgBouncer >= 1.21
; prepares them again on whichever server connection a transaction gets.
max_prepared_statements = {{ $p.maxPreparedStatements | int }}
; sqlx sends extra_float_digits, and search_path and the timeouts in options:
; dropped here, and set by each alias's connect_query instead.
ignore_startup_parameters = extra_float_digits, options
; Nothing to reset between transactions: the binary sets no session state.
server_reset_query =
server_tls_sslmode = {{ $pg.sslmode }}
; The services connect in plain TCP inside the cluster (the mesh, if any, encrypts).
client_tls_sslmode = disable
{{- end }}

{{/* Pods of a target at its peak: autoscaling.maxReplicas (or replicas) plus the rolling update's 25 % surge, rounded up as Kubernetes does. */}}
{{- define "malha.peakPods" -}}
{{- $peak := int .replicas -}}
{{- if .autoscaling.enabled }}{{ $peak = int .autoscaling.maxReplicas }}{{ end -}}
{{- add $peak (div (add $peak 3) 4) -}}
{{- end }}

{{/*
The database connection budget (docs/scaling.md): what PostgreSQL may see at
the peak, against its max_connections less the reserved connections.

Every enabled target's pods at their peak (malha.peakPods) each open
database.directConnectionsPerPod straight to PostgreSQL (LISTEN, migrations)
plus, without PgBouncer, their pool of dbPoolSize. With PgBouncer the pools
go to PgBouncer instead, and PostgreSQL sees PgBouncer's server pools: its
pods at their peak (replicas + 1: a rollout replaces one pod at a time,
without surge, once the previous one has drained) times the sum over aliases
of pool_size + reserve_pool_size. The clients are then checked separately
against each PgBouncer pod's max_client_conn (malha.checkDbBudget).

Returns YAML: {targets: {name: {pods, pool, direct, connections}},
pgbouncer (with PgBouncer): {pods, aliases: {name: size}, perPod,
connections, clients, maxClientConn}, total, available, limit}.
*/}}
{{- define "malha.dbBudget" -}}
{{- $root := . -}}
{{- $limit := int .Values.database.maxConnections -}}
{{- if .Values.postgresql.enabled -}}
{{- $limit = int (.Values.postgresql.maxConnections | default 100) -}}
{{- end -}}
{{- $reserved := int .Values.database.reservedConnections -}}
{{- $direct := int .Values.database.directConnectionsPerPod -}}
{{- $p := .Values.pgbouncer -}}
{{- $targets := dict -}}
{{- $total := 0 -}}
{{- $clients := 0 -}}
{{- $aliases := dict -}}
{{- $perPod := 0 -}}
{{- range $name := include "malha.targets" . | fromYamlArray -}}
{{- $cfg := include "malha.serviceConfig" (dict "root" $root "name" $name) | fromYaml -}}
{{- $pods := int (include "malha.peakPods" $cfg) -}}
{{- $pool := int $cfg.dbPoolSize -}}
{{- $conns := mul $pods $direct -}}
{{- if $p.enabled -}}
{{- $clients = add $clients (mul $pods $pool) -}}
{{- $size := add (int (include "malha.pgbouncer.poolSize" (dict "root" $root "name" $name))) (int $p.reservePoolSize) -}}
{{- $_ := set $aliases $name $size -}}
{{- $perPod = add $perPod $size -}}
{{- else -}}
{{- $conns = mul $pods (add $pool $direct) -}}
{{- end -}}
{{- $_ := set $targets $name (dict "pods" $pods "pool" $pool "direct" $direct "connections" $conns) -}}
{{- $total = add $total $conns -}}
{{- end -}}
{{- $out := dict "targets" $targets "limit" $limit "available" (sub $limit $reserved) -}}
{{- if $p.enabled -}}
{{- $pods := add (int $p.replicas) 1 -}}
{{- $conns := mul $pods $perPod -}}
{{- $total = add $total $conns -}}
{{- $_ := set $out "pgbouncer" (dict "pods" $pods "aliases" $aliases "perPod" $perPod "connections" $conns "clients" $clients "maxClientConn" (int $p.maxClientConn)) -}}
{{- end -}}
{{- $_ := set $out "total" $total -}}
{{- toYaml $out -}}
{{- end }}

{{/* Fails the install when the budget does not fit (see malha.dbBudget); without a database config.yaml says so first. */}}
{{- define "malha.checkDbBudget" -}}
{{- if or .Values.postgresql.enabled .Values.database.url .Values.database.existingSecret -}}
{{- if and (not .Values.postgresql.enabled) (eq (int .Values.database.maxConnections) 0) -}}
{{- fail "database.maxConnections: set it to your PostgreSQL's max_connections (SHOW max_connections;); the chart checks every replica's pool against it (docs/scaling.md)" -}}
{{- end -}}
{{- $b := include "malha.dbBudget" . | fromYaml -}}
{{- $pgb := $b.pgbouncer -}}
{{- if gt (int $b.total) (int $b.available) -}}
{{- $shares := list -}}
{{- if $pgb -}}
{{- $sizes := list -}}
{{- range $name, $size := $pgb.aliases }}{{ $sizes = append $sizes (printf "%s %d" $name (int $size)) }}{{ end -}}
{{- $shares = append $shares (printf "pgbouncer %d pods x (%s) = %d" (int $pgb.pods) (join " + " $sizes) (int $pgb.connections)) -}}
{{- range $name, $t := $b.targets -}}
{{- $shares = append $shares (printf "%s %d pods x %d direct = %d" $name (int $t.pods) (int $t.direct) (int $t.connections)) -}}
{{- end -}}
{{- fail (printf "database connection budget exceeded: the services and PgBouncer may open %d connections at their peak (%s) but PostgreSQL allows %d less %d reserved = %d. Lower pgbouncer.poolSize (per target: pgbouncer.poolSizeByTarget), pgbouncer.replicas or autoscaling.maxReplicas (per service under services.<target>), or raise PostgreSQL's max_connections and database.maxConnections (docs/scaling.md)" (int $b.total) (join "; " $shares) (int $b.limit) (int .Values.database.reservedConnections) (int $b.available)) -}}
{{- else -}}
{{- range $name, $t := $b.targets -}}
{{- $shares = append $shares (printf "%s %d pods x (%d + %d direct) = %d" $name (int $t.pods) (int $t.pool) (int $t.direct) (int $t.connections)) -}}
{{- end -}}
{{- fail (printf "database connection budget exceeded: the services may open %d connections at their peak (%s) but PostgreSQL allows %d less %d reserved = %d. Lower defaults.dbPoolSize or autoscaling.maxReplicas (per service under services.<target>), raise PostgreSQL's max_connections and database.maxConnections, or put PgBouncer in front (pgbouncer.enabled; docs/scaling.md)" (int $b.total) (join "; " $shares) (int $b.limit) (int .Values.database.reservedConnections) (int $b.available)) -}}
{{- end -}}
{{- end -}}
{{- if and $pgb (gt (int $pgb.clients) (int $pgb.maxClientConn)) -}}
{{- $shares := list -}}
{{- range $name, $t := $b.targets -}}
{{- $shares = append $shares (printf "%s %d pods x %d = %d" $name (int $t.pods) (int $t.pool) (mul $t.pods $t.pool)) -}}
{{- end -}}
{{- fail (printf "PgBouncer's max_client_conn exceeded: the services may open %d client connections to PgBouncer at their peak (%s) but pgbouncer.maxClientConn is %d. A service pod may connect to any PgBouncer pod, so each must accept them all: raise pgbouncer.maxClientConn, or lower defaults.dbPoolSize or autoscaling.maxReplicas (docs/scaling.md)" (int $pgb.clients) (join "; " $shares) (int $pgb.maxClientConn)) -}}
{{- end -}}
{{- end -}}
{{- end }}
