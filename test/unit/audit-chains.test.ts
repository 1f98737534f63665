import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { AuditLog } from '../../src/audit/audit-log'
import type { AuditEvent, AuditInput } from '../../src/audit/event'
import { computeEventHash } from '../../src/audit/hash-chain'
import { FileSink } from '../../src/audit/sinks/file'
import { verifyChain, verifyFile } from '../../src/audit/verify'

const input = (n: number): AuditInput => ({ type: 'connection.accepted', instanceId: 'i', outcome: 'success', actor: { kind: 'client' }, details: { n } })

/** Two processes' chains interleaved, as several replicas writing one Redis stream produce them. */
function interleaved(n: number): string[] {
  const a = new AuditLog({ sinks: [], chainId: 'gw-a' })
  const b = new AuditLog({ sinks: [], chainId: 'gw-b' })
  const lines: string[] = []
  for (let i = 0; i < n; i++) lines.push(JSON.stringify((i % 3 === 0 ? b : a).record(input(i))))
  return lines
}

t.test('an AuditLog given a chainId writes it as `chain`, covered by the hash', async (t) => {
  const event = new AuditLog({ sinks: [], chainId: 'gw-1' }).record(input(1))
  t.equal(event.chain, 'gw-1')
  t.equal(computeEventHash(event), event.hash)
  const moved = { ...event, chain: 'gw-2' }
  t.not(computeEventHash(moved), event.hash, 'moving an event to another chain changes its hash')
  t.notOk('chain' in new AuditLog({ sinks: [] }).record(input(2)), 'no chain member without a chainId')
})

t.test('interleaved chains verify each on its own and are counted', async (t) => {
  t.same(await verifyChain(interleaved(12)), { ok: true, count: 12, chains: 2 })
})

t.test('a deleted event breaks its own chain and names it', async (t) => {
  const lines = interleaved(12)
  const removed = lines.splice(4, 1)[0] ?? ''
  const chain = (JSON.parse(removed) as AuditEvent).chain
  const result = await verifyChain(lines)
  t.match(result, { ok: false, problem: 'prev-mismatch', chain })
  t.equal(result.ok ? 0 : result.line, 5, 'the next event of the same chain, now on line 5')
})

t.test('an event moved to another chain is a hash mismatch', async (t) => {
  const lines = interleaved(6)
  const event = JSON.parse(lines[1] ?? '') as AuditEvent
  lines[1] = JSON.stringify({ ...event, chain: 'gw-b' })
  t.match(await verifyChain(lines), { ok: false, line: 2, problem: 'hash-mismatch', chain: 'gw-b' })
})

t.test('a chain that does not start at genesis is refused unless partial', async (t) => {
  const lines = interleaved(9).slice(2)
  t.match(await verifyChain(lines), { ok: false, line: 1, problem: 'prev-mismatch' })
  t.same(await verifyChain(lines, { firstPrev: 'any' }), { ok: true, count: 7, chains: 2 })
})

t.test('a restarted gateway continues its file under a new chain id, and the file verifies', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-chains-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const path = join(dir, 'audit.jsonl')
  const legacy = new AuditLog({ sinks: [await FileSink.open(path)] })
  legacy.record(input(0))
  await legacy.close()
  for (const chainId of ['gw-1', 'gw-2']) {
    const log = new AuditLog({ sinks: [await FileSink.open(path)], chainId })
    log.record(input(1))
    log.record(input(2))
    await log.close()
  }
  t.same(await verifyFile(path), { ok: true, count: 5, chains: 3 })
  const lines = (await readFile(path, 'utf8')).trim().split('\n')
  // Dropping the first event of the second run breaks the link from it to the run before.
  t.match(await verifyChain([...lines.slice(0, 3), ...lines.slice(4)]), { ok: false, line: 4, problem: 'prev-mismatch', chain: 'gw-2' })
})

t.test('a non-string chain member is unparsable', async (t) => {
  const [line] = interleaved(1)
  const event = JSON.parse(line ?? '') as Record<string, unknown>
  t.match(await verifyChain([JSON.stringify({ ...event, chain: 7 })]), { ok: false, line: 1, problem: 'unparsable' })
})
