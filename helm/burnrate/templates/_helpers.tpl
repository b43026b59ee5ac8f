{{/* Chart name, overridable. */}}
{{- define "burnrate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: release-chart unless the release already names it. */}}
{{- define "burnrate.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "burnrate.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The labels every object carries. */}}
{{- define "burnrate.labels" -}}
helm.sh/chart: {{ include "burnrate.chart" . }}
{{ include "burnrate.selectorLabels" . }}
app.kubernetes.io/version: {{ (.Values.image.tag | default .Chart.AppVersion) | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: burnrate
{{- end }}

{{/* The labels selecting the engine's pods; never change them in an upgrade. */}}
{{- define "burnrate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "burnrate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "burnrate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "burnrate.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "burnrate.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
The engine's config file. The user's free-form `config` map, plus the kafka,
redis and http sections built from their values. Secrets appear only as
{env: NAME} references to variables injected from existing Secrets.
*/}}
{{- define "burnrate.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- range $reserved := list "kafka" "redis" "http" }}
{{- if hasKey $cfg $reserved }}
{{- fail (printf "config.%s is set from the chart's %s values; remove it from config" $reserved $reserved) }}
{{- end }}
{{- end }}
{{- $k := .Values.kafka }}
{{- $kafka := dict "brokers" $k.brokers "topic" $k.topic "group_id" $k.groupId "dead_letter_topic" $k.deadLetterTopic "windows_topic" $k.windowsTopic "batch_size" $k.batchSize }}
{{- if $k.properties }}
{{- $_ := set $kafka "properties" $k.properties }}
{{- end }}
{{- if $k.secretProperties }}
{{- $secretProps := dict }}
{{- range $prop, $ref := $k.secretProperties }}
{{- $_ := set $secretProps $prop (dict "env" $ref.env) }}
{{- end }}
{{- $_ := set $kafka "secret_properties" $secretProps }}
{{- end }}
{{- $r := .Values.redis }}
{{- $redis := dict "host" $r.host "port" $r.port "key_prefix" $r.keyPrefix "timeout" $r.timeout }}
{{- if $r.username }}
{{- $_ := set $redis "username" $r.username }}
{{- end }}
{{- if $r.password.secretName }}
{{- $_ := set $redis "password" (dict "env" $r.password.env) }}
{{- end }}
{{- $http := dict "listen" (printf "0.0.0.0:%d" (int .Values.http.port)) }}
{{- if .Values.http.adminToken.secretName }}
{{- $_ := set $http "admin_listen" (printf "0.0.0.0:%d" (int .Values.http.adminPort)) }}
{{- $_ := set $http "admin_token" (dict "env" .Values.http.adminToken.env) }}
{{- end }}
{{- $_ := set $cfg "kafka" $kafka }}
{{- $_ := set $cfg "redis" $redis }}
{{- $_ := set $cfg "http" $http }}
{{- toYaml $cfg }}
{{- end }}

{{/* Environment variables from existing Secrets, one per secret reference. */}}
{{- define "burnrate.secretEnv" -}}
{{- range $prop, $ref := .Values.kafka.secretProperties }}
- name: {{ $ref.env }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.secretName }}
      key: {{ $ref.secretKey }}
{{- end }}
{{- with .Values.redis.password }}
{{- if .secretName }}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .secretKey }}
{{- end }}
{{- end }}
{{- with .Values.http.adminToken }}
{{- if .secretName }}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .secretKey }}
{{- end }}
{{- end }}
{{- range .Values.secretEnv }}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secretName }}
      key: {{ .secretKey }}
{{- end }}
{{- end }}

{{/* Refuses replica counts that would leave consumers without partitions. */}}
{{- define "burnrate.checkPartitions" -}}
{{- $p := int .Values.kafka.partitions }}
{{- if gt $p 0 }}
{{- if and (not .Values.autoscaling.enabled) (gt (int .Values.replicaCount) $p) }}
{{- fail (printf "replicaCount %d exceeds kafka.partitions %d: the extra replicas would sit idle" (int .Values.replicaCount) $p) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.maxReplicas) $p) }}
{{- fail (printf "autoscaling.maxReplicas %d exceeds kafka.partitions %d: the extra replicas would sit idle" (int .Values.autoscaling.maxReplicas) $p) }}
{{- end }}
{{- end }}
{{- end }}
