import { PassThrough } from 'node:stream'
import t from 'tap'
import { AuditLog } from '../../src/audit/audit-log'
import { StdoutSink } from '../../src/audit/sinks/stdout'
import { verifyChain } from '../../src/audit/verify'

const input = {
  type: 'session.kicked',
  outcome: 'success',
  reason: 'ADMIN_KICK',
  actor: { kind: 'accessKey', id: 'AK' },
  details: { connId: 'c1', padding: 'x'.repeat(200) },
} as const

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

t.test('writes one verifiable JSON line per event', async (t) => {
  const stream = new PassThrough()
  const chunks: string[] = []
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()))
  const log = new AuditLog({ sinks: [new StdoutSink({ stream })] })
  for (let i = 0; i < 3; i++) log.record(input)
  await log.close()
  const lines = chunks.join('').split('\n')
  t.equal(lines.pop(), '', 'every line ends with a newline')
  t.same(await verifyChain(lines), { ok: true, count: 3 })
})

t.test('waits for drain when the reader is slow, holding at most the queue bound', async (t) => {
  const stream = new PassThrough({ highWaterMark: 64 })
  const log = new AuditLog({ sinks: [new StdoutSink({ stream })], queueLimit: 20, batchSize: 5 })
  for (let i = 0; i < 50; i++) {
    log.record(input)
    await tick()
  }
  const [stats] = log.stats()
  t.equal(stats?.written, 0, 'the first write reported a full buffer and waits for a drain')
  t.equal(stats?.held, 20, 'the rest is held up to the bound')
  t.equal(stats?.dropped, 30, 'beyond the bound, events are dropped and counted')

  const received: string[] = []
  stream.on('data', (chunk: Buffer) => received.push(chunk.toString()))
  await log.flush(1000)
  t.match(log.stats()[0], { held: 0, written: 20 }, 'reading the stream drains the queue')
  const lines = received.join('').split('\n').filter((l) => l !== '')
  t.equal(lines.length, 21, 'what was held is written after the drain, and one audit.gap for what was not')
  t.equal(lines.filter((l) => (JSON.parse(l) as { type: string }).type === 'audit.gap').length, 1)
  t.same(await verifyChain(lines), { ok: true, count: 21, gaps: 1, lost: 30 }, 'in order; the gap event says how many this copy lost')
  await log.close()
})
