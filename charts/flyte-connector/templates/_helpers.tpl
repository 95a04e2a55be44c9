{{/* Name of every object: fullnameOverride, else the release name. */}}
{{- define "flyte-connector.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The app.kubernetes.io/name label. */}}
{{- define "flyte-connector.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "flyte-connector.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flyte-connector.name" . }}
app.kubernetes.io/instance: {{ include "flyte-connector.fullname" . }}
{{- end -}}

{{- define "flyte-connector.labels" -}}
{{ include "flyte-connector.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "flyte-connector.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "flyte-connector.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Fewest pods that run: the autoscaler's minimum, else replicaCount. */}}
{{- define "flyte-connector.minReplicas" -}}
{{- if .Values.autoscaling.enabled -}}
{{- .Values.autoscaling.minReplicas | default .Values.replicaCount | int -}}
{{- else -}}
{{- .Values.replicaCount | int -}}
{{- end -}}
{{- end -}}

{{/* Name of the Secret mounted at /etc/secrets, or empty. */}}
{{- define "flyte-connector.secretName" -}}
{{- if and .Values.connectorSecret.existingSecret .Values.connectorSecret.secretData -}}
{{- fail "connectorSecret: set secretData or existingSecret, not both" -}}
{{- end -}}
{{- if .Values.connectorSecret.existingSecret -}}
{{- .Values.connectorSecret.existingSecret -}}
{{- else if .Values.connectorSecret.secretData -}}
{{- include "flyte-connector.fullname" . -}}
{{- end -}}
{{- end -}}
