import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { AuditLog } from '../../src/audit/audit-log'
import { canonicalJson } from '../../src/audit/canonical-json'
import { GENESIS_PREV, type AuditEvent } from '../../src/audit/event'
import { computeEventHash } from '../../src/audit/hash-chain'
import { verifyChain, verifyFile } from '../../src/audit/verify'

/** Records `n` events on a log without sinks and answers them as JSON lines. */
function chainLines(n: number): string[] {
  const log = new AuditLog({ sinks: [] })
  const lines: string[] = []
  for (let i = 0; i < n; i++) {
    const event = log.record({
      type: i % 2 === 0 ? 'connection.accepted' : 'admin.ca.register',
      instanceId: 'inst-1',
      protocol: 'mqtt',
      outcome: 'success',
      actor: { kind: 'client', id: `device-${i}` },
      source: { ip: '10.0.0.1', port: 40000 + i },
      details: { seq: i, nested: { z: 1, a: [true, null, 'x'] } },
    })
    lines.push(JSON.stringify(event))
  }
  return lines
}

t.test('canonical JSON sorts keys recursively and has no whitespace', async (t) => {
  t.equal(canonicalJson({ b: [1, { d: true, c: null }], a: 'x' }), '{"a":"x","b":[1,{"c":null,"d":true}]}')
  t.equal(canonicalJson({ a: undefined, b: 'é\n' }), '{"b":"é\\n"}')
  t.equal(canonicalJson([undefined, 1.5e21, -0]), '[null,1.5e+21,0]')
})

t.test('an event hash is SHA-256 over prev and the canonical event without hash', async (t) => {
  const [line] = chainLines(1)
  const event = JSON.parse(line ?? '') as AuditEvent
  t.equal(event.prev, GENESIS_PREV)
  const { hash, ...body } = event
  const { createHash } = await import('node:crypto')
  const expected = createHash('sha256').update(event.prev + canonicalJson(body)).digest('hex')
  t.equal(hash, expected)
  t.equal(computeEventHash(event), expected)
})

t.test('an intact chain verifies, from arrays and from async iterables', async (t) => {
  const lines = chainLines(5)
  t.same(await verifyChain(lines), { ok: true, count: 5 })
  async function* lazily(): AsyncIterable<string> {
    yield* lines
  }
  t.same(await verifyChain(lazily()), { ok: true, count: 5 })
  t.same(await verifyChain([...lines, '']), { ok: true, count: 5 }, 'a trailing empty line is not an event')
})

t.test('a changed field is a hash mismatch on its own line', async (t) => {
  const lines = chainLines(5)
  const event = JSON.parse(lines[2] ?? '') as AuditEvent
  event.outcome = 'failure'
  lines[2] = JSON.stringify(event)
  t.same(await verifyChain(lines), { ok: false, line: 3, eventId: event.id, problem: 'hash-mismatch' })
})

t.test('a changed field with a recomputed hash breaks the next link', async (t) => {
  const lines = chainLines(5)
  const event = JSON.parse(lines[1] ?? '') as AuditEvent
  event.details = { seq: 99 }
  event.hash = computeEventHash(event)
  lines[1] = JSON.stringify(event)
  const next = JSON.parse(lines[2] ?? '') as AuditEvent
  t.same(await verifyChain(lines), { ok: false, line: 3, eventId: next.id, problem: 'prev-mismatch' })
})

t.test('a deleted line is found at the line after the gap', async (t) => {
  const lines = chainLines(5)
  lines.splice(1, 1)
  t.match(await verifyChain(lines), { ok: false, line: 2, problem: 'prev-mismatch' })
})

t.test('a deleted first line is found at line 1', async (t) => {
  const lines = chainLines(3).slice(1)
  t.match(await verifyChain(lines), { ok: false, line: 1, problem: 'prev-mismatch' })
  t.same(await verifyChain(lines, { firstPrev: 'any' }), { ok: true, count: 2 }, "firstPrev 'any' verifies an excerpt")
})

t.test('reordered lines are found at the first moved line', async (t) => {
  const lines = chainLines(5)
  const [third, fourth] = [lines[2] ?? '', lines[3] ?? '']
  lines[2] = fourth
  lines[3] = third
  t.match(await verifyChain(lines), { ok: false, line: 3, problem: 'prev-mismatch' })
})

t.test('a line that is not an event is unparsable', async (t) => {
  const lines = chainLines(3)
  lines[1] = (lines[1] ?? '').slice(0, 40)
  t.same(await verifyChain(lines), { ok: false, line: 2, problem: 'unparsable' })
  t.same(await verifyChain(['{"prev":"nope","hash":"nope"}']), { ok: false, line: 1, problem: 'unparsable' })
})

t.test('verifyFile names the file line number, counting blank lines', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-audit-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const lines = chainLines(4)
  const path = join(dir, 'audit.jsonl')
  await writeFile(path, `${lines.join('\n')}\n`)
  t.same(await verifyFile(path), { ok: true, count: 4 })
  const tampered = [lines[0], '', lines[2], lines[3]]
  await writeFile(path, `${tampered.join('\n')}\n`)
  t.match(await verifyFile(path), { ok: false, line: 3, problem: 'prev-mismatch' })
})
