{{/*
Names and labels (the conventions of bitnami's and ingress-nginx's charts).
*/}}
{{- define "portcullis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "portcullis.fullname" -}}
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

{{/* The admin Service's name; also the Prometheus `job` label of its targets. */}}
{{- define "portcullis.adminServiceName" -}}
{{- printf "%s-admin" (include "portcullis.fullname" . | trunc 57 | trimSuffix "-") -}}
{{- end -}}

{{- define "portcullis.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "portcullis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portcullis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "portcullis.labels" -}}
helm.sh/chart: {{ include "portcullis.chart" . }}
{{ include "portcullis.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: portcullis
{{- end -}}

{{- define "portcullis.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "portcullis.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "portcullis.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding master-key, master-key-id, root-access-key-id, root-access-key-secret. */}}
{{- define "portcullis.secretName" -}}
{{- default (include "portcullis.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{/* Replicas that will run at least: a PodDisruptionBudget only makes sense above one. */}}
{{- define "portcullis.minReplicas" -}}
{{- if .Values.autoscaling.enabled -}}
{{- int .Values.autoscaling.minReplicas -}}
{{- else -}}
{{- int .Values.replicaCount -}}
{{- end -}}
{{- end -}}

{{/* Whole seconds the kubelet waits after SIGTERM: readiness delay + drain + margin, rounded up. */}}
{{- define "portcullis.terminationGracePeriodSeconds" -}}
{{- $ms := add (int .Values.shutdown.readinessDelayMs) (int .Values.shutdown.drainTimeoutMs) -}}
{{- add (div (add $ms 999) 1000) (int .Values.terminationGraceExtraSeconds) -}}
{{- end -}}

{{/*
Which form of store the redis.* values name; exactly one (DESIGN §4 "Production": `store: {kind:
redis, url}` | `{…, sentinel: {masterName, nodes}}` | `{…, cluster: {nodes}}`).
*/}}
{{- define "portcullis.redisForm" -}}
{{- $forms := list -}}
{{- if .Values.redis.url -}}{{- $forms = append $forms "url" -}}{{- end -}}
{{- if .Values.redis.sentinel.nodes -}}{{- $forms = append $forms "sentinel" -}}{{- end -}}
{{- if .Values.redis.cluster.nodes -}}{{- $forms = append $forms "cluster" -}}{{- end -}}
{{- if ne (len $forms) 1 -}}
{{- fail (printf "set exactly one of redis.url, redis.sentinel.nodes, redis.cluster.nodes (got: %s)" (join ", " $forms | default "none")) -}}
{{- end -}}
{{- first $forms -}}
{{- end -}}

{{/* The store section of portcullis.yaml. Passwords never go here: see portcullis.redisEnv. */}}
{{- define "portcullis.store" -}}
{{- $form := include "portcullis.redisForm" . -}}
{{- $store := dict "kind" "redis" "keyPrefix" .Values.redis.keyPrefix "dataDir" "/data" -}}
{{- if eq $form "url" -}}
{{- $u := urlParse .Values.redis.url -}}
{{- if not (has $u.scheme (list "redis" "rediss")) -}}
{{- fail (printf "redis.url must be redis:// or rediss://, got %q" .Values.redis.url) -}}
{{- end -}}
{{- if $u.userinfo -}}
{{- fail "redis.url must not carry credentials: put the password in redis.existingSecret" -}}
{{- end -}}
{{- $_ := set $store "url" .Values.redis.url -}}
{{- else if eq $form "sentinel" -}}
{{- $_ := set $store "sentinel" (dict "masterName" (required "redis.sentinel.masterName is required with redis.sentinel.nodes" .Values.redis.sentinel.masterName) "nodes" .Values.redis.sentinel.nodes) -}}
{{- else -}}
{{- $_ := set $store "cluster" (dict "nodes" .Values.redis.cluster.nodes) -}}
{{- end -}}
{{- toYaml $store -}}
{{- end -}}

{{/* One listener of portcullis.yaml. */}}
{{- define "portcullis.listener" -}}
{{- $root := index . 0 -}}
{{- $protocol := index . 1 -}}
{{- $values := index $root.Values.listeners $protocol -}}
{{- $listener := dict "name" (printf "%ss" $protocol) "protocol" $protocol "host" "0.0.0.0" "port" (int (index $root.Values.containerPorts $protocol)) "tls" $values.tls -}}
{{- $_ := set $listener "proxyProtocol" (dict "mode" $root.Values.proxyProtocol.mode "trustedCidrs" $root.Values.proxyProtocol.trustedCidrs) -}}
{{- with $values.defaultInstance -}}
{{- $_ := set $listener "defaultInstance" . -}}
{{- end -}}
{{- toYaml $listener -}}
{{- end -}}

{{/*
portcullis.yaml: `config` merged under what the chart derives from its other values (the chart's
keys win; values.schema.json refuses them in `config` anyway).
*/}}
{{- define "portcullis.config" -}}
{{- $listeners := list -}}
{{- range $protocol := list "mqtt" "amqp" -}}
{{- if (index $.Values.listeners $protocol).enabled -}}
{{- $listeners = append $listeners (include "portcullis.listener" (list $ $protocol) | fromYaml) -}}
{{- end -}}
{{- end -}}
{{- if not $listeners -}}
{{- fail "listeners: enable at least one of listeners.mqtt, listeners.amqp" -}}
{{- end -}}
{{- $tls := dict "devCertsDir" "/certs" -}}
{{- if .Values.tls.existingSecret -}}
{{- $tls = dict "certFile" "/certs/tls.crt" "keyFile" "/certs/tls.key" "devCertsDir" "/certs" -}}
{{- end -}}
{{- $chart := dict
  "listeners" $listeners
  "admin" (dict "host" "0.0.0.0" "port" (int .Values.containerPorts.admin))
  "store" (include "portcullis.store" . | fromYaml)
  "tls" $tls
  "shutdown" (dict "readinessDelayMs" (int .Values.shutdown.readinessDelayMs) "drainTimeoutMs" (int .Values.shutdown.drainTimeoutMs))
  "reload" (dict "watchFile" (eq .Values.configRollout "reload"))
-}}
{{- toYaml (mergeOverwrite (dict) (deepCopy .Values.config) $chart) -}}
{{- end -}}

{{/*
Environment from Secrets: the gateway reads these names (src/config/load.ts readSecrets). A Redis
password reaches the store config through a PORTCULLIS_STORE__* override, never the ConfigMap.
*/}}
{{- define "portcullis.env" -}}
{{- $secret := include "portcullis.secretName" . -}}
{{- $keys := list (list "PORTCULLIS_MASTER_KEY" "master-key") (list "PORTCULLIS_MASTER_KEY_ID" "master-key-id") (list "PORTCULLIS_ROOT_ACCESS_KEY_ID" "root-access-key-id") (list "PORTCULLIS_ROOT_ACCESS_KEY_SECRET" "root-access-key-secret") -}}
{{- range $keys }}
- name: {{ index . 0 }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ index . 1 }}
{{- end }}
{{- if .Values.redis.existingSecret }}
{{- $form := include "portcullis.redisForm" . }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.existingSecretPasswordKey }}
{{- if eq $form "url" }}
{{- $u := urlParse .Values.redis.url }}
{{- /* Kubernetes expands $(REDIS_PASSWORD), defined just above; the password must be URL-safe. */}}
- name: PORTCULLIS_STORE__URL
  value: {{ printf "%s://:$(REDIS_PASSWORD)@%s%s%s" $u.scheme $u.host $u.path (ternary (printf "?%s" $u.query) "" (ne $u.query "")) | quote }}
{{- else }}
{{- /* sentinel: the data nodes' and the sentinels' password; cluster: every node's. */}}
- name: {{ printf "PORTCULLIS_STORE__%s__PASSWORD" (upper $form) }}
  value: "$(REDIS_PASSWORD)"
{{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Annotations the chosen balancer needs for PROXY protocol and for health checks on /readyz. */}}
{{- define "portcullis.loadBalancerAnnotations" -}}
{{- $admin := printf "%d" (int .Values.containerPorts.admin) -}}
{{- if eq .Values.proxyProtocol.loadBalancer "aws-nlb" -}}
service.beta.kubernetes.io/aws-load-balancer-type: external
service.beta.kubernetes.io/aws-load-balancer-nlb-target-type: ip
service.beta.kubernetes.io/aws-load-balancer-proxy-protocol: "*"
service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol: HTTP
service.beta.kubernetes.io/aws-load-balancer-healthcheck-port: {{ $admin | quote }}
service.beta.kubernetes.io/aws-load-balancer-healthcheck-path: /readyz
{{- else if eq .Values.proxyProtocol.loadBalancer "aliyun-nlb" -}}
service.beta.kubernetes.io/alibaba-cloud-loadbalancer-proxy-protocol: "on"
service.beta.kubernetes.io/alibaba-cloud-loadbalancer-ppv2-pvl-vpc-id-enabled: "on"
service.beta.kubernetes.io/alibaba-cloud-loadbalancer-health-check-flag: "on"
service.beta.kubernetes.io/alibaba-cloud-loadbalancer-health-check-type: http
service.beta.kubernetes.io/alibaba-cloud-loadbalancer-health-check-connect-port: {{ $admin | quote }}
service.beta.kubernetes.io/alibaba-cloud-loadbalancer-health-check-uri: /readyz
{{- end -}}
{{- end -}}

{{/* bitnami's common.tplvalues.render: a value that may itself hold template text. */}}
{{- define "portcullis.tplvalues" -}}
{{- if typeIs "string" .value -}}
{{- tpl .value .context -}}
{{- else -}}
{{- tpl (toYaml .value) .context -}}
{{- end -}}
{{- end -}}
