/**
 * What the chart does with its values (issue 12): PDB only above one replica, pods rolled on a
 * config change, a grace period that covers the drain, no service-account token, a non-root pod
 * with a read-only root filesystem, PROXY-protocol annotations for AWS and Aliyun NLBs, services,
 * probes and ports that agree with the rendered portcullis.yaml, and that portcullis.yaml (with the
 * Deployment's environment) is one the gateway's own loader accepts, for every ci scenario.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { configSchema } from '../../src/config/schema'
import { loadConfig } from '../../src/config/load'
import { all, CHART_DIR, ciScenarios, goAvailable, one, podOf, renderChart, type Rendered } from './chart'
import { containerEnv, secretsOf, type SecretData } from './pod'
import { readDockerfile } from './dockerfile'

const file = (name: string): string => ciScenarios().find((s) => s.name === name)?.file ?? `${name}?`
const render = (name: string, ...values: Array<Record<string, unknown>>): Rendered => renderChart({ files: [file(name)], values })

/** The portcullis.yaml the chart renders, parsed as the gateway parses it (YAML 1.2, `yaml`). */
function configOf(rendered: Rendered): Record<string, any> {
  const text = one(rendered, 'ConfigMap').data['portcullis.yaml'] as string
  return parseYaml(text) as Record<string, any>
}

/** Secrets the ci scenarios name in existingSecret (what an operator creates first). */
const EXISTING: SecretData = {
  'portcullis-keys': {
    'master-key': Buffer.alloc(32, 7).toString('base64'),
    'master-key-id': 'mk-test',
    'root-access-key-id': 'PCROOTTEST',
    'root-access-key-secret': 'root-secret-for-tests',
  },
  'redis-auth': { 'redis-password': 'a0b1c2d3e4f5' },
  'portcullis-tls': { 'tls.crt': '', 'tls.key': '' },
}

t.test('a PodDisruptionBudget exists only when more than one replica runs', async (t) => {
  if (!goAvailable(t)) return
  const pdbs = (...values: Array<Record<string, unknown>>): number => all(render('minimal', ...values), 'PodDisruptionBudget').length
  t.equal(pdbs(), 0, 'replicaCount 1: none (it would block every node drain)')
  t.equal(pdbs({ replicaCount: 2 }), 1, 'replicaCount 2: one')
  t.equal(pdbs({ replicaCount: 2, podDisruptionBudget: { enabled: false } }), 0, 'disabled: none')
  t.equal(pdbs({ replicaCount: 5, autoscaling: { enabled: true, minReplicas: 1 } }), 0, 'autoscaling from 1: none (replicaCount is ignored)')
  t.equal(pdbs({ replicaCount: 1, autoscaling: { enabled: true, minReplicas: 2 } }), 1, 'autoscaling from 2: one')
  const rendered = render('minimal', { replicaCount: 3 })
  const pdb = one(rendered, 'PodDisruptionBudget')
  t.same(pdb.spec.maxUnavailable, 1, 'maxUnavailable 1 by default')
  t.same(pdb.spec.selector.matchLabels, one(rendered, 'Deployment').spec.selector.matchLabels, 'it selects the Deployment\'s pods')
  t.same(one(render('minimal', { replicaCount: 3, podDisruptionBudget: { maxUnavailable: null, minAvailable: '50%' } }), 'PodDisruptionBudget').spec, {
    minAvailable: '50%', selector: pdb.spec.selector,
  }, 'minAvailable instead when given')
})

t.test('the pod template\'s checksum follows portcullis.yaml and the chart-made Secret', async (t) => {
  if (!goAvailable(t)) return
  const annotations = (r: Rendered): Record<string, string> => one(r, 'Deployment').spec.template.metadata.annotations
  const base = render('minimal')
  const text = one(base, 'ConfigMap').data['portcullis.yaml'] as string
  t.equal(annotations(base)['checksum/config'], createHash('sha256').update(text.replace(/\n$/, '')).digest('hex'), 'checksum/config is the SHA-256 of the mounted portcullis.yaml')
  t.equal(annotations(render('minimal'))['checksum/config'], annotations(base)['checksum/config'], 'the same values give the same checksum (no roll on a no-op upgrade)')
  t.not(annotations(render('minimal', { config: { log: { level: 'debug' } } }))['checksum/config'], annotations(base)['checksum/config'], 'a config change changes it (the pods roll)')
  t.not(annotations(render('minimal', { shutdown: { readinessDelayMs: 1000, drainTimeoutMs: 20000 } }))['checksum/config'], annotations(base)['checksum/config'], 'so does a value the chart turns into config')
  t.equal(annotations(render('minimal', { service: { type: 'NodePort' } }))['checksum/config'], annotations(base)['checksum/config'], 'a Service change does not roll the pods')
  t.not(annotations(render('minimal', { auth: { rootAccessKeySecret: 'rotated-secret' } }))['checksum/secret'], annotations(base)['checksum/secret'], 'a new root secret in the chart-made Secret rolls them too')
  t.equal(annotations(render('sentinel'))['checksum/secret'], undefined, 'no secret checksum for an existingSecret (the chart cannot read it: no lookup)')
})

t.test('configRollout: reload keeps the pods on a config change and has the gateways re-read the ConfigMap', async (t) => {
  if (!goAvailable(t)) return
  const annotations = (r: Rendered): Record<string, string> => one(r, 'Deployment').spec.template.metadata.annotations
  const config = (r: Rendered): Record<string, any> => parseYaml(one(r, 'ConfigMap').data['portcullis.yaml'] as string) as Record<string, any>
  t.same(config(render('minimal')).reload, { watchFile: false }, 'restart (the default): the file is read at start only')
  const reloading = render('minimal', { configRollout: 'reload' })
  t.equal(annotations(reloading)['checksum/config'], undefined, 'no config checksum: a config change does not roll the pods')
  t.ok(annotations(reloading)['checksum/secret'] !== undefined, 'a Secret change still does')
  t.same(config(reloading).reload, { watchFile: true }, 'each gateway watches its mounted portcullis.yaml')
  t.same(configSchema.parse(config(reloading)).reload, { watchFile: true }, 'which the gateway\'s own schema accepts')
})

t.test('terminationGracePeriodSeconds covers readinessDelayMs + drainTimeoutMs as the gateway reads them', async (t) => {
  if (!goAvailable(t)) return
  const cases: Array<[string, Record<string, unknown>]> = [
    ...ciScenarios().map((s): [string, Record<string, unknown>] => [s.name, {}]),
    ['zero delays', { shutdown: { readinessDelayMs: 0, drainTimeoutMs: 0 } }],
    ['1 ms past a second, no margin', { shutdown: { readinessDelayMs: 1, drainTimeoutMs: 1000 }, terminationGraceExtraSeconds: 0 }],
    ['long drain', { shutdown: { readinessDelayMs: 30000, drainTimeoutMs: 120000 }, terminationGraceExtraSeconds: 0 }],
  ]
  for (const [name, values] of cases) {
    const rendered = renderChart({ files: [ciScenarios().some((s) => s.name === name) ? file(name) : file('minimal')], values: [values] })
    const { shutdown } = configOf(rendered)
    const grace = podOf(rendered).pod.terminationGracePeriodSeconds as number
    t.ok(Number.isInteger(grace) && grace * 1000 >= shutdown.readinessDelayMs + shutdown.drainTimeoutMs,
      `${name}: ${grace} s ≥ ${shutdown.readinessDelayMs} + ${shutdown.drainTimeoutMs} ms`)
  }
  const { shutdown } = configOf(render('minimal', { shutdown: { readinessDelayMs: 4321, drainTimeoutMs: 1234 } }))
  t.same(shutdown, { readinessDelayMs: 4321, drainTimeoutMs: 1234 }, 'shutdown.* reaches portcullis.yaml unchanged')
})

t.test('no service-account token is mounted, and the pod runs non-root on a read-only root filesystem', async (t) => {
  if (!goAvailable(t)) return
  const [runtime] = readDockerfile().slice(-1)
  const [imageUid, imageGid] = (runtime?.instructions.find((i) => i.keyword === 'USER')?.args ?? '').split(':').map(Number)
  for (const { name } of ciScenarios()) {
    const rendered = render(name)
    const { pod, container } = podOf(rendered)
    t.equal(pod.automountServiceAccountToken, false, `${name}: the pod mounts no token`)
    const sa = one(rendered, 'ServiceAccount')
    t.equal(sa.automountServiceAccountToken, false, `${name}: nor does its ServiceAccount by default`)
    t.equal(pod.serviceAccountName, sa.metadata?.name, `${name}: the pod uses the chart's ServiceAccount`)
    t.notOk(all(rendered, 'Role').length + all(rendered, 'RoleBinding').length + all(rendered, 'ClusterRole').length, `${name}: no RBAC (the gateway never calls the API)`)
    t.equal(pod.securityContext.runAsNonRoot, true, `${name}: pod runAsNonRoot`)
    t.equal(container.securityContext.runAsNonRoot, true, `${name}: container runAsNonRoot`)
    t.equal(container.securityContext.readOnlyRootFilesystem, true, `${name}: readOnlyRootFilesystem`)
    t.equal(container.securityContext.allowPrivilegeEscalation, false, `${name}: no privilege escalation`)
    t.same(container.securityContext.capabilities.drop, ['ALL'], `${name}: every capability dropped`)
    t.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault', `${name}: seccomp RuntimeDefault`)
    t.same([container.securityContext.runAsUser, container.securityContext.runAsGroup], [imageUid, imageGid], `${name}: the Dockerfile's USER ${imageUid}:${imageGid}`)
    // Everything the gateway writes must be on a writable volume: the root filesystem is not.
    const config = configOf(rendered)
    const writable = (container.volumeMounts as Array<{ mountPath: string; readOnly?: boolean }>).filter((m) => m.readOnly !== true).map((m) => m.mountPath)
    const writes = [config.store.dataDir, '/tmp', ...(config.tls.certFile === undefined ? [config.tls.devCertsDir] : []),
      ...((config.audit?.sinks ?? []) as Array<{ kind: string; path?: string }>).filter((s) => s.kind === 'file').map((s) => s.path as string)]
    for (const path of writes) {
      t.ok(writable.some((m) => path === m || path.startsWith(`${m}/`)), `${name}: ${path} is on a writable volume`)
    }
  }
})

t.test('PROXY protocol: the listeners, the Service annotations and the NetworkPolicy agree', async (t) => {
  if (!goAvailable(t)) return
  const aws = render('proxy-protocol')
  const config = configOf(aws)
  for (const l of config.listeners as Array<Record<string, any>>) {
    t.same(l.proxyProtocol, { mode: 'required', trustedCidrs: ['10.20.0.0/16'] }, `${l.name}: PROXY header required from the VPC only`)
  }
  const service = one(aws, 'Service', 'release-portcullis')
  const admin = podOf(aws).container.ports.find((p: { name: string }) => p.name === 'admin').containerPort as number
  t.match(service.metadata?.annotations, {
    'service.beta.kubernetes.io/aws-load-balancer-proxy-protocol': '*',
    'service.beta.kubernetes.io/aws-load-balancer-type': 'external',
    'service.beta.kubernetes.io/aws-load-balancer-nlb-target-type': 'ip',
    'service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol': 'HTTP',
    'service.beta.kubernetes.io/aws-load-balancer-healthcheck-port': String(admin),
    'service.beta.kubernetes.io/aws-load-balancer-healthcheck-path': '/readyz',
    'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internet-facing',
  }, 'AWS NLB: PROXY v2 to IP targets, health checked on /readyz at the admin port, the operator\'s own annotation kept')
  t.equal(config.admin.port, admin, 'that admin port is the gateway\'s admin.port')
  const adminRule = one(aws, 'NetworkPolicy').spec.ingress.find((r: any) => r.ports.some((p: any) => p.port === admin))
  t.ok(adminRule.from.some((peer: any) => peer.ipBlock?.cidr === '10.20.0.0/16'), 'the NetworkPolicy lets the balancer\'s health checks reach the admin port')
  t.equal(config.listeners[0].defaultInstance, 'fleet-1', 'listeners.mqtt.defaultInstance reaches the listener')
  t.same(config.networks, [{ cidr: '10.20.0.0/16', vpcId: 'vpc-0a1b2c3d' }], 'config.networks is merged in')

  const aliyun = render('minimal', {
    proxyProtocol: { mode: 'required', trustedCidrs: ['192.168.0.0/16'], loadBalancer: 'aliyun-nlb' },
    service: { type: 'LoadBalancer', annotations: { 'service.beta.kubernetes.io/alibaba-cloud-loadbalancer-zone-maps': 'cn-hangzhou-k:vsw-1,cn-hangzhou-j:vsw-2' } },
  })
  const slb = one(aliyun, 'Service', 'release-portcullis')
  t.equal(slb.spec.loadBalancerClass, 'alibabacloud.com/nlb', 'Aliyun: an NLB, not a CLB')
  t.match(slb.metadata?.annotations, {
    'service.beta.kubernetes.io/alibaba-cloud-loadbalancer-proxy-protocol': 'on',
    'service.beta.kubernetes.io/alibaba-cloud-loadbalancer-ppv2-pvl-vpc-id-enabled': 'on',
    'service.beta.kubernetes.io/alibaba-cloud-loadbalancer-health-check-uri': '/readyz',
    'service.beta.kubernetes.io/alibaba-cloud-loadbalancer-zone-maps': 'cn-hangzhou-k:vsw-1,cn-hangzhou-j:vsw-2',
  }, 'Aliyun NLB: PROXY v2 with the VPC id TLV, health checked on /readyz, zone maps kept')
  const plain = one(render('minimal'), 'Service', 'release-portcullis')
  t.same(plain.metadata?.annotations, undefined, 'no balancer chosen: no annotations')
  t.equal(configOf(render('minimal')).listeners[0].proxyProtocol.mode, 'off', 'and no PROXY header expected')
})

t.test('Services, ports and probes agree with portcullis.yaml', async (t) => {
  if (!goAvailable(t)) return
  for (const { name } of ciScenarios()) {
    const rendered = render(name)
    const config = configOf(rendered)
    const { pod, container } = podOf(rendered)
    const ports = new Map((container.ports as Array<{ name: string; containerPort: number }>).map((p) => [p.name, p.containerPort]))
    const listenerPorts = Object.fromEntries((config.listeners as Array<{ protocol: string; port: number }>).map((l) => [l.protocol, l.port]))
    t.same(listenerPorts, { mqtt: ports.get('mqtt'), amqp: ports.get('amqp') }, `${name}: each listener's port is a container port`)
    t.same([config.admin.host, config.admin.port], ['0.0.0.0', ports.get('admin')], `${name}: the admin API listens on the pod's admin port`)
    t.same([container.livenessProbe.httpGet, container.startupProbe.httpGet, container.readinessProbe.httpGet],
      [{ path: '/healthz', port: 'admin' }, { path: '/healthz', port: 'admin' }, { path: '/readyz', port: 'admin' }], `${name}: liveness/startup on /healthz, readiness on /readyz`)
    const labels = one(rendered, 'Deployment').spec.template.metadata.labels as Record<string, string>
    for (const service of all(rendered, 'Service')) {
      t.match(labels, service.spec.selector, `${name}: Service ${service.metadata?.name} selects the pods`)
      for (const p of service.spec.ports as Array<{ name: string; targetPort: string }>) t.ok(ports.has(p.targetPort), `${name}: ${service.metadata?.name} port ${p.name} targets a container port`)
      if (service.spec.type === 'ClusterIP') t.equal(service.spec.externalTrafficPolicy, undefined, `${name}: no externalTrafficPolicy on a ClusterIP Service (the API refuses it)`)
    }
    const admin = one(rendered, 'Service', 'release-portcullis-admin')
    t.equal(admin.spec.type, 'ClusterIP', `${name}: the admin API is not on the client balancer`)
    t.same(admin.spec.ports.map((p: { name: string }) => p.name), ['admin'], `${name}: the admin Service carries only the admin port`)
    t.notOk(one(rendered, 'Service', 'release-portcullis').spec.ports.some((p: { targetPort: string }) => p.targetPort === 'admin'), `${name}: the client Service does not carry it`)
    t.equal(pod.enableServiceLinks, false, `${name}: no service-link variables (they would look like config to nothing, but clutter the env)`)
  }
  const mqttOnly = render('minimal', { listeners: { amqp: { enabled: false } } })
  t.same(configOf(mqttOnly).listeners.map((l: { name: string }) => l.name), ['mqtts'], 'amqp disabled: one listener')
  t.same(podOf(mqttOnly).container.ports.map((p: { name: string }) => p.name), ['mqtt', 'admin'], 'and no amqp container port')
  t.same(one(mqttOnly, 'Service', 'release-portcullis').spec.ports.map((p: { name: string }) => p.name), ['mqtt'], 'nor Service port')
})

t.test('the store, the secrets and the environment', async (t) => {
  if (!goAvailable(t)) return
  const env = (r: Rendered): Array<Record<string, any>> => podOf(r).container.env
  const minimal = render('minimal')
  t.same(configOf(minimal).store, { kind: 'redis', url: 'redis://redis-master.redis.svc.cluster.local:6379/0', keyPrefix: 'portcullis:', dataDir: '/data' }, 'minimal: the url form')
  const secret = one(minimal, 'Secret')
  t.same(Object.keys(secret.data).sort(), ['master-key', 'master-key-id', 'root-access-key-id', 'root-access-key-secret'], 'the chart-made Secret has the four keys')
  t.same(env(minimal).slice(0, 4).map((e) => [e.name, e.valueFrom.secretKeyRef.name, e.valueFrom.secretKeyRef.key]), [
    ['PORTCULLIS_MASTER_KEY', 'release-portcullis', 'master-key'],
    ['PORTCULLIS_MASTER_KEY_ID', 'release-portcullis', 'master-key-id'],
    ['PORTCULLIS_ROOT_ACCESS_KEY_ID', 'release-portcullis', 'root-access-key-id'],
    ['PORTCULLIS_ROOT_ACCESS_KEY_SECRET', 'release-portcullis', 'root-access-key-secret'],
  ], 'the keys reach the gateway as the variables it reads (src/config/load.ts readSecrets)')
  t.notMatch(one(minimal, 'ConfigMap').data['portcullis.yaml'], /ci-minimal-root-secret|Y2ktb25seS1t/, 'no secret is in the ConfigMap')

  const sentinel = render('sentinel')
  t.same(configOf(sentinel).store, {
    kind: 'redis', keyPrefix: 'portcullis:prod:', dataDir: '/data',
    sentinel: { masterName: 'mymaster', nodes: ['redis-node-0.redis-headless.redis.svc.cluster.local:26379', 'redis-node-1.redis-headless.redis.svc.cluster.local:26379', 'redis-node-2.redis-headless.redis.svc.cluster.local:26379'] },
  }, 'sentinel: the sentinel form, no password in the file')
  t.equal(all(sentinel, 'Secret').length, 0, 'existingSecret: the chart makes no Secret')
  t.ok(env(sentinel).every((e) => e.valueFrom?.secretKeyRef === undefined || ['portcullis-keys', 'redis-auth'].includes(e.valueFrom.secretKeyRef.name)), 'every secret comes from the named Secrets')
  const sentinelEnv = containerEnv(sentinel, EXISTING)
  t.equal(sentinelEnv.get('PORTCULLIS_STORE__SENTINEL__PASSWORD'), 'a0b1c2d3e4f5', 'the Redis password reaches store.sentinel.password through $(REDIS_PASSWORD)')
  t.same(podOf(sentinel).pod.volumes.find((v: { name: string }) => v.name === 'certs').secret.secretName, 'portcullis-tls', 'tls.existingSecret is mounted on /certs')
  t.same([configOf(sentinel).tls.certFile, configOf(sentinel).tls.keyFile], ['/certs/tls.crt', '/certs/tls.key'], 'and is the default server certificate')

  t.same(configOf(render('cluster')).store.cluster, { nodes: ['redis-cluster-0.redis-cluster-headless.redis.svc.cluster.local:6379', 'redis-cluster-1.redis-cluster-headless.redis.svc.cluster.local:6379', 'redis-cluster-2.redis-cluster-headless.redis.svc.cluster.local:6379'] }, 'cluster: the cluster form')
  const clusterPw = containerEnv(render('cluster', { redis: { existingSecret: 'redis-auth' } }), EXISTING)
  t.equal(clusterPw.get('PORTCULLIS_STORE__CLUSTER__PASSWORD'), 'a0b1c2d3e4f5', 'a cluster password goes to store.cluster.password')
  const urlEnv = containerEnv(render('proxy-protocol'), EXISTING)
  t.equal(urlEnv.get('PORTCULLIS_STORE__URL'), 'rediss://:a0b1c2d3e4f5@master.portcullis.abc123.euw1.cache.amazonaws.com:6379', 'url form: the password is put into the URL by the kubelet, not the chart')
})

t.test('HPA, NetworkPolicy and monitoring objects point at what the chart made', async (t) => {
  if (!goAvailable(t)) return
  const cluster = render('cluster')
  const hpa = one(cluster, 'HorizontalPodAutoscaler')
  t.same(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: one(cluster, 'Deployment').metadata?.name }, 'the HPA scales the Deployment')
  t.same([hpa.spec.minReplicas, hpa.spec.maxReplicas], [3, 12])
  t.equal(one(cluster, 'Deployment').spec.replicas, undefined, 'and the Deployment leaves replicas to it')
  t.equal(hpa.spec.behavior.scaleDown.policies[0].value, 1, 'scale-down removes one pod at a time (each closes its sessions)')
  const egress = one(cluster, 'NetworkPolicy').spec.egress as Array<{ ports?: Array<{ port: number }>; to?: unknown[] }>
  t.same(egress.map((r) => (r.ports ?? []).map((p) => p.port)), [[53, 53], [6379], [1883, 5672]], 'allowExternalEgress false: DNS, Redis and the brokers only')
  for (const { name } of ciScenarios()) {
    const np = one(render(name), 'NetworkPolicy')
    const adminPort = podOf(render(name)).container.ports.find((p: { name: string }) => p.name === 'admin').containerPort
    const adminRules = (np.spec.ingress as Array<{ ports: Array<{ port: number }>; from?: unknown[] }>).filter((r) => r.ports.some((p) => p.port === adminPort))
    t.ok(adminRules.length === 1 && (adminRules[0]?.from?.length ?? 0) > 0, `${name}: the admin port is never open to all (its rule has a from)`)
  }

  const monitoring = render('monitoring')
  const sm = one(monitoring, 'ServiceMonitor')
  const adminService = one(monitoring, 'Service', 'release-portcullis-admin')
  t.match(adminService.metadata?.labels, sm.spec.selector.matchLabels, 'the ServiceMonitor selects the admin Service')
  t.notMatch(one(monitoring, 'Service', 'release-portcullis').metadata?.labels, sm.spec.selector.matchLabels, 'and not the client Service')
  t.equal(sm.spec.endpoints[0].port, 'admin', 'on its admin port')
  t.equal(sm.spec.endpoints[0].path, '/metrics')
  const rules = one(monitoring, 'PrometheusRule').spec.groups[0].rules as Array<{ alert: string; expr: string }>
  t.same(rules.map((r) => r.alert), ['PortcullisRejectedConnectionsHigh', 'PortcullisAuditSinkErrors', 'PortcullisStoreDown', 'PortcullisStoreViewStale', 'PortcullisCertificateExpiring', 'PortcullisGatewayBug', 'PortcullisNoReplicaReady'])
  for (const r of rules.slice(0, 5)) t.match(r.expr, /job="release-portcullis-admin", namespace="default"/, `${r.alert} selects this release's targets`)
  const expiring = (o: Record<string, unknown>): string => (one(render('monitoring', o), 'PrometheusRule').spec.groups[0].rules as Array<{ alert: string; expr: string }>)
    .find((r) => r.alert === 'PortcullisCertificateExpiring')?.expr ?? ''
  t.match(expiring({}), /portcullis_certificate_expiry_seconds\{[^}]*\}, "instance_id", "\$1", "exported_instance", .*< 30 \* 86400$/,
    'the certificate expiry rule warns 30 days ahead, reading the Portcullis instance from exported_instance (honorLabels false)')
  t.match(expiring({ metrics: { serviceMonitor: { honorLabels: true }, prometheusRule: { certificateExpiry: { withinDays: 14 } } } }), /"instance_id", "\$1", "instance", .*< 14 \* 86400$/,
    'and from instance with honorLabels, as many days ahead as configured')
  const np = one(monitoring, 'NetworkPolicy')
  t.ok(np.spec.ingress.some((r: { from?: Array<{ namespaceSelector?: unknown }> }) => r.from?.some((p) => p.namespaceSelector !== undefined)), 'the scraper is let through to the admin port')
})

t.test('config takes exactly the gateway\'s top-level keys the chart does not set itself', async (t) => {
  const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8')) as { properties: { config: { properties: Record<string, unknown> } } }
  const chartKeys = ['listeners', 'admin', 'store', 'shutdown', 'reload']
  const allowed = Object.keys(schema.properties.config.properties)
  const gateway = Object.keys(configSchema.shape).filter((k) => k !== 'demo')
  t.same([...allowed, ...chartKeys].sort(), [...gateway, 'tls'].filter((k, i, a) => a.indexOf(k) === i).sort(),
    'values.schema.json config.* + the chart\'s own keys = src/config/schema.ts (demo excepted: it needs the embedded broker)')
})

t.test('every ci scenario\'s portcullis.yaml and environment pass the gateway\'s own config loader', async (t) => {
  if (!goAvailable(t)) return
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-helm-config-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const { name } of ciScenarios()) {
    const rendered = render(name)
    const configFile = join(dir, `${name}.yaml`)
    writeFileSync(configFile, one(rendered, 'ConfigMap').data['portcullis.yaml'] as string)
    const env = Object.fromEntries(containerEnv(rendered, secretsOf(rendered, EXISTING)))
    try {
      const config = loadConfig({ file: configFile, env })
      t.equal(config.store.kind, 'redis', `${name}: loads (store ${Object.keys(config.store).filter((k) => ['url', 'sentinel', 'cluster'].includes(k)).join('')})`)
    } catch (err) {
      t.fail(`${name}: the gateway refuses the rendered config: ${(err as Error).message}`)
    }
  }
})
