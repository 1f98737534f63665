import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { Metrics } from '../../src/observability/metrics'

const DASHBOARD = join(__dirname, '..', '..', 'deploy', 'grafana', 'portcullis-dashboard.json')

interface Panel {
  title?: string
  type?: string
  datasource?: { type?: string; uid?: string }
  targets?: Array<{ expr?: string }>
}

/** Series names a histogram exposes besides its own name. */
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count']

async function load(): Promise<{ schemaVersion: number; panels: Panel[]; templating: { list: Array<{ name: string; type: string; query?: unknown }> } }> {
  return JSON.parse(await readFile(DASHBOARD, 'utf8'))
}

t.test('the sample Grafana dashboard is a dashboard with a Prometheus datasource variable', async (t) => {
  const dashboard = await load()
  t.ok(dashboard.schemaVersion >= 36, `schemaVersion ${dashboard.schemaVersion}`)
  const variable = dashboard.templating.list.find((v) => v.type === 'datasource')
  t.equal(variable?.query, 'prometheus')
  t.ok(dashboard.panels.length > 0)
  for (const panel of dashboard.panels) {
    t.equal(panel.datasource?.uid, `\${${variable?.name}}`, `${panel.title} uses the datasource variable`)
    t.ok((panel.targets ?? []).length > 0, `${panel.title} has queries`)
  }
})

t.test('every portcullis_ metric the dashboard queries exists, and the key ones are shown', async (t) => {
  const metrics = new Metrics()
  const names = new Set((await metrics.registry.getMetricsAsJSON()).map((m) => m.name))
  const exposed = new Set([...names].flatMap((name) => [name, ...HISTOGRAM_SUFFIXES.map((suffix) => name + suffix)]))
  const dashboard = await load()
  const exprs = [
    ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr ?? '')),
    ...dashboard.templating.list.map((v) => JSON.stringify(v.query ?? '')),
  ]
  const referenced = new Set(exprs.flatMap((expr) => expr.match(/portcullis_[a-z_]+/g) ?? []))
  for (const name of referenced) t.ok(exposed.has(name), `${name} is a metric of src/observability/metrics.ts`)
  for (const wanted of [
    'portcullis_connections_accepted_total', 'portcullis_connections_rejected_total', 'portcullis_connections_active',
    'portcullis_sessions_kicked_total', 'portcullis_bytes_total', 'portcullis_handshake_seconds_bucket',
    'portcullis_ca_certificates', 'portcullis_audit_sink_errors_total', 'portcullis_store_up',
  ]) {
    t.ok(referenced.has(wanted), `the dashboard shows ${wanted}`)
  }
})
