import pino from 'pino'
import t from 'tap'
import { signRequest } from '../../src/admin/signing'
import type { LiveSession } from '../../src/proxy/session-registry'
import { asConnId } from '../../src/ids'
import { adminHarness, ROOT } from '../helpers/admin-harness'

const MQTT = { id: 'm1', protocol: 'mqtt', hostnames: ['m1.example.com'] }

t.test('a signed request is accepted and an unsigned one refused with 401 SIGNATURE_MISSING', async (t) => {
  const h = await adminHarness(t)
  const ok = await h.call('GET', '/v1/instances')
  t.equal(ok.statusCode, 200)
  t.same(ok.json(), { items: [] })
  const unsigned = await h.app.inject({ method: 'GET', url: '/v1/instances' })
  t.equal(unsigned.statusCode, 401)
  t.equal(unsigned.json().code, 'SIGNATURE_MISSING')
  t.type(unsigned.json().requestId, 'string')
  t.equal(unsigned.headers['x-request-id'], unsigned.json().requestId)
})

t.test('forged, tampered and replayed requests are refused with 401 and audited', async (t) => {
  const h = await adminHarness(t)
  const forged = await h.call('GET', '/v1/instances', undefined, { accessKeyId: ROOT.accessKeyId, accessKeySecret: 'guess' })
  t.equal(forged.statusCode, 401)
  t.equal(forged.json().code, 'SIGNATURE_INVALID')

  const unknown = await h.call('GET', '/v1/instances', undefined, { accessKeyId: 'SOMEONE', accessKeySecret: ROOT.accessKeySecret })
  t.equal(unknown.json().code, 'SIGNATURE_INVALID')

  const body = JSON.stringify(MQTT)
  const headers = { ...signRequest({ method: 'POST', url: '/v1/instances', body, ...ROOT }), 'content-type': 'application/json' }
  const tampered = await h.app.inject({ method: 'POST', url: '/v1/instances', headers, payload: JSON.stringify({ ...MQTT, id: 'evil' }) })
  t.equal(tampered.json().code, 'SIGNATURE_INVALID', 'a changed body breaks the signature')
  const first = await h.app.inject({ method: 'POST', url: '/v1/instances', headers, payload: body })
  t.equal(first.statusCode, 201)
  const replay = await h.app.inject({ method: 'POST', url: '/v1/instances', headers, payload: body })
  t.equal(replay.statusCode, 401)
  t.equal(replay.json().code, 'NONCE_REUSED')

  const old = signRequest({ method: 'GET', url: '/v1/instances', ...ROOT, now: new Date(Date.now() - 20 * 60_000) })
  const expired = await h.app.inject({ method: 'GET', url: '/v1/instances', headers: old })
  t.equal(expired.json().code, 'SIGNATURE_EXPIRED')

  // One event per source and code at once; the tampered request (a second SIGNATURE_INVALID from
  // this source) is counted into the summary written when the interval ends (here: the close).
  const refused = h.audit.recent({ type: 'admin.request.refused' })
  t.same(refused.map((e) => e.reason), ['SIGNATURE_INVALID', 'ACCESS_KEY_UNKNOWN', 'NONCE_REUSED', 'SIGNATURE_EXPIRED'],
    'the audit tells an unknown key from a bad signature; the answer does not')
  t.ok(refused.every((e) => e.outcome === 'failure'))
  t.equal(refused[1]?.actor['id'], 'SOMEONE', 'the claimed key id is recorded')
  t.notOk(JSON.stringify(refused).includes(ROOT.accessKeySecret), 'no secret in the audit')
  await h.app.close()
  const summary = h.audit.recent({ type: 'admin.request.refused' }).at(-1)
  t.match(summary, { reason: 'SIGNATURE_INVALID', details: { aggregated: true, count: 1 } }, 'the counted refusal is in the summary')
})

t.test('instance CRUD through the API, each change audited with before/after', async (t) => {
  const h = await adminHarness(t)
  const created = await h.call('POST', '/v1/instances', { ...MQTT, backend: { kind: 'tcp', host: '127.0.0.1', port: 1883, username: 'u', password: 'hunter2' } })
  t.equal(created.statusCode, 201)
  t.equal(created.json().id, 'm1')
  t.equal(created.json().backend.passwordSet, true)
  t.notOk(created.body.includes('hunter2'), 'the password is never returned')

  const dup = await h.call('POST', '/v1/instances', MQTT)
  t.equal(dup.statusCode, 409)
  t.equal(dup.json().code, 'ALREADY_EXISTS')

  const bad = await h.call('POST', '/v1/instances', { id: 'x', protocol: 'nope' })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().code, 'VALIDATION_FAILED')
  t.match(bad.json().message, /protocol/)

  const shown = await h.call('GET', '/v1/instances/m1')
  t.equal(shown.json().hostnames[0], 'm1.example.com')

  const patched = await h.call('PATCH', '/v1/instances/m1', { accessType: 'SINGLE_TUNNEL', vpcId: 'vpc-1' })
  t.equal(patched.statusCode, 200)
  t.equal(patched.json().accessType, 'SINGLE_TUNNEL')

  const missing = await h.call('GET', '/v1/instances/none')
  t.equal(missing.statusCode, 404)
  t.same(Object.keys(missing.json()).sort(), ['code', 'message', 'requestId'])

  const deleted = await h.call('DELETE', '/v1/instances/m1')
  t.equal(deleted.statusCode, 204)
  t.equal((await h.call('GET', '/v1/instances/m1')).statusCode, 404)

  const events = h.audit.recent({ type: 'admin.instance.*' })
  t.same(events.map((e) => [e.type, e.outcome]), [
    ['admin.instance.create', 'success'],
    ['admin.instance.create', 'failure'],
    ['admin.instance.create', 'failure'],
    ['admin.instance.update', 'success'],
    ['admin.instance.delete', 'success'],
  ])
  const update = events[3]
  t.equal(update?.actor['id'], ROOT.accessKeyId)
  t.equal(update?.instanceId, 'm1')
  t.match(update?.details, { before: { accessType: 'ANY_TUNNEL' }, after: { accessType: 'SINGLE_TUNNEL', vpcId: 'vpc-1' } })
  t.equal(events[1]?.reason, 'ALREADY_EXISTS')
  t.notOk(JSON.stringify(events).includes('hunter2'), 'no password in the audit')
})

t.test('lists are paginated with limit and an opaque nextToken', async (t) => {
  const h = await adminHarness(t)
  for (const id of ['a', 'b', 'c', 'd', 'e']) t.equal((await h.call('POST', '/v1/instances', { id, protocol: 'mqtt' })).statusCode, 201)
  const seen: string[] = []
  let url = '/v1/instances?limit=2'
  for (;;) {
    const page = (await h.call('GET', url)).json() as { items: Array<{ id: string }>; nextToken?: string }
    seen.push(...page.items.map((i) => i.id))
    if (page.nextToken === undefined) break
    url = `/v1/instances?limit=2&nextToken=${encodeURIComponent(page.nextToken)}`
  }
  t.same(seen, ['a', 'b', 'c', 'd', 'e'])
  const badLimit = await h.call('GET', '/v1/instances?limit=0')
  t.equal(badLimit.json().code, 'VALIDATION_FAILED')
  const unknownParam = await h.call('GET', '/v1/instances?colour=red')
  t.equal(unknownParam.json().code, 'VALIDATION_FAILED')
})

t.test('a body over the limit is refused with 413 BODY_TOO_LARGE, malformed JSON with 400', async (t) => {
  const h = await adminHarness(t, { maxAdminBodyBytes: 1024 })
  const big = await h.call('POST', '/v1/instances', { id: 'big', protocol: 'mqtt', hostnames: Array.from({ length: 100 }, (_, i) => `h${i}.example.com`) })
  t.equal(big.statusCode, 413)
  t.equal(big.json().code, 'BODY_TOO_LARGE')
  t.type(big.json().requestId, 'string')
  const payload = '{"id":'
  const headers = { ...signRequest({ method: 'POST', url: '/v1/instances', body: payload, ...ROOT }), 'content-type': 'application/json' }
  const malformed = await h.app.inject({ method: 'POST', url: '/v1/instances', headers, payload })
  t.equal(malformed.statusCode, 400)
  t.equal(malformed.json().code, 'VALIDATION_FAILED')
})

t.test('health, readiness and metrics answer without a signature', async (t) => {
  const h = await adminHarness(t)
  t.equal((await h.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
  t.equal((await h.app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200)
  const metrics = await h.app.inject({ method: 'GET', url: '/metrics' })
  t.equal(metrics.statusCode, 200)
  t.match(metrics.headers['content-type'], /text\/plain/)
  t.match(metrics.body, /portcullis_connections_accepted_total/)
  await h.store.close()
  const notReady = await h.app.inject({ method: 'GET', url: '/readyz' })
  t.equal(notReady.statusCode, 503)
  t.equal(notReady.json().code, 'STORE_UNAVAILABLE')
})

t.test('live connections are listed and kicked by id', async (t) => {
  const h = await adminHarness(t)
  const kicked: string[] = []
  const session: LiveSession = {
    view: {
      connId: asConnId('c1'), instanceId: 'm1', protocol: 'mqtt', clientId: 'dev-1', sourceIp: '127.0.0.1', sourcePort: 40000,
      listener: 'mqtts', startedAt: new Date().toISOString(), processId: 'p1',
    },
    kick: (reason) => {
      kicked.push(reason)
      h.sessions.remove(asConnId('c1'))
    },
  }
  h.sessions.add(session)
  const list = await h.call('GET', '/v1/connections?instanceId=m1')
  t.same(list.json().items.map((s: { connId: string }) => s.connId), ['c1'])
  t.same((await h.call('GET', '/v1/connections?instanceId=other')).json().items, [])
  t.equal((await h.call('DELETE', '/v1/connections/c1')).statusCode, 204)
  t.same(kicked, ['ADMIN_KICK'])
  const again = await h.call('DELETE', '/v1/connections/c1')
  t.equal(again.statusCode, 404)
  t.same(h.audit.recent({ type: 'admin.connection.kick' }).map((e) => e.outcome), ['success', 'failure'])
})

t.test('an unknown route answers 404 in the error shape', async (t) => {
  const h = await adminHarness(t)
  const res = await h.call('GET', '/v1/nothing-here')
  t.equal(res.statusCode, 404)
  t.equal(res.json().code, 'NOT_FOUND')
})

t.test('the request log has method, path and status, never the body, query or Authorization', async (t) => {
  const lines: string[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) })
  const h = await adminHarness(t, { logger })
  await h.call('POST', '/v1/instances', { id: 'logged', protocol: 'mqtt', backend: { kind: 'tcp', host: 'b', port: 1, password: 'pw-in-body' } })
  await h.call('GET', '/v1/instances?limit=5')
  const text = lines.join('')
  const requests = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'admin request')
  t.same(requests.map((r) => [r.method, r.path, r.statusCode]), [['POST', '/v1/instances', 201], ['GET', '/v1/instances', 200]])
  t.ok(requests.every((r) => typeof r.requestId === 'string'), 'each line names its request')
  t.notOk(text.includes('pw-in-body'), 'no body')
  t.notOk(text.includes('PORTCULLIS-HMAC-SHA1'), 'no Authorization header')
  t.notOk(text.includes('limit=5'), 'no query string')
})
