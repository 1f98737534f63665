/**
 * The console's computations checked against the server's own code: the CreateAccount derivation
 * (src/auth/credentials.ts, accepted by the real static account service), the audit hash chain
 * (src/audit/hash-chain.ts and verify.ts over events of a real AuditLog), the Prometheus parser
 * (the real Metrics registry's text), the SSE reader (a real `GET /v1/audit/stream`) and the
 * hash routes.
 */
import t from 'tap'
import fc from 'fast-check'
import { AuditLog } from '../../src/audit/audit-log'
import { canonicalJson as serverCanonical } from '../../src/audit/canonical-json'
import type { AuditEvent } from '../../src/audit/event'
import { verifyChain } from '../../src/audit/verify'
import { encodeUserName, passwordFor as serverPassword, secretSignFor, signatureFor } from '../../src/auth/credentials'
import { Metrics } from '../../src/observability/metrics'
import { AdminClient } from '../../console/src/api/client'
import { SseParser, tailAudit, type TailState } from '../../console/src/api/sse'
import { canonicalJson, verifyEvents } from '../../console/src/audit/chain'
import { createAccountBody, passwordFor, staticUserName } from '../../console/src/crypto/create-account'
import { MetricsHistory } from '../../console/src/metrics/history'
import { byLabel, parsePrometheus, total } from '../../console/src/metrics/prometheus'
import { href, parseRoute, type Route } from '../../console/src/router'
import { adminHarness, ROOT } from '../helpers/admin-harness'
import { until } from '../helpers/wait'

t.test('CreateAccount: the page derives what the gateway checks and answers', async (t) => {
  t.equal(await passwordFor('sk', '1000'), 'RTEyMjUzODUwMDg0QjE5ODkwNUE4N0Q3NDI4NTJEMEUwQTZGQTEyMzoxMDAw', 'DESIGN §1 test vector')
  t.equal(staticUserName('123123123', 'ak'), encodeUserName({ type: 2, instanceId: '123123123', accessKeyId: 'ak' }), 'userName = Base64("2:" instance ":" AccessKey)')
  const body = await createAccountBody({ instanceId: 'mq-1', accessKeyId: 'LTAIabc', accessKeySecret: 'sêcret', createTimestamp: 1_700_000_000_123 })
  t.equal(body.signature, signatureFor('sêcret', '1700000000123'), 'signature = HEX(HMAC-SHA1(secret, ts))')
  t.equal(body.secretSign, secretSignFor('sêcret', '1700000000123'), 'secretSign = HEX(HMAC-SHA1(ts, secret))')
  t.equal(await passwordFor('sêcret', '1700000000123'), serverPassword('sêcret', '1700000000123'), 'the password as the server derives it')

  const h = await adminHarness(t)
  const instance = await h.call('POST', '/v1/instances', { id: 'mq-console', protocol: 'amqp', hostnames: ['mq-console.example.com'], backend: { kind: 'tcp', host: '127.0.0.1', port: 5672 } })
  t.equal(instance.statusCode, 201, 'AMQP instance')
  const key = (await h.call('POST', '/v1/access-keys', {})).json() as { accessKeyId: string; accessKeySecret: string }
  const createTimestamp = Date.now()
  const request = await createAccountBody({ instanceId: 'mq-console', accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret, createTimestamp })
  const created = await h.call('POST', '/v1/instances/mq-console/static-accounts', request)
  t.equal(created.statusCode, 201, created.body)
  t.equal(created.json().password, await passwordFor(key.accessKeySecret, String(createTimestamp)), 'the answered password is the page’s derivation')
  const forged = await createAccountBody({ instanceId: 'mq-console', accessKeyId: key.accessKeyId, accessKeySecret: 'not-the-secret', createTimestamp })
  const refused = await h.call('POST', '/v1/instances/mq-console/static-accounts', forged)
  t.equal(refused.json().code, 'VALIDATION_FAILED', 'proofs made with another secret are refused')
})

async function chainOf(n: number, chainId?: string): Promise<AuditEvent[]> {
  const log = new AuditLog({ sinks: [], ...(chainId !== undefined ? { chainId } : {}) })
  for (let i = 0; i < n; i++) {
    log.record({ type: i % 2 === 0 ? 'connection.accepted' : 'admin.ca.register', outcome: i % 3 === 0 ? 'failure' : 'success', actor: { kind: 'client', id: `c-${i}` }, instanceId: 'plant-1', details: { n: i, nested: { z: 'é', a: [1, 2.5, null, true] } } })
  }
  const events = log.recent({ limit: n })
  await log.close()
  return events
}

/** The server's verdict on the same events, as JSON lines from wherever the excerpt starts. */
async function serverVerdict(events: unknown[]): Promise<{ ok: boolean; line?: number; problem?: string }> {
  const result = await verifyChain(events.map((e) => JSON.stringify(e)), { firstPrev: 'any' })
  return result.ok ? { ok: true } : { ok: false, line: result.line, problem: result.problem }
}

t.test('audit chain: the page verifies as `portcullis audit verify --partial` does', async (t) => {
  const events = await chainOf(12, 'proc-1')
  const intact = await verifyEvents(JSON.parse(JSON.stringify(events)))
  t.match(intact, { ok: true, count: 12, chains: 1 }, 'an untouched chain verifies')
  t.same(await serverVerdict(events), { ok: true }, 'as the server’s verifier says')
  t.match(await verifyEvents(events.slice(5)), { ok: true, count: 7 }, 'an excerpt (the API’s window) verifies from wherever it starts')

  const tampered = JSON.parse(JSON.stringify(events)) as Array<Record<string, any>>
  tampered[4]!.details.n = 99
  t.match(await verifyEvents(tampered), { ok: false, index: 4, problem: 'hash-mismatch', eventId: events[4]!.id, chain: 'proc-1' }, 'an altered event is named')
  t.match(await serverVerdict(tampered), { ok: false, line: 5, problem: 'hash-mismatch' }, 'the server says the same')

  const deleted = events.filter((_, i) => i !== 6)
  t.match(await verifyEvents(deleted), { ok: false, index: 6, problem: 'prev-mismatch' }, 'a deleted event breaks the next link')
  t.match(await serverVerdict(deleted), { ok: false, line: 7, problem: 'prev-mismatch' }, 'the server says the same')

  const swapped = [...events]
  ;[swapped[2], swapped[3]] = [swapped[3]!, swapped[2]!]
  t.match(await verifyEvents(swapped), { ok: false, index: 2, problem: 'prev-mismatch' }, 'reordered events are caught')

  const other = await chainOf(5, 'proc-2')
  const interleaved = [events[0], other[0], events[1], other[1], events[2], other[2]]
  t.match(await verifyEvents(interleaved), { ok: true, chains: 2 }, 'two processes’ chains interleaved verify each on its own')
  t.match(await verifyEvents([{ prev: 'x' }]), { ok: false, problem: 'unparsable' }, 'an event without 64-hex prev and hash is unparsable')

  await fc.assert(fc.property(fc.jsonValue(), (value) => canonicalJson(value) === serverCanonical(value)), { numRuns: 500 })
  t.pass('canonical JSON equals the server’s for any JSON value')
})

t.test('Prometheus text from the real registry parses to the counted values', async (t) => {
  const metrics = new Metrics()
  metrics.connectionsAccepted.inc({ protocol: 'mqtt', instance: 'plant-1' }, 3)
  metrics.connectionsRejected.inc({ protocol: 'mqtt', instance: 'plant-1', reason: 'CA_INACTIVE' }, 2)
  metrics.connectionsRejected.inc({ protocol: 'amqp', instance: '-', reason: 'BAD_CREDENTIALS' }, 5)
  metrics.connectionsRejected.inc({ protocol: 'mqtt', instance: 'plant-2', reason: 'CA_INACTIVE' })
  metrics.handshakeSeconds.observe({ protocol: 'mqtt' }, 0.02)
  const samples = parsePrometheus(await metrics.render())
  t.equal(total(samples, 'portcullis_connections_accepted_total'), 3, 'accepted total')
  t.equal(total(samples, 'portcullis_connections_rejected_total'), 8, 'rejected total over every label')
  t.same([...byLabel(samples, 'portcullis_connections_rejected_total', 'reason')].sort(), [['BAD_CREDENTIALS', 5], ['CA_INACTIVE', 3]], 'refusals summed by reason')
  t.ok(samples.some((s) => s.name === 'portcullis_handshake_seconds_bucket' && s.labels.le === '+Inf'), 'histogram buckets with +Inf')
  t.same(parsePrometheus('m{a="x\\"y\\\\z\\n",b="2"} 1.5e3 1700000000\nbad line\n'), [{ name: 'm', labels: { a: 'x"y\\z\n', b: '2' }, value: 1500 }], 'escapes and a timestamp; a bad line skipped')

  const history = new MetricsHistory()
  history.add({ at: 0, samples: parsePrometheus('portcullis_connections_accepted_total 10\n') })
  history.add({ at: 2000, samples: parsePrometheus('portcullis_connections_accepted_total 30\n') })
  history.add({ at: 4000, samples: parsePrometheus('portcullis_connections_accepted_total 4\n') })
  t.same(history.rate('portcullis_connections_accepted_total').map((p) => p.value), [10, 2], 'rate per second; a counter reset counts the new value')
})

t.test('the SSE parser cuts events at any chunk boundary', async (t) => {
  const text = ': connected\n\nid: 1\ndata: {"a":1}\n\r\nid: 2\r\ndata: line one\r\ndata: line two\r\n\r\n: heartbeat\n\nevent: x\rdata:no-space\r\r\n'
  const expected = [{ id: '1', event: 'message', data: '{"a":1}' }, { id: '2', event: 'message', data: 'line one\nline two' }, { id: '2', event: 'x', data: 'no-space' }]
  const plain = (events: unknown[]): string => JSON.stringify(events.map((e) => Object.fromEntries(Object.entries(e as object).sort())))
  t.same(new SseParser().push(text), expected, 'whole')
  for (let cut = 1; cut < text.length; cut++) {
    const parser = new SseParser()
    const got = [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut))]
    if (plain(got) !== plain(expected)) t.fail(`cut at ${cut}: ${JSON.stringify(got)}`)
  }
  const held = new SseParser()
  t.same(held.push('data: held\r\r'), [], 'a CR at the end of a chunk waits: it may be half of a CRLF')
  t.same(held.push('\ndata: next'), [{ event: 'message', data: 'held' }], 'and the CRLF it completes is one line end, not two')
  t.pass('every two-chunk split gives the same events')
})

t.test('the live tail follows GET /v1/audit/stream through a signed fetch', async (t) => {
  const h = await adminHarness(t)
  await h.app.listen({ port: 0, host: '127.0.0.1' })
  const baseUrl = `http://127.0.0.1:${(h.app.server.address() as { port: number }).port}`
  const api = new AdminClient({ baseUrl, key: ROOT })
  const seen: Array<{ type: string }> = []
  const states: TailState[] = []
  const tail = tailAudit(api, { query: { type: 'admin.instance.*' }, onEvent: (e) => seen.push(e as { type: string }), onState: (s) => states.push(s) })
  t.teardown(() => tail.stop())
  await until(() => states.includes('live'), 5000)
  await api.call('POST', '/v1/instances', { id: 'tail-1', protocol: 'mqtt' })
  await api.call('POST', '/v1/access-keys', {})
  await api.call('DELETE', '/v1/instances/tail-1')
  await until(() => seen.length >= 2, 5000)
  t.same(seen.map((e) => e.type), ['admin.instance.create', 'admin.instance.delete'], 'the filtered events, in order, live')
  tail.stop()
  t.equal(states[states.length - 1], 'stopped', 'stop() ends the stream')

  const refusedStates: TailState[] = []
  const bad = tailAudit(new AdminClient({ baseUrl, key: { ...ROOT, accessKeySecret: 'wrong' } }), { onEvent: () => undefined, onState: (s) => refusedStates.push(s) })
  t.teardown(() => bad.stop())
  await until(() => refusedStates.includes('failed'), 5000)
  t.notOk(refusedStates.includes('live'), 'a refused signature fails the tail without retrying')
})

t.test('hash routes parse and print back', async (t) => {
  const routes: Route[] = [
    { page: 'instances' }, { page: 'instance-new' }, { page: 'instance-edit', instanceId: 'plant-1' },
    { page: 'cas', instanceId: 'plant-1' }, { page: 'ca', instanceId: 'plant-1', caId: 'ab'.repeat(32) },
    { page: 'static-accounts' }, { page: 'static-accounts', instanceId: 'mq-1' }, { page: 'access-keys' },
    { page: 'blacklist' }, { page: 'accounts' }, { page: 'policies' }, { page: 'connections' }, { page: 'audit' }, { page: 'metrics' },
  ]
  for (const route of routes) t.same(parseRoute(href(route)), route, href(route))
  t.same(parseRoute(''), { page: 'instances' }, 'the empty hash is the instance list')
  t.same(parseRoute('#/nope/x'), { page: 'not-found', path: 'nope/x' }, 'an unknown path is not-found')
})
