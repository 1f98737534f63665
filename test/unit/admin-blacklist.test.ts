import t from 'tap'
import { GLOBAL_SCOPE, type BlacklistRecord } from '../../src/store/records'
import { adminHarness, ROOT, type AdminHarness } from '../helpers/admin-harness'

const FINGERPRINT = 'c3'.repeat(32)

async function setup(t: tap.Test): Promise<AdminHarness> {
  const h = await adminHarness(t)
  t.equal((await h.call('POST', '/v1/instances', { id: 'mq-1', protocol: 'mqtt' })).statusCode, 201)
  return h
}

t.test('POST /v1/blacklist answers 201 with the entry, its actor the signing (root) key, and audits admin.blacklist.add', async (t) => {
  const h = await setup(t)
  const expiresAt = new Date(Date.now() + 3600_000).toISOString()
  const res = await h.call('POST', '/v1/blacklist', { kind: 'clientId', value: 'sensor-9', instanceId: 'mq-1', reason: 'flooding', expiresAt })
  t.equal(res.statusCode, 201, res.body)
  const entry = res.json()
  t.match(entry, { id: /^bl-[0-9a-f]{16}$/, kind: 'clientId', value: 'sensor-9', instanceId: 'mq-1', reason: 'flooding', expiresAt, actor: ROOT.accessKeyId, expired: false })
  t.equal(typeof entry.createdAt, 'string')

  const [event] = h.audit.recent({ type: 'admin.blacklist.add' })
  t.equal(event?.outcome, 'success')
  t.equal(event?.actor['id'], ROOT.accessKeyId)
  t.equal(event?.instanceId, 'mq-1', 'filed under the instance the entry scopes')
  t.same(event?.details['after'], entry)
  t.equal(event?.details['before'], null)

  const global = await h.call('POST', '/v1/blacklist', { kind: 'ip', value: '203.0.113.0/24' })
  t.equal(global.statusCode, 201, global.body)
  t.notOk('instanceId' in global.json(), 'a global entry has no instanceId')
  await h.call('POST', '/v1/accounts', { id: 'ops' })
  const key = (await h.call('POST', '/v1/access-keys', { accountId: 'ops' })).json() as { accessKeyId: string; accessKeySecret: string }
  const byKey = await h.call('POST', '/v1/blacklist', { kind: 'ip', value: '198.51.100.0/24' }, key)
  t.equal(byKey.statusCode, 403, 'a sub-account key without a policy may not add entries')
  t.equal(byKey.json().code, 'ACCESS_DENIED')
  t.match(byKey.json().message, /admin:AddBlacklistEntry on admin:blacklist$/)
  t.equal(h.audit.recent({ type: 'admin.blacklist.add' }).length, 2, 'the refused request added nothing')
})

t.test('bad entries are refused with the fitting status and audited as failures', async (t) => {
  const h = await setup(t)
  const cases: Array<[unknown, number, string]> = [
    [{ kind: 'ip', value: '10.0.0.300' }, 400, 'VALIDATION_FAILED'],
    [{ kind: 'certFingerprint', value: 'abc' }, 400, 'VALIDATION_FAILED'],
    [{ kind: 'username', value: 'bob', expiresAt: '2000-01-01T00:00:00Z' }, 400, 'VALIDATION_FAILED'],
    [{ kind: 'username', value: 'bob', actor: 'someone-else' }, 400, 'VALIDATION_FAILED'],
    [{ kind: 'username' }, 400, 'VALIDATION_FAILED'],
    [{ kind: 'username', value: 'bob', instanceId: 'ghost' }, 404, 'NOT_FOUND'],
  ]
  for (const [body, status, code] of cases) {
    const res = await h.call('POST', '/v1/blacklist', body)
    t.equal(res.statusCode, status, JSON.stringify(body))
    t.equal(res.json().code, code)
  }
  const events = h.audit.recent({ type: 'admin.blacklist.add' })
  t.equal(events.length, cases.length)
  t.ok(events.every((e) => e.outcome === 'failure' && e.actor['id'] === ROOT.accessKeyId))
  t.same(events.map((e) => e.reason).sort(), ['NOT_FOUND', ...Array(5).fill('VALIDATION_FAILED')])
  t.same((await h.call('GET', '/v1/blacklist?includeExpired=true')).json(), { items: [] })
})

t.test('a duplicate in force answers 409 ALREADY_EXISTS', async (t) => {
  const h = await setup(t)
  t.equal((await h.call('POST', '/v1/blacklist', { kind: 'certFingerprint', value: FINGERPRINT })).statusCode, 201)
  const again = await h.call('POST', '/v1/blacklist', { kind: 'certFingerprint', value: FINGERPRINT.toUpperCase() })
  t.equal(again.statusCode, 409)
  t.equal(again.json().code, 'ALREADY_EXISTS')
})

t.test('GET /v1/blacklist filters by instance and kind, pages, and shows expired entries only when asked', async (t) => {
  const h = await setup(t)
  const add = async (body: Record<string, unknown>): Promise<string> => {
    const res = await h.call('POST', '/v1/blacklist', body)
    t.equal(res.statusCode, 201, res.body)
    return res.json().id as string
  }
  const a = await add({ kind: 'username', value: 'a' })
  const b = await add({ kind: 'username', value: 'b', instanceId: 'mq-1' })
  const c = await add({ kind: 'ip', value: '198.51.100.7', instanceId: 'mq-1' })
  // An entry that lapsed an hour ago (the API refuses to add one already expired).
  const lapsed: BlacklistRecord = { id: 'bl-00000000000000ff', kind: 'username', value: 'z', actor: ROOT.accessKeyId, createdAt: new Date(Date.now() - 7200_000).toISOString(), expiresAt: new Date(Date.now() - 3600_000).toISOString() }
  await h.store.put('blacklist', GLOBAL_SCOPE, lapsed.id, lapsed)

  const ids = async (query: string): Promise<string[]> => {
    const res = await h.call('GET', `/v1/blacklist${query}`)
    t.equal(res.statusCode, 200, res.body)
    return (res.json().items as Array<{ id: string }>).map((e) => e.id)
  }
  t.same(await ids(''), [a, b, c].sort())
  t.same(await ids('?instanceId=mq-1'), [b, c].sort())
  t.same(await ids('?instanceId=mq-1&kind=username'), [b])
  t.same(await ids('?kind=ip'), [c])
  const withExpired = await h.call('GET', '/v1/blacklist?includeExpired=true&kind=username')
  t.same(withExpired.json().items.map((e: { id: string; expired: boolean }) => [e.id, e.expired]), [[lapsed.id, true], ...[a, b].sort().map((id) => [id, false])])

  const first = (await h.call('GET', '/v1/blacklist?limit=2')).json()
  t.equal(first.items.length, 2)
  t.type(first.nextToken, 'string')
  const second = (await h.call('GET', `/v1/blacklist?limit=2&nextToken=${first.nextToken}`)).json()
  t.same([...first.items, ...second.items].map((e: { id: string }) => e.id), [a, b, c].sort())
  t.notOk('nextToken' in second)

  t.equal((await h.call('GET', '/v1/blacklist?kind=email')).statusCode, 400)
  t.equal((await h.call('GET', '/v1/blacklist?scope=global')).statusCode, 400, 'unknown query parameters are refused')
})

t.test('GET one entry and DELETE it: 204, audited with before, then 404', async (t) => {
  const h = await setup(t)
  const entry = (await h.call('POST', '/v1/blacklist', { kind: 'accessKey', value: 'LTAIleaked', instanceId: 'mq-1' })).json()
  const shown = await h.call('GET', `/v1/blacklist/${entry.id}`)
  t.equal(shown.statusCode, 200)
  t.same(shown.json(), entry)
  t.equal((await h.call('GET', `/v1/blacklist/${entry.id}?verbose=1`)).statusCode, 400)

  const del = await h.call('DELETE', `/v1/blacklist/${entry.id}`)
  t.equal(del.statusCode, 204)
  t.equal(del.body, '')
  const gone = await h.call('DELETE', `/v1/blacklist/${entry.id}`)
  t.equal(gone.statusCode, 404)
  t.equal(gone.json().code, 'NOT_FOUND')
  t.equal((await h.call('GET', `/v1/blacklist/${entry.id}`)).statusCode, 404)

  const [removed, missing] = h.audit.recent({ type: 'admin.blacklist.remove' })
  t.match(removed, { outcome: 'success', instanceId: 'mq-1', actor: { id: ROOT.accessKeyId }, details: { entryId: entry.id, before: entry, after: null } })
  t.match(missing, { outcome: 'failure', reason: 'NOT_FOUND', details: { entryId: entry.id } })
  t.same((await h.call('GET', '/v1/blacklist')).json(), { items: [] })
})

t.test('the blacklist routes refuse unsigned requests', async (t) => {
  const h = await setup(t)
  const res = await h.app.inject({ method: 'POST', url: '/v1/blacklist', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ kind: 'username', value: 'x' }) })
  t.equal(res.statusCode, 401)
  t.equal(res.json().code, 'SIGNATURE_MISSING')
  t.equal((await h.app.inject({ method: 'GET', url: '/v1/blacklist' })).statusCode, 401)
  t.equal(await h.store.count('blacklist', GLOBAL_SCOPE), 0)
})
