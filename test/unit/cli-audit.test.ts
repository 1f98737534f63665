import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { AuditLog } from '../../src/audit/audit-log'
import type { AuditEvent, AuditInput } from '../../src/audit/event'
import { computeEventHash } from '../../src/audit/hash-chain'
import { cliHarness } from '../helpers/cli-harness'

const input = (type: AuditInput['type'], n: number): AuditInput => ({ type, instanceId: `i-${n % 2}`, outcome: 'success', actor: { kind: 'system' }, details: { n } })

t.test('audit query prints the matching events through the signed API', async (t) => {
  const { h, run } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-audit-' })
  for (let n = 0; n < 6; n++) h.audit.record(input(n % 3 === 0 ? 'admin.ca.register' : 'connection.accepted', n))
  const res = await run(['audit', 'query', '--type', 'connection.*', '--instance', 'i-1', '--limit', '2'])
  t.equal(res.code, 0, res.err)
  t.same(JSON.parse(res.out).items.map((e: AuditEvent) => e.details['n']), [1, 5])
  const bad = await run(['audit', 'query', '--since', 'soon'])
  t.equal(bad.code, 1)
  t.match(bad.err, /^VALIDATION_FAILED: since is not an ISO 8601 time/)
})

t.test('audit tail prints live events as JSON lines and stops after --count', async (t) => {
  const { h, run } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-audit-' })
  const started = Date.now()
  const tail = run(['audit', 'tail', '--type', 'admin.*', '--count', '2'])
  let done = false
  void tail.finally(() => (done = true))
  // The tail connects asynchronously: keep recording until it has printed two events.
  for (let n = 0; !done && n < 200; n++) {
    h.audit.record(input('connection.closed', n))
    h.audit.record(input('admin.blacklist.add', n))
    await new Promise((r) => setTimeout(r, 25))
  }
  const res = await tail
  t.ok(Date.now() - started < 3000, `stopped at once after --count (${Date.now() - started} ms)`)
  t.equal(res.code, 0, res.err)
  const lines = res.out.trim().split('\n').map((line) => JSON.parse(line) as AuditEvent)
  t.equal(lines.length, 2)
  t.same(lines.map((e) => e.type), ['admin.blacklist.add', 'admin.blacklist.add'])
  t.same(lines.map((e) => computeEventHash(e)), lines.map((e) => e.hash), 'whole events, as hashed')
  // fetch may leave a spare keep-alive socket without a request, which server.close() waits for.
  h.app.server.closeAllConnections()
})

t.test('audit verify checks files with several chains and names the first tampered line', async (t) => {
  const { run, cwd } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-audit-' })
  const a = new AuditLog({ sinks: [], chainId: 'gw-a' })
  const b = new AuditLog({ sinks: [], chainId: 'gw-b' })
  const lines = Array.from({ length: 8 }, (_, n) => JSON.stringify((n % 2 === 0 ? a : b).record(input('connection.accepted', n))))
  await writeFile(join(cwd, 'good.jsonl'), `${lines.join('\n')}\n`)
  const good = await run(['audit', 'verify', 'good.jsonl'])
  t.equal(good.code, 0, good.err)
  t.same(JSON.parse(good.out), { ok: true, count: 8, chains: 2 })

  const tampered = [...lines]
  tampered[5] = (tampered[5] ?? '').replace('"outcome":"success"', '"outcome":"failure"')
  await writeFile(join(cwd, 'bad.jsonl'), `${tampered.join('\n')}\n`)
  const bad = await run(['audit', 'verify', 'bad.jsonl'])
  t.equal(bad.code, 1)
  t.match(JSON.parse(bad.out), { ok: false, line: 6, problem: 'hash-mismatch', chain: 'gw-b' })
  t.match(bad.err, /^audit chain broken at line 6: hash-mismatch \(event [0-9a-f-]+, chain gw-b\)\n$/)

  const excerpt = lines.slice(2)
  await writeFile(join(cwd, 'excerpt.jsonl'), `${excerpt.join('\n')}\n`)
  t.equal((await run(['audit', 'verify', 'excerpt.jsonl'])).code, 1, 'an excerpt does not start at genesis')
  t.equal((await run(['audit', 'verify', 'excerpt.jsonl', '--partial'])).code, 0)
})

t.test('audit commands refuse stray arguments and a bad --count', async (t) => {
  const { run } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-audit-' })
  t.match((await run(['audit', 'query', 'extra'])).err, /^USAGE: unexpected argument extra/)
  t.match((await run(['audit', 'tail', '--count', '0'])).err, /^USAGE: --count must be a positive integer/)
  t.match((await run(['audit', 'tail', '--until', 'x'])).err, /^USAGE: /)
  t.match((await run(['audit'])).err, /^USAGE: audit needs one of: query, tail, verify/)
})
