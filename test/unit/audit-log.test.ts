import { Writable } from 'node:stream'
import pino from 'pino'
import t from 'tap'
import { AuditLog } from '../../src/audit/audit-log'
import type { AuditEvent, AuditInput } from '../../src/audit/event'
import { PartialWriteError, type AuditSink } from '../../src/audit/sinks/sink'
import { verifyChain } from '../../src/audit/verify'
import { Metrics } from '../../src/observability/metrics'

/** A sink that keeps what it is given. */
class MemorySink implements AuditSink {
  readonly events: AuditEvent[] = []
  readonly batches: number[] = []
  closed = false
  constructor(readonly name = 'memory') {}
  async write(batch: AuditEvent[]): Promise<void> {
    this.batches.push(batch.length)
    this.events.push(...batch)
  }
  async close(): Promise<void> {
    this.closed = true
  }
}

/** A sink whose writes never settle: a hung disk or network. */
class StuckSink implements AuditSink {
  readonly name = 'stuck'
  writes = 0
  write(): Promise<void> {
    this.writes++
    return new Promise(() => undefined)
  }
  close(): Promise<void> {
    return new Promise(() => undefined)
  }
}

const accepted = (i = 0): AuditInput => ({
  type: 'connection.accepted',
  instanceId: 'inst-1',
  protocol: 'amqp',
  outcome: 'success',
  actor: { kind: 'client', id: `user-${i}` },
  source: { ip: '192.0.2.7', port: 50000, vpcId: 'vpc-1' },
  details: { n: i },
})

async function counterValue(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = await metrics.registry.getSingleMetric(name)?.get()
  const found = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))
  return found?.value ?? 0
}

/** A pino logger whose lines are collected, to check what is (not) logged. */
function capturingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = []
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString())
      done()
    },
  })
  return { logger: pino({ level: 'info' }, stream), lines }
}

t.test('records an event with id, time, chain links and only the fields given', async (t) => {
  const log = new AuditLog({ sinks: [] })
  const first = log.record(accepted(1))
  const second = log.record({ type: 'admin.instance.create', outcome: 'success', actor: { kind: 'system' } })
  t.match(first.id, /^[0-9a-f-]{36}$/)
  t.equal(new Date(first.time).toISOString(), first.time)
  t.equal(second.prev, first.hash)
  t.same(Object.keys(second), ['id', 'time', 'type', 'outcome', 'actor', 'details', 'prev', 'hash'])
  t.same(first.source, { ip: '192.0.2.7', port: 50000, vpcId: 'vpc-1' })
  t.same(await verifyChain([first, second].map((e) => JSON.stringify(e))), { ok: true, count: 2 })
})

t.test('redacts secret-named keys in details and actor at any depth, case-insensitively', async (t) => {
  const sink = new MemorySink()
  const log = new AuditLog({ sinks: [sink] })
  const event = log.record({
    type: 'admin.accessKey.create',
    outcome: 'success',
    actor: { kind: 'accessKey', id: 'AK1', Authorization: 'PORTCULLIS-HMAC-SHA1 AK1:sig' },
    details: {
      accessKeyId: 'AK2',
      AccessKeySecret: 'shh',
      after: { backend: { username: 'u', PASSWORD: 'p' }, serverCertificate: { certificate: 'PEM', privateKey: 'KEY' } },
      list: [{ securityToken: 'sts' }, { secret_sign: 'x' }],
      when: new Date(0),
      big: 10n,
    },
  })
  await log.flush()
  t.same(event.details, {
    accessKeyId: 'AK2',
    AccessKeySecret: '[REDACTED]',
    after: { backend: { username: 'u', PASSWORD: '[REDACTED]' }, serverCertificate: { certificate: 'PEM', privateKey: '[REDACTED]' } },
    list: [{ securityToken: '[REDACTED]' }, { secret_sign: '[REDACTED]' }],
    when: '1970-01-01T00:00:00.000Z',
    big: '10',
  })
  t.same(event.actor, { kind: 'accessKey', id: 'AK1', Authorization: '[REDACTED]' })
  const written = JSON.stringify(sink.events)
  for (const secret of ['shh', '"p"', 'KEY', 'sts', 'HMAC']) t.notOk(written.includes(secret), `${secret} not written`)
})

t.test('details JSON cannot hold (a cycle) do not make record throw', async (t) => {
  const log = new AuditLog({ sinks: [] })
  const cyclic: Record<string, unknown> = {}
  cyclic['self'] = cyclic
  const event = log.record({ ...accepted(), details: cyclic })
  t.same(event.details, { unserializable: true })
})

t.test('every sink gets every event in order, batched', async (t) => {
  const a = new MemorySink('a')
  const b = new MemorySink('b')
  const log = new AuditLog({ sinks: [a, b], batchSize: 50 })
  const ids = Array.from({ length: 120 }, (_, i) => log.record(accepted(i)).id)
  await log.flush()
  t.same(a.events.map((e) => e.id), ids)
  t.same(b.events.map((e) => e.id), ids)
  t.same(a.batches, [50, 50, 20], 'a burst becomes a few batched writes')
  await log.close()
  t.ok(a.closed && b.closed)
})

t.test('events recorded close together share one sink write; a full batch does not wait', async (t) => {
  const sink = new MemorySink()
  const log = new AuditLog({ sinks: [sink], batchSize: 8, lingerMs: 200 })
  for (let i = 0; i < 3; i++) {
    log.record(accepted(i))
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.same(sink.batches, [], 'nothing written while the first event lingers')
  for (let i = 3; i < 11; i++) log.record(accepted(i))
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(sink.batches, [8, 3], 'the full batch went on the next turn, the rest with it')
  log.record(accepted(11))
  const started = Date.now()
  await log.flush()
  t.ok(Date.now() - started >= 150, 'a lone event waits out the linger')
  t.same(sink.batches, [8, 3, 1])
  await log.close()
})

t.test('a stuck sink drops and counts beyond its bound while record stays fast', async (t) => {
  const metrics = new Metrics()
  const stuck = new StuckSink()
  const healthy = new MemorySink()
  const log = new AuditLog({ sinks: [stuck, healthy], metrics, queueLimit: 100, closeTimeoutMs: 50 })
  let recordNs = 0n
  // Bursts of 50 with a turn of the event loop between, as traffic would: the healthy sink keeps up.
  for (let burst = 0; burst < 100; burst++) {
    const started = process.hrtime.bigint()
    for (let i = 0; i < 50; i++) log.record(accepted(burst * 50 + i))
    recordNs += process.hrtime.bigint() - started
    await new Promise((resolve) => setImmediate(resolve))
  }
  const perRecordUs = Number(recordNs) / 1000 / 5000
  t.ok(perRecordUs < 200, `record took ${perRecordUs.toFixed(1)} µs on average`)
  await log.flush(50)
  t.equal(stuck.writes, 1, 'one write in flight, never settled')
  t.match(log.stats(), [
    { sink: 'stuck', held: 100, dropped: 4900 },
    { sink: 'memory', held: 0, dropped: 0, written: 5000 },
  ])
  t.equal(await counterValue(metrics, 'portcullis_audit_sink_errors_total', { sink: 'stuck' }), 4900)
  t.equal(await counterValue(metrics, 'portcullis_audit_events_total', { type: 'connection.accepted' }), 5000)
  t.equal(healthy.events.length, 5000, 'the healthy sink is unaffected')

  const closing = Date.now()
  await log.close()
  t.ok(Date.now() - closing < 1000, 'close gives up on the stuck sink after its deadline')
})

t.test('a failing sink is counted and logged without event details, never thrown', async (t) => {
  const metrics = new Metrics()
  const { logger, lines } = capturingLogger()
  const failing: AuditSink = {
    name: 'failing',
    write: async (batch) => {
      throw new PartialWriteError(batch.length - 1, 'disk full')
    },
    close: async () => undefined,
  }
  const log = new AuditLog({ sinks: [failing], metrics, logger })
  for (let i = 0; i < 3; i++) log.record({ ...accepted(i), details: { marker: 'do-not-log-me' } })
  await log.flush()
  t.equal(await counterValue(metrics, 'portcullis_audit_sink_errors_total', { sink: 'failing' }), 2)
  t.match(log.stats(), [{ sink: 'failing', failed: 2, written: 1 }])
  const warnings = lines.filter((line) => line.includes('audit events lost'))
  t.equal(warnings.length, 1)
  t.match(warnings[0], /"sink":"failing"/)
  t.notOk(lines.join('').includes('do-not-log-me'))
})

t.test('recent filters the in-memory ring by time, type, instance and limit', async (t) => {
  const log = new AuditLog({ sinks: [], recentSize: 5 })
  for (let i = 0; i < 7; i++) log.record({ ...accepted(i), instanceId: i % 2 === 0 ? 'even' : 'odd' })
  log.record({ type: 'admin.ca.register', outcome: 'success', actor: { kind: 'accessKey', id: 'AK' }, instanceId: 'even' })
  const all = log.recent({ limit: 100 })
  t.equal(all.length, 5, 'bounded by the ring size')
  t.same(all.map((e) => e.details['n']), [3, 4, 5, 6, undefined], 'oldest first')
  t.same(log.recent({ instanceId: 'odd' }).map((e) => e.details['n']), [3, 5])
  t.same(log.recent({ type: 'admin.*' }).map((e) => e.type), ['admin.ca.register'])
  t.same(log.recent({ type: 'connection.accepted', limit: 2 }).map((e) => e.details['n']), [5, 6])
  t.same(log.recent({ until: '2000-01-01T00:00:00Z' }), [])
  t.equal(log.recent({ since: '2000-01-01T00:00:00Z' }).length, 5)
  t.throws(() => log.recent({ since: 'yesterday' }), { code: 'VALIDATION_FAILED' })
})

t.test('subscribers see each event; a throwing one harms nobody; unsubscribe stops delivery', async (t) => {
  const log = new AuditLog({ sinks: [] })
  const seen: string[] = []
  log.subscribe(() => {
    throw new Error('bad listener')
  })
  const stop = log.subscribe((e) => seen.push(e.id))
  const first = log.record(accepted())
  stop()
  log.record(accepted())
  t.same(seen, [first.id])
})

t.test('the chain starts from an explicit prev or a sink chain head', async (t) => {
  const head = 'a'.repeat(64)
  const fromSink = new AuditLog({ sinks: [Object.assign(new MemorySink(), { chainHead: head })] })
  t.equal(fromSink.record(accepted()).prev, head)
  const explicit = new AuditLog({ sinks: [], prev: 'b'.repeat(64) })
  t.equal(explicit.record(accepted()).prev, 'b'.repeat(64))
})

t.test('events recorded after close are counted as lost, not thrown', async (t) => {
  const metrics = new Metrics()
  const sink = new MemorySink()
  const log = new AuditLog({ sinks: [sink], metrics })
  await log.close()
  t.doesNotThrow(() => log.record(accepted()))
  t.equal(await counterValue(metrics, 'portcullis_audit_sink_errors_total', { sink: 'memory' }), 1)
})
