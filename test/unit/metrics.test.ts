import t from 'tap'
import { HANDSHAKE_BUCKETS, Metrics, NO_INSTANCE } from '../../src/observability/metrics'

const NAMES = [
  'portcullis_connections_accepted_total',
  'portcullis_connections_rejected_total',
  'portcullis_connections_active',
  'portcullis_sessions_kicked_total',
  'portcullis_bytes_total',
  'portcullis_handshake_seconds',
  'portcullis_ca_certificates',
  'portcullis_audit_events_total',
  'portcullis_audit_sink_errors_total',
  'portcullis_store_up',
  'portcullis_store_freshness',
]

t.test('renders every DESIGN §3 metric and the Node defaults', async (t) => {
  const metrics = new Metrics()
  const text = await metrics.render()
  for (const name of NAMES) t.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name)
  t.match(text, /^# TYPE process_cpu_user_seconds_total counter/m, 'Node default metrics')
  t.match(metrics.contentType, /^text\/plain/)
})

t.test('typed fields update the rendered series with their labels', async (t) => {
  const metrics = new Metrics()
  metrics.connectionsAccepted.inc({ protocol: 'mqtt', instance: 'inst-1' })
  metrics.connectionsRejected.inc({ protocol: 'amqp', instance: NO_INSTANCE, reason: 'UNKNOWN_INSTANCE' })
  metrics.connectionsActive.inc({ protocol: 'mqtt', instance: 'inst-1' })
  metrics.sessionsKicked.inc({ reason: 'CA_DEACTIVATED' })
  metrics.bytes.inc({ protocol: 'mqtt', direction: 'upstream' }, 1234)
  metrics.handshakeSeconds.observe({ protocol: 'mqtt' }, 0.004)
  metrics.caCertificates.set({ instance: 'inst-1', status: 'ACTIVE' }, 3)
  metrics.storeUp.set(1)
  const text = await metrics.render()
  t.match(text, 'portcullis_connections_accepted_total{protocol="mqtt",instance="inst-1"} 1')
  t.match(text, 'portcullis_connections_rejected_total{protocol="amqp",instance="-",reason="UNKNOWN_INSTANCE"} 1')
  t.match(text, 'portcullis_connections_active{protocol="mqtt",instance="inst-1"} 1')
  t.match(text, 'portcullis_sessions_kicked_total{reason="CA_DEACTIVATED"} 1')
  t.match(text, 'portcullis_bytes_total{protocol="mqtt",direction="upstream"} 1234')
  t.match(text, 'portcullis_handshake_seconds_bucket{le="0.005",protocol="mqtt"} 1')
  t.match(text, 'portcullis_handshake_seconds_bucket{le="0.0025",protocol="mqtt"} 0')
  t.match(text, 'portcullis_ca_certificates{instance="inst-1",status="ACTIVE"} 3')
  t.match(text, /^portcullis_store_up 1$/m)
})

t.test('handshake buckets span 1 ms to 10 s', async (t) => {
  t.equal(HANDSHAKE_BUCKETS[0], 0.001)
  t.equal(HANDSHAKE_BUCKETS[HANDSHAKE_BUCKETS.length - 1], 10)
})

t.test('several Metrics coexist without touching the global registry', async (t) => {
  const a = new Metrics()
  const b = new Metrics()
  a.sessionsKicked.inc({ reason: 'SHUTDOWN' })
  t.match(await a.render(), 'portcullis_sessions_kicked_total{reason="SHUTDOWN"} 1')
  t.notMatch(await b.render(), 'reason="SHUTDOWN"')
  const { register } = await import('prom-client')
  t.equal(register.getSingleMetric('portcullis_store_up'), undefined)
})

t.test('the handshake gate is read on scrape: in flight and the limit now', async (t) => {
  const metrics = new Metrics()
  const gate = { inFlight: 3, limit: 125 }
  metrics.watchHandshakes(gate)
  t.match(await metrics.render(), /^portcullis_handshakes_in_flight 3$/m)
  gate.inFlight = 7
  gate.limit = 40
  const text = await metrics.render()
  t.match(text, /^portcullis_handshakes_in_flight 7$/m)
  t.match(text, /^portcullis_handshake_limit 40$/m)
})
