{{/*
Egress, one rule per destination the values name, its port read from the URL (else the scheme's).
A single-label host or svc.namespace.svc[.cluster.local] is reached in its namespace only; an IP
address as itself; svc.namespace (which could also be a public name such as slack.com) in that
namespace or anywhere; any other host anywhere: always on its port only (NetworkPolicy cannot match
DNS names).
*/}}

{{- define "ic.destinations" -}}
{{- $d := list (dict "url" (.Values.slackApiUrl | default "https://slack.com/api/") "what" "Slack") -}}
{{- with .Values.secrets.redisUrl }}{{ $d = append $d (dict "url" . "what" "Redis") }}{{ end -}}
{{- if .Values.llm.baseUrl }}
{{- $d = append $d (dict "url" .Values.llm.baseUrl "what" "LLM") -}}
{{- else if .Values.secrets.openaiApiKey }}
{{- $d = append $d (dict "url" "https://api.openai.com/v1" "what" "LLM") -}}
{{- end -}}
{{- with .Values.prometheusUrl }}{{ $d = append $d (dict "url" . "what" "Prometheus") }}{{ end -}}
{{- if .Values.logSources }}
{{- range (fromYaml .Values.logSources).sources }}
{{- if .url }}{{ $d = append $d (dict "url" .url "what" (printf "log source %s" .name)) }}{{ end -}}
{{- if eq .type "cloudwatch" }}
{{- $cw := .endpoint_url | default (printf "https://logs.%s.amazonaws.com" (.region | default "us-east-1")) -}}
{{- $d = append $d (dict "url" $cw "what" (printf "log source %s" .name)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range .Values.networkPolicy.destinations }}{{ $d = append $d (dict "url" . "what" "destination") }}{{ end -}}
{{- toJson $d -}}
{{- end -}}

{{- define "ic.needsKubernetesApi" -}}
{{- $need := .Values.executors.kubernetes.inCluster -}}
{{- if .Values.logSources }}{{ range (fromYaml .Values.logSources).sources }}{{ if eq .type "kubernetes" }}{{ $need = true }}{{ end }}{{ end }}{{ end -}}
{{- if $need }}yes{{ end -}}
{{- end -}}

{{- define "ic.egressRule" -}}
{{- $u := urlParse .url -}}
{{- if $u.host }}
{{- $defaults := dict "http" 80 "https" 443 "redis" 6379 "rediss" 6379 -}}
{{- $hostport := splitList ":" $u.host -}}
{{- $name := first $hostport | trimSuffix "." -}}
{{- $port := get $defaults $u.scheme | default 443 -}}
{{- if gt (len $hostport) 1 }}{{ $port = last $hostport | int }}{{ end -}}
{{- $labels := splitList "." $name -}}
- to:  # {{ .what }}: {{ $u.host }}
{{- if regexMatch "^[0-9.]+$" $name }}
    - ipBlock: {cidr: {{ $name }}/32}
{{- else if eq (len $labels) 1 }}
    - podSelector: {}
{{- else if has "svc" $labels }}
    - namespaceSelector:
        matchLabels: {kubernetes.io/metadata.name: {{ index $labels 1 }}}
{{- else if eq (len $labels) 2 }}
    - namespaceSelector:  # svc.namespace, or a public host such as slack.com: both on this port
        matchLabels: {kubernetes.io/metadata.name: {{ index $labels 1 }}}
    - ipBlock: {cidr: 0.0.0.0/0}
{{- else }}
    - ipBlock: {cidr: 0.0.0.0/0}
{{- end }}
  ports:
    - {port: {{ $port }}, protocol: TCP}
{{- end }}
{{- end -}}
