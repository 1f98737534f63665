import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { Test } from '../helpers/services'
import { AuditLog } from '../../src/audit/audit-log'
import { GENESIS_PREV, type AuditEvent, type AuditInput } from '../../src/audit/event'
import { createAuditSinks } from '../../src/audit/sinks'
import { FileSink } from '../../src/audit/sinks/file'
import { verifyFile } from '../../src/audit/verify'

const closed = (i: number): AuditInput => ({
  type: 'connection.closed',
  instanceId: 'inst-1',
  protocol: 'mqtt',
  outcome: 'success',
  reason: 'CLIENT_CLOSED',
  actor: { kind: 'client', id: `dev-${i}` },
  details: { bytesUpstream: i, bytesDownstream: 2 * i, durationMs: 10 },
})

async function tempPath(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-audit-file-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return join(dir, 'nested', 'deeper', 'audit.jsonl')
}

async function readEvents(path: string): Promise<AuditEvent[]> {
  const text = await readFile(path, 'utf8')
  return text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as AuditEvent)
}

t.test('appends JSON lines to a new file in a new directory', async (t) => {
  const path = await tempPath(t)
  const sink = await FileSink.open(path)
  t.equal(sink.chainHead, undefined, 'a new file starts a new chain')
  const log = new AuditLog({ sinks: [sink] })
  const recorded = [0, 1, 2].map((i) => log.record(closed(i)))
  await log.close()
  const text = await readFile(path, 'utf8')
  t.ok(text.endsWith('\n'))
  t.same(await readEvents(path), recorded)
  t.equal(recorded[0]?.prev, GENESIS_PREV)
})

t.test('batches of every size are written whole, each exactly once, in order', async (t) => {
  const path = await tempPath(t)
  const sink = await FileSink.open(path)
  const log = new AuditLog({ sinks: [] })
  // A big batch, a small one after it, one with multi-byte text, a middling one and a small one
  // again: each batch's lines, nothing of an earlier batch, in the order written.
  const batches = [400, 1, 2, 60, 1].map((n, b) => Array.from({ length: n }, (_, i) =>
    log.record({ ...closed(i), actor: { kind: 'client', id: b === 2 ? `dévice-日本-${i}` : `dev-${b}-${i}` }, details: { pad: 'x'.repeat(b === 0 ? 1000 : 10) } })))
  for (const batch of batches) await sink.write(batch)
  await sink.close()
  t.same(await readEvents(path), batches.flat())
  t.ok((await verifyFile(path)).ok, 'the file verifies as one chain')
})

t.test('the chain continues across a reopen, so the whole file verifies', async (t) => {
  const path = await tempPath(t)
  const first = new AuditLog({ sinks: [await FileSink.open(path)] })
  for (let i = 0; i < 3; i++) first.record(closed(i))
  const lastOfFirst = first.record(closed(3))
  await first.close()

  const reopened = await FileSink.open(path)
  t.equal(reopened.chainHead, lastOfFirst.hash, 'the last line is the chain head')
  const second = new AuditLog({ sinks: [reopened] })
  t.equal(second.record(closed(4)).prev, lastOfFirst.hash)
  second.record(closed(5))
  await second.close()

  t.equal((await readEvents(path)).length, 6)
  t.same(await verifyFile(path), { ok: true, count: 6 })
})

t.test('after a torn last line the chain continues from the last whole event', async (t) => {
  const path = await tempPath(t)
  const first = new AuditLog({ sinks: [await FileSink.open(path)] })
  const last = first.record(closed(0))
  await first.close()
  await appendFile(path, '{"id":"torn-by-a-cra')

  const reopened = await FileSink.open(path)
  t.equal(reopened.chainHead, last.hash)
  const second = new AuditLog({ sinks: [reopened] })
  second.record(closed(1))
  await second.close()

  const lines = (await readFile(path, 'utf8')).split('\n')
  t.equal(lines[1], '{"id":"torn-by-a-cra', 'the torn line stays one line of its own')
  t.same(await verifyFile(path), { ok: false, line: 2, problem: 'unparsable' }, 'verify reports the torn line')
})

t.test('createAuditSinks opens configured sinks with unique names', async (t) => {
  const path = await tempPath(t)
  const sinks = await createAuditSinks([
    { kind: 'file', path },
    { kind: 'file', path: `${path}.2` },
  ])
  t.same(sinks.map((s) => s.name), ['file', 'file#2'])
  await Promise.all(sinks.map((s) => s.close()))
  await t.rejects(createAuditSinks([{ kind: 'redis-stream' }]), { code: 'CONFIG_INVALID' })
  // The directory's place is taken by a regular file: mkdir -p fails, and says which path.
  await t.rejects(createAuditSinks([{ kind: 'file', path: join(path, 'audit.jsonl') }]), {
    code: 'CONFIG_INVALID',
    message: /cannot open/,
  })
})
