/**
 * Every ci/*-values.yaml scenario renders, every rendered manifest is one the API server would
 * accept (kubernetes-models' schemas, unknown fields refused, the monitoring CRDs), and
 * values.schema.json accepts every scenario and refuses bad values (issue 12, "Chart tests").
 */
import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { CHART_DIR, ciScenarios, ChartError, goAvailable, renderChart, ROOT, valuesValidator, type K8sObject, type Rendered } from './chart'
import { crdErrors, isBuiltIn, modelErrors, unknownFieldErrors } from './k8s-schemas'

const scenarios = ciScenarios()

t.test('the five issue-12 scenarios exist', async (t) => {
  t.same(scenarios.map((s) => s.name), ['cluster', 'minimal', 'monitoring', 'proxy-protocol', 'sentinel'])
})

t.test('values.schema.json accepts every ci file merged over values.yaml', async (t) => {
  if (!goAvailable(t)) return
  for (const { name, file } of scenarios) {
    let rendered: Rendered | undefined
    try {
      rendered = renderChart({ files: [file] })
    } catch (err) {
      t.fail(`${name}: ${(err as Error).message}`)
      continue
    }
    t.ok(valuesValidator()(rendered.values), `${name}: merged values are valid`)
  }
})

t.test('every ci scenario renders manifests the Kubernetes API accepts', async (t) => {
  if (!goAvailable(t)) return
  const objects: Array<{ scenario: string; object: K8sObject }> = []
  for (const { name, file } of scenarios) {
    const rendered = renderChart({ files: [file] })
    t.ok(rendered.manifests.length >= 6, `${name}: rendered ${rendered.manifests.map((m) => m.object.kind).join(', ')}`)
    t.match(rendered.notes, /admin API/, `${name}: NOTES.txt renders`)
    for (const m of rendered.manifests) objects.push({ scenario: name, object: m.object })
  }
  const builtIn = objects.filter((o) => isBuiltIn(o.object))
  for (const { scenario, object } of builtIn) {
    t.equal(modelErrors(object), undefined, `${scenario}: ${object.kind} ${object.metadata?.name ?? ''} validates (kubernetes-models)`)
  }
  const unknown = unknownFieldErrors(builtIn.map((o) => o.object))
  builtIn.forEach(({ scenario, object }, i) => {
    t.same(unknown[i], [], `${scenario}: ${object.kind} ${object.metadata?.name ?? ''} has no field the API does not define`)
  })
  const custom = objects.filter((o) => !isBuiltIn(o.object))
  t.same(custom.map((o) => o.object.kind).sort(), ['PrometheusRule', 'ServiceMonitor'], 'the only custom resources are the monitoring ones')
  for (const { scenario, object } of custom) {
    t.same(crdErrors(object), [], `${scenario}: ${object.kind} validates against its CRD schema`)
  }
})

t.test('the validators are not vacuous: they refuse broken manifests', async (t) => {
  if (!goAvailable(t)) return
  const rendered = renderChart({ files: [scenarios.find((s) => s.name === 'monitoring')?.file ?? ''] })
  const deployment = structuredClone(rendered.manifests.find((m) => m.object.kind === 'Deployment')?.object) as K8sObject
  deployment.spec.template.spec.containers[0].ports[0].containerPort = '8883'
  t.match(modelErrors(deployment), /containerPort must be integer/, 'a string containerPort is refused')
  const typo = structuredClone(rendered.manifests.find((m) => m.object.kind === 'Deployment')?.object) as K8sObject
  typo.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem = true
  t.equal(modelErrors(typo), undefined, 'kubernetes-models alone lets a misspelt field through…')
  t.match(unknownFieldErrors([typo])[0]?.join('\n'), /readOnlyRootFileSystem/, '…the unknown-field check names it')
  const rule = structuredClone(rendered.manifests.find((m) => m.object.kind === 'PrometheusRule')?.object) as K8sObject
  rule.spec.groups[0].rules[0].fore = '5m'
  rule.spec.groups[0].rules[1].for = 'five minutes'
  const errors = crdErrors(rule)?.join('\n') ?? ''
  t.match(errors, /fore/, 'an unknown rule field is refused')
  t.match(errors, /rules\/1\/for must match pattern/, 'a malformed duration is refused')
})

t.test('values.schema.json refuses bad values, naming them', async (t) => {
  if (!goAvailable(t)) return
  const minimal = scenarios.find((s) => s.name === 'minimal')?.file ?? ''
  const refused = (values: Record<string, unknown>, pattern: RegExp, what: string): void => {
    try {
      renderChart({ files: [minimal], values: [values] })
      t.fail(`${what}: rendered`)
    } catch (err) {
      t.ok(err instanceof ChartError && err.stage === 'schema', `${what}: refused by the schema`)
      t.match((err as Error).message, pattern, `${what}: the message names it`)
    }
  }
  refused({ replicas: 3 }, /additional properties.*\(replicas\)/, 'an unknown top-level key')
  refused({ service: { externalTrafficPolicey: 'Local' } }, /\/service.*\(externalTrafficPolicey\)/, 'a misspelt nested key')
  refused({ replicaCount: 'three' }, /\/replicaCount: must be integer/, 'a wrong type')
  // YAML 1.1, as Helm reads values: an unquoted off is the boolean false.
  refused(parseYaml('proxyProtocol: {mode: off}', { version: '1.1' }) as Record<string, unknown>, /\/proxyProtocol\/mode: must be equal to one of the allowed values/, 'proxyProtocol.mode: off unquoted')
  refused({ proxyProtocol: { mode: 'required', trustedCidrs: [] } }, /\/proxyProtocol\/trustedCidrs: must NOT have fewer than 1 items/, 'PROXY protocol without a trusted source')
  refused({ config: { store: { kind: 'embedded' } } }, /\/config.*\(store\)/, 'config.store (the chart derives it from redis.*)')
  refused({ config: { listeners: [] } }, /\/config.*\(listeners\)/, 'config.listeners (the chart derives them)')
  refused({ auth: { masterKey: 'c2hvcnQ=' } }, /\/auth\/masterKey: must match pattern/, 'a master key that is not 32 bytes')
  refused({ containerPorts: { mqtt: 883 } }, /\/containerPorts\/mqtt: must be >= 1024/, 'a privileged container port')
  refused({ securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: false, allowPrivilegeEscalation: false } }, /\/securityContext\/readOnlyRootFilesystem: must be equal to constant/, 'a writable root filesystem')
  refused({ podDisruptionBudget: { minAvailable: 1, maxUnavailable: 1 } }, /\/podDisruptionBudget: must NOT be valid/, 'both minAvailable and maxUnavailable')
  refused({ redis: { sentinel: { masterName: 'm', nodes: ['sentinel-without-port'] } } }, /\/redis\/sentinel\/nodes\/0: must match pattern/, 'a sentinel node without a port')
})

t.test('the chart refuses at render time what the schema cannot express', async (t) => {
  if (!goAvailable(t)) return
  const minimal = scenarios.find((s) => s.name === 'minimal')?.file ?? ''
  const refused = (values: Array<Record<string, unknown>>, pattern: RegExp, what: string): void => {
    try {
      renderChart({ files: [minimal], values })
      t.fail(`${what}: rendered`)
    } catch (err) {
      t.ok(err instanceof ChartError && err.stage === 'template', `${what}: refused by the templates`)
      t.match((err as Error).message, pattern, `${what}: the message says why`)
    }
  }
  refused([{ redis: { url: '' } }], /set exactly one of redis.url, redis.sentinel.nodes, redis.cluster.nodes \(got: none\)/, 'no store')
  refused([{ redis: { cluster: { nodes: ['r:6379'] } } }], /\(got: url, cluster\)/, 'two store forms')
  refused([{ redis: { url: 'redis://user:pw@r:6379' } }], /must not carry credentials/, 'a password in redis.url')
  refused([{ auth: { rootAccessKeySecret: '' } }], /auth.rootAccessKeySecret is required/, 'a chart-made Secret without the root secret')
  refused([{ listeners: { mqtt: { enabled: false }, amqp: { enabled: false } } }], /enable at least one of listeners/, 'no listener')
  refused([{ autoscaling: { enabled: true, minReplicas: 4, maxReplicas: 3 } }], /minReplicas \(4\) is above autoscaling.maxReplicas \(3\)/, 'an HPA whose minimum is above its maximum')
  refused([{ proxyProtocol: { mode: 'required', trustedCidrs: ['10.0.0.0/8'], loadBalancer: 'aliyun-nlb' }, service: { type: 'LoadBalancer' } }], /zone-maps/, 'Aliyun NLB without zone-maps')
  refused([{ proxyProtocol: { mode: 'off', trustedCidrs: [], loadBalancer: 'aws-nlb' }, service: { type: 'LoadBalancer' } }], /set proxyProtocol.mode to required/, 'a balancer sending PROXY headers to listeners that expect none')
})

t.test('the chart uses nothing the renderer cannot prove (no lookup, no subcharts, no .Files/.Capabilities)', async (t) => {
  const templates = readdirSync(join(CHART_DIR, 'templates'))
  for (const f of templates) {
    const text = readFileSync(join(CHART_DIR, 'templates', f), 'utf8')
    t.notMatch(text, /\blookup\b|\.Files\.|\.Capabilities\./, `${f} uses no lookup, .Files or .Capabilities`)
  }
  t.notOk(readdirSync(CHART_DIR).includes('charts'), 'no subchart directory')
  const chart = parseYaml(readFileSync(join(CHART_DIR, 'Chart.yaml'), 'utf8')) as Record<string, unknown>
  t.equal(chart.dependencies, undefined, 'Chart.yaml declares no dependencies')
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  t.equal(chart.appVersion, pkg.version, 'appVersion is the package version (the default image tag)')
})
