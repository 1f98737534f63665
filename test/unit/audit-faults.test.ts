import { mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { Test } from '../helpers/services'
import { mountTinyDisk } from '../helpers/tiny-disk'
import { AuditLog } from '../../src/audit/audit-log'
import type { AuditEvent, AuditInput } from '../../src/audit/event'
import { FileSink } from '../../src/audit/sinks/file'
import type { AuditSink } from '../../src/audit/sinks/sink'
import { verifyChain, verifyFile } from '../../src/audit/verify'
import { Metrics } from '../../src/observability/metrics'

const event = (i: number): AuditInput => ({
  type: 'admin.instance.create',
  outcome: 'success',
  actor: { kind: 'accessKey', id: 'AK' },
  details: { n: i, padding: 'x'.repeat(200) },
})

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-audit-faults-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

async function lines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8')).split('\n').filter((line) => line !== '')
}

async function sinkErrors(metrics: Metrics, sink: string): Promise<number> {
  const metric = await metrics.registry.getSingleMetric('portcullis_audit_sink_errors_total')?.get()
  return metric?.values.find((v) => v.labels.sink === sink)?.value ?? 0
}

const gapsIn = (events: AuditEvent[]): AuditEvent[] => events.filter((e) => e.type === 'audit.gap')

t.test('a file sink whose directory is removed recreates it and writes there, losing nothing', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'logs', 'audit.jsonl')
  const metrics = new Metrics()
  const log = new AuditLog({ sinks: [await FileSink.open(path)], metrics, lingerMs: 0 })
  log.record(event(0))
  await log.flush()
  await rm(join(dir, 'logs'), { recursive: true, force: true })
  const after = [1, 2, 3].map((i) => log.record(event(i)))
  await log.close()
  const written = (await lines(path)).map((line) => JSON.parse(line) as AuditEvent)
  t.same(written.map((e) => e.id), after.map((e) => e.id), 'the events after the removal are in the recreated file')
  t.equal(await sinkErrors(metrics, 'file'), 0, 'nothing was lost')
  t.same(await verifyFile(path, { firstPrev: 'any' }), { ok: true, count: 3 })
})

t.test('a file sink follows its path: after a rename the next events go to a new file', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'audit.jsonl')
  const log = new AuditLog({ sinks: [await FileSink.open(path)], lingerMs: 0 })
  log.record(event(0))
  await log.flush()
  await rename(path, `${path}.1`)
  log.record(event(1))
  await log.close()
  t.equal((await lines(`${path}.1`)).length, 1, 'the rotated file keeps what it had')
  t.equal((await lines(path)).length, 1, 'the new file gets the next event')
  const both = [...await lines(`${path}.1`), ...await lines(path)]
  t.same(await verifyChain(both), { ok: true, count: 2 }, 'old then new file is one chain')
})

t.test('reopenSinks (SIGHUP) closes the rotated file and opens the path at once', async (t) => {
  const dir = await tempDir(t)
  const path = join(dir, 'audit.jsonl')
  const log = new AuditLog({ sinks: [await FileSink.open(path)], lingerMs: 0 })
  t.teardown(() => log.close())
  log.record(event(0))
  await log.flush()
  await rename(path, `${path}.1`)
  await log.reopenSinks()
  t.ok((await stat(path)).isFile(), 'the path exists again before any event')
  log.record(event(1))
  await log.flush()
  t.equal((await lines(path)).length, 1)
  t.equal((await lines(`${path}.1`)).length, 1)
})

t.test('a sink that cannot recreate its directory counts the loss and writes one audit.gap once back', async (t) => {
  const dir = await tempDir(t)
  const logs = join(dir, 'logs')
  const path = join(logs, 'audit.jsonl')
  const metrics = new Metrics()
  const log = new AuditLog({ sinks: [await FileSink.open(path)], metrics, lingerMs: 0 })
  t.teardown(() => log.close())
  const first = log.record(event(0))
  await log.flush()
  await rm(logs, { recursive: true, force: true })
  await writeFile(logs, 'a file where the directory was') // mkdir now fails (EEXIST/ENOTDIR)
  const lost = [1, 2, 3].map((i) => log.record(event(i)))
  await log.flush()
  t.equal(await sinkErrors(metrics, 'file'), 3, 'every lost event is counted')
  await rm(logs)
  const next = log.record(event(4))
  await log.flush()
  const written = (await lines(path)).map((line) => JSON.parse(line) as AuditEvent)
  t.equal(written.length, 2, 'the gap and the next event')
  const [gap, resumed] = written
  t.match(gap, { type: 'audit.gap', prev: first.hash, details: { sink: 'file', lost: 3, resumeFrom: lost[2]?.hash } })
  t.equal(resumed?.id, next.id)
  t.match(log.stats(), [{ sink: 'file', failed: 3, gaps: 1 }])
  // The whole story of this sink: first file (removed) + the new one verify as one chain with its gap.
  t.same(await verifyChain([JSON.stringify(first), ...await lines(path)]), { ok: true, count: 3, gaps: 1, lost: 3 })
})

t.test('a pending gap is written on its own once the sink is back, without waiting for events', async (t) => {
  let failing = true
  const written: AuditEvent[] = []
  const sink: AuditSink = {
    name: 'flaky',
    write: async (batch) => {
      if (failing) throw Object.assign(new Error('disk full'), { code: 'ENOSPC' })
      written.push(...batch)
    },
    close: async () => undefined,
  }
  const log = new AuditLog({ sinks: [sink], lingerMs: 0 })
  t.teardown(() => log.close())
  log.record(event(0))
  log.record(event(1))
  await log.flush()
  failing = false
  const deadline = Date.now() + 5000
  while (written.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
  t.match(written, [{ type: 'audit.gap', details: { sink: 'flaky', lost: 2 } }], 'the gap alone, within the first retry')
})

t.test('events dropped for a full queue leave a gap event at their place, and the copy verifies', async (t) => {
  let release: () => void = () => undefined
  const gate = new Promise<void>((resolve) => { release = resolve })
  const written: AuditEvent[] = []
  const sink: AuditSink = {
    name: 'slow',
    write: async (batch) => {
      await gate
      written.push(...batch)
    },
    close: async () => undefined,
  }
  const metrics = new Metrics()
  const log = new AuditLog({ sinks: [sink], metrics, queueLimit: 4, batchSize: 2, lingerMs: 0 })
  for (let i = 0; i < 10; i++) log.record(event(i))
  release()
  log.record(event(10))
  await log.close()
  const lost = await sinkErrors(metrics, 'slow')
  t.ok(lost > 0, `${lost} events dropped`)
  const gaps = gapsIn(written)
  t.equal(gaps.reduce((n, g) => n + Number(g.details.lost), 0), lost, 'the gaps account for every dropped event')
  t.match(await verifyChain(written.map((e) => JSON.stringify(e))), { ok: true, lost })
})

t.test('the verifier refuses a gap without a count or a resume hash, and a gap in the wrong place', async (t) => {
  const written: AuditEvent[] = []
  const sink: AuditSink = { name: 'mem', write: async (batch) => { written.push(...batch) }, close: async () => undefined }
  const log = new AuditLog({ sinks: [sink] })
  const events = [0, 1, 2].map((i) => log.record(event(i)))
  await log.close()
  const [e0, e1, e2] = events.map((e) => JSON.stringify(e))
  t.match(await verifyChain([e0 as string, e2 as string]), { ok: false, line: 2, problem: 'prev-mismatch' }, 'a plain gap breaks the chain')
  // A forged gap needs a consistent hash; make one without `lost` by hand.
  const { computeEventHash } = await import('../../src/audit/hash-chain')
  const forged = { ...JSON.parse(e1 as string), type: 'audit.gap', details: { sink: 'x', resumeFrom: events[1]?.hash } }
  forged.hash = computeEventHash(forged)
  t.match(await verifyChain([e0 as string, JSON.stringify(forged), e2 as string]), { ok: false, line: 2, problem: 'unparsable' })
})

t.test('ENOSPC mid-batch leaves no torn line; the gap is recorded and the file verifies', async (t) => {
  const disk = mountTinyDisk(64)
  if (disk === undefined) return void t.pass('needs a tmpfs', { skip: 'cannot mount a tmpfs here (needs root)' })
  t.teardown(() => disk.unmount())
  const path = join(disk.dir, 'audit.jsonl')
  const metrics = new Metrics()
  const log = new AuditLog({ sinks: [await FileSink.open(path)], metrics, lingerMs: 0, batchSize: 8 })
  for (let i = 0; i < 5; i++) log.record(event(i))
  await log.flush()
  disk.fill()
  // A batch far larger than what is left of the file's last page: part of it fits, then ENOSPC.
  for (let i = 5; i < 60; i++) log.record(event(i))
  await log.flush()
  const lost = await sinkErrors(metrics, 'file')
  t.ok(lost > 0, `${lost} events could not be written`)
  const text = await readFile(path, 'utf8')
  t.ok(text.endsWith('\n'), 'the file ends on a whole line')
  for (const line of text.split('\n').filter((l) => l !== '')) JSON.parse(line)
  t.pass('every line is a whole event')
  disk.free()
  log.record(event(60))
  await log.close()
  const result = await verifyFile(path)
  t.match(result, { ok: true, gaps: 1, lost }, 'the file verifies from genesis, its gap counted')
})
