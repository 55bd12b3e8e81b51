{{- define "ic.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ic.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "ic.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "ic.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "ic.secretName" -}}
{{- .Values.existingSecret | default (printf "%s-secrets" (include "ic.fullname" .)) -}}
{{- end -}}

{{- define "ic.checks" -}}
{{- if and (not .Values.existingSecret) (not .Values.secrets.redisUrl) (not .Values.redis.bundled.enabled) -}}
{{- fail "Redis: set secrets.redisUrl (recommended), existingSecret with REDIS_URL, or redis.bundled.enabled=true" -}}
{{- end -}}
{{- if and (eq .Values.mode "socket") (not .Values.existingSecret) (not .Values.secrets.slackAppToken) -}}
{{- fail "mode=socket needs secrets.slackAppToken (xapp-…) or an existingSecret with SLACK_APP_TOKEN" -}}
{{- end -}}
{{- if not (has .Values.mode (list "http" "socket")) -}}
{{- fail "mode must be http or socket" -}}
{{- end -}}
{{- end -}}

{{/* Settings shared by the bot and the workers: secrets by reference, the rest as plain values.
A secret only one of them uses (the signing secret, the app token) is given in its own template. */}}
{{- define "ic.env" -}}
{{- $secret := include "ic.secretName" . -}}
- name: SLACK_BOT_TOKEN
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: SLACK_BOT_TOKEN}}
- name: OPENAI_API_KEY
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: OPENAI_API_KEY, optional: true}}
{{- if and .Values.redis.bundled.enabled (not .Values.secrets.redisUrl) (not .Values.existingSecret) }}
- name: REDIS_PASSWORD
  valueFrom: {secretKeyRef: {name: {{ include "ic.redisPasswordSecret" . }}, key: redis-password}}
- name: REDIS_URL
  value: redis://:$(REDIS_PASSWORD)@{{ include "ic.fullname" . }}-redis:6379/0
{{- else }}
- name: REDIS_URL
  valueFrom: {secretKeyRef: {name: {{ $secret }}, key: REDIS_URL}}
{{- end }}
- name: LOG_FORMAT
  value: json
{{- with .Values.slackApiUrl }}
- name: SLACK_API_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.llm.baseUrl }}
- name: OPENAI_BASE_URL
  value: {{ . | quote }}
{{- end }}
- name: LLM_MODEL
  value: {{ .Values.llm.model | quote }}
{{- with .Values.llm.apiVersion }}
- name: OPENAI_API_VERSION
  value: {{ . | quote }}
{{- end }}
{{- with .Values.llm.embeddingsModel }}
- name: EMBEDDINGS_MODEL
  value: {{ . | quote }}
{{- end }}
{{- if .Values.prompts }}
- name: PROMPTS_DIR
  value: /etc/incident-copilot/prompts
{{- end }}
{{- range $k, $v := .Values.env }}
- name: {{ $k }}
  value: {{ $v | quote }}
{{- end }}
{{- end -}}

{{- define "ic.promptsVolume" -}}
{{- if .Values.prompts }}
- name: prompts
  configMap:
    name: {{ include "ic.fullname" . }}-prompts
    items:
    {{- range $path, $_ := .Values.prompts }}
      - key: {{ $path | replace "/" "__" }}
        path: {{ $path }}
    {{- end }}
{{- end }}
{{- end -}}

{{- define "ic.kedaAddress" -}}
{{- if .Values.worker.keda.redisAddress -}}
{{ .Values.worker.keda.redisAddress }}
{{- else if .Values.redis.bundled.enabled -}}
{{ include "ic.fullname" . }}-redis:6379
{{- else -}}
{{- fail "worker.keda.enabled needs worker.keda.redisAddress (host:port of your Redis)" -}}
{{- end -}}
{{- end -}}

{{- define "ic.redisPasswordSecret" -}}
{{ .Values.redis.bundled.passwordSecret | default (printf "%s-redis" (include "ic.fullname" .)) }}
{{- end -}}
