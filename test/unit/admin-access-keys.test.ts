import t from 'tap'
import { verifySecurityToken } from '../../src/auth/security-tokens'
import { createAccountBody } from '../../src/cli/commands/static-account'
import { adminHarness, type AdminHarness } from '../helpers/admin-harness'

type Key = { accessKeyId: string; accessKeySecret: string; accountId?: string; description?: string }

async function createKey(t: tap.Test, h: AdminHarness, description?: string, accountId?: string): Promise<Key> {
  const body = { ...(description !== undefined ? { description } : {}), ...(accountId !== undefined ? { accountId } : {}) }
  const res = await h.call('POST', '/v1/access-keys', body)
  t.equal(res.statusCode, 201, res.body)
  return res.json() as Key
}

t.test('creating an AccessKey answers its secret once; lists, reads and the audit never hold it', async (t) => {
  const h = await adminHarness(t)
  const res = await h.call('POST', '/v1/access-keys', { description: 'ci pipeline' })
  t.equal(res.statusCode, 201)
  t.equal(res.headers['cache-control'], 'no-store', 'an answer with a secret is not cached')
  const created = res.json()
  t.match(created, { accessKeyId: /^LTAI[A-Za-z0-9]{20}$/, accessKeySecret: /^[A-Za-z0-9]{30}$/, status: 'Active', description: 'ci pipeline', accountId: 'root' })

  const list = await h.call('GET', '/v1/access-keys')
  t.equal(list.statusCode, 200)
  t.same(list.json().items.map((k: { accessKeyId: string }) => k.accessKeyId), [created.accessKeyId])
  const shown = await h.call('GET', `/v1/access-keys/${created.accessKeyId}`)
  t.equal(shown.json().status, 'Active')
  for (const body of [list.body, shown.body]) t.notOk(body.includes(created.accessKeySecret), 'no secret in a read')
  t.notOk('accessKeySecret' in shown.json())

  const [event] = h.audit.recent({ type: 'admin.accessKey.create' })
  t.equal(event?.outcome, 'success')
  t.equal(event?.actor['id'], 'PCROOTTEST', 'the actor is the signing key')
  t.match(event?.details['after'], { accessKeyId: created.accessKeyId, status: 'Active' })
  t.notOk(JSON.stringify(h.audit.recent({})).includes(created.accessKeySecret), 'no secret in any audit event')
})

t.test('an unknown body key or a bad description is refused with 400 and audited as a failure', async (t) => {
  const h = await adminHarness(t)
  const extra = await h.call('POST', '/v1/access-keys', { description: 'x', secret: 'mine' })
  t.equal(extra.statusCode, 400)
  t.equal(extra.json().code, 'VALIDATION_FAILED')
  t.match(extra.json().message, /secret/)
  const control = await h.call('POST', '/v1/access-keys', { description: 'bell\u0007' })
  t.equal(control.statusCode, 400)
  t.same(h.audit.recent({ type: 'admin.accessKey.create' }).map((e) => e.outcome), ['failure', 'failure'])
  t.same((await h.call('GET', '/v1/access-keys')).json(), { items: [] })
})

t.test('a key of a sub-account without a policy is refused 403 ACCESS_DENIED naming the action, audited with its id', async (t) => {
  const h = await adminHarness(t)
  t.equal((await h.call('POST', '/v1/accounts', { id: 'ops' })).statusCode, 201)
  const key = await createKey(t, h, undefined, 'ops')
  const read = await h.call('GET', '/v1/instances', undefined, key)
  t.same([read.statusCode, read.json().code], [403, 'ACCESS_DENIED'], 'a valid signature reaches authorization, which finds no grant')
  t.equal(read.json().message, `AccessKey ${key.accessKeyId} may not admin:ListInstances on admin:instances`)
  const write = await h.call('POST', '/v1/access-keys', { accountId: 'ops' }, key)
  t.same([write.statusCode, write.json().code], [403, 'ACCESS_DENIED'], 'nor can it create keys')
  t.match(write.json().message, /admin:CreateAccessKey on admin:access-keys$/)
  t.same((await h.call('GET', '/v1/access-keys')).json().items.map((k: Key) => k.accessKeyId), [key.accessKeyId], 'nothing was created')
  t.equal(h.audit.recent({ type: 'admin.accessKey.create' }).length, 1, 'a refused request never reaches the handler (only the first create is audited)')

  const forged = await h.call('GET', '/v1/instances', undefined, { accessKeyId: key.accessKeyId, accessKeySecret: 'guess' })
  t.same([forged.statusCode, forged.json().code], [401, 'SIGNATURE_INVALID'], 'without the secret the key is not even said to exist')
  t.equal((await h.call('GET', '/v1/instances', undefined, key)).statusCode, 403)

  await h.app.close() // ends the aggregation interval: the repeated ListInstances refusal is in the summary
  const refusals = h.audit.recent({ type: 'admin.request.refused' })
  t.same(refusals.map((e) => [e.reason, e.details['action']]), [
    ['ACCESS_DENIED', 'admin:ListInstances'], ['ACCESS_DENIED', 'admin:CreateAccessKey'], ['SIGNATURE_INVALID', undefined], ['ACCESS_DENIED', 'admin:ListInstances'],
  ], 'each refused action is recorded at once, a repeat only in the summary')
  t.same(refusals.map((e) => e.actor['id']), [key.accessKeyId, key.accessKeyId, key.accessKeyId, key.accessKeyId], 'the refusals (and the summary of one key) name the key that tried')
  t.equal(refusals[0]?.details['resource'], 'admin:instances')
  t.same(refusals[3]?.details['accessKeyIds'], [key.accessKeyId], 'so does the summary')
  t.equal(refusals[3]?.details['count'], 1)
})

t.test('a key created without an account belongs to root and may administer everything', async (t) => {
  const h = await adminHarness(t)
  const key = await createKey(t, h)
  t.equal((await h.call('GET', `/v1/access-keys/${key.accessKeyId}`)).json().accountId, 'root')
  const made = await h.call('POST', '/v1/instances', { id: 'by-key', protocol: 'mqtt' }, key)
  t.equal(made.statusCode, 201, made.body)
  const sub = await h.call('POST', '/v1/accounts', { id: 'team' }, key)
  t.equal(sub.statusCode, 201, 'it may create accounts anywhere')
  const other = await h.call('POST', '/v1/access-keys', { accountId: 'team' }, key)
  t.equal(other.statusCode, 201, 'and keys in them')
  t.equal(h.audit.recent({ type: 'admin.instance.create' })[0]?.actor['id'], key.accessKeyId, 'its changes are audited under its id')
})

t.test('an AccessKey is created in an existing account only; list and show name its account', async (t) => {
  const h = await adminHarness(t)
  const missing = await h.call('POST', '/v1/access-keys', { accountId: 'nope' })
  t.same([missing.statusCode, missing.json().code], [404, 'NOT_FOUND'])
  t.match(missing.json().message, /accountId/)
  const bad = await h.call('POST', '/v1/access-keys', { accountId: 'has space' })
  t.same([bad.statusCode, bad.json().code], [400, 'VALIDATION_FAILED'])
  t.match(bad.json().message, /accountId/)
  t.same(h.audit.recent({ type: 'admin.accessKey.create' }).map((e) => [e.outcome, e.reason]), [['failure', 'NOT_FOUND'], ['failure', 'VALIDATION_FAILED']])
  await h.call('POST', '/v1/accounts', { id: 'ops' })
  const key = await createKey(t, h, 'ops key', 'ops')
  t.match(key, { accountId: 'ops', description: 'ops key' })
  t.match((await h.call('GET', `/v1/access-keys/${key.accessKeyId}`)).json(), { accessKeyId: key.accessKeyId, accountId: 'ops' })
  t.match((await h.call('GET', '/v1/access-keys')).json().items, [{ accessKeyId: key.accessKeyId, accountId: 'ops' }])
  t.match(h.audit.recent({ type: 'admin.accessKey.create' }).at(-1)?.details['after'], { accessKeyId: key.accessKeyId, accountId: 'ops' })
})

t.test('without its secret, an Active, disabled, deleted or unknown AccessKey answers alike, so its state cannot be probed', async (t) => {
  const h = await adminHarness(t)
  const key = await createKey(t, h)
  const answer = async (k: Key): Promise<[number, string]> => {
    const res = await h.call('GET', '/v1/access-keys', undefined, { accessKeyId: k.accessKeyId, accessKeySecret: 'a-guess' })
    return [res.statusCode, res.json().code]
  }
  const active = await answer(key)
  t.equal((await h.call('PATCH', `/v1/access-keys/${key.accessKeyId}`, { status: 'Inactive' })).statusCode, 200)
  const disabled = await answer(key)
  t.equal((await h.call('DELETE', `/v1/access-keys/${key.accessKeyId}`)).statusCode, 204)
  const deleted = await answer(key)
  const unknown = await answer({ accessKeyId: 'LTAI00000000000000000000', accessKeySecret: 'x' })
  for (const got of [active, disabled, deleted, unknown]) t.same(got, [401, 'SIGNATURE_INVALID'])
  // Only the operator's audit tells the cases apart (one event per source and code at once).
  t.same(h.audit.recent({ type: 'admin.request.refused' }).map((e) => e.reason), ['SIGNATURE_INVALID', 'ACCESS_KEY_INACTIVE', 'ACCESS_KEY_UNKNOWN'])
})

t.test('PATCH changes the status with before/after in the audit; bad input and unknown keys are refused', async (t) => {
  const h = await adminHarness(t)
  const key = await createKey(t, h)
  const path = `/v1/access-keys/${key.accessKeyId}`
  t.equal((await h.call('PATCH', path, { status: 'Inactive' })).statusCode, 200)
  const [event] = h.audit.recent({ type: 'admin.accessKey.update' })
  t.equal(event?.details['accessKeyId'], key.accessKeyId)
  t.match(event?.details['before'], { status: 'Active' })
  t.match(event?.details['after'], { status: 'Inactive' })
  const bad = await h.call('PATCH', path, { status: 'Disabled' })
  t.equal(bad.statusCode, 400)
  t.equal(bad.json().code, 'VALIDATION_FAILED')
  t.equal((await h.call('PATCH', path, { status: 'Active', description: 'x' })).statusCode, 400, 'only status can change')
  const missing = await h.call('PATCH', '/v1/access-keys/LTAInope', { status: 'Active' })
  t.equal(missing.statusCode, 404)
  t.equal(missing.json().code, 'NOT_FOUND')
  t.equal((await h.call('DELETE', '/v1/access-keys/LTAInope')).statusCode, 404)
  t.equal((await h.call('GET', '/v1/access-keys/LTAInope')).statusCode, 404)
})

t.test('deleting an AccessKey deletes its static accounts and says which in the audit', async (t) => {
  const h = await adminHarness(t)
  const key = await createKey(t, h)
  await h.call('POST', '/v1/instances', { id: 'rabbit', protocol: 'amqp', backend: { host: '127.0.0.1', port: 5672 } })
  const made = await h.call('POST', '/v1/instances/rabbit/static-accounts', createAccountBody('rabbit', key.accessKeyId, key.accessKeySecret, '1700000000000'))
  t.equal(made.statusCode, 201, made.body)
  t.equal((await h.call('DELETE', `/v1/access-keys/${key.accessKeyId}`)).statusCode, 204)
  t.same((await h.call('GET', '/v1/instances/rabbit/static-accounts')).json(), { items: [] })
  const [event] = h.audit.recent({ type: 'admin.accessKey.delete' })
  t.match(event?.details['before'], { accessKeyId: key.accessKeyId })
  t.same(event?.details['after'], { deletedStaticAccounts: [{ instanceId: 'rabbit', userName: made.json().userName }], detachedPolicies: [] })
})

t.test('a security token is issued for an Active key; the audit has its id and expiry only', async (t) => {
  const h = await adminHarness(t)
  const key = await createKey(t, h)
  const before = Date.now()
  const res = await h.call('POST', `/v1/access-keys/${key.accessKeyId}/security-tokens`, { ttlSeconds: 600 })
  t.equal(res.statusCode, 200, res.body)
  t.equal(res.headers['cache-control'], 'no-store')
  const issued = res.json()
  t.equal(issued.accessKeyId, key.accessKeyId)
  const expires = Date.parse(issued.expiresAt)
  t.ok(expires >= before + 600_000 && expires <= Date.now() + 600_000, 'expires after the asked TTL')
  t.match(verifySecurityToken(h.keyring, issued.securityToken, key.accessKeyId, Date.now()), { ok: true, tokenId: issued.tokenId })

  const [event] = h.audit.recent({ type: 'admin.securityToken.issue' })
  t.same(event?.details['after'], { id: issued.tokenId, expiresAt: issued.expiresAt })
  t.notOk(JSON.stringify(h.audit.recent({})).includes(issued.securityToken), 'the token is not in the audit')

  const defaulted = await h.call('POST', `/v1/access-keys/${key.accessKeyId}/security-tokens`, {})
  t.equal(defaulted.statusCode, 200, 'ttlSeconds defaults (one hour)')
  t.ok(Math.abs(Date.parse(defaulted.json().expiresAt) - Date.now() - 3_600_000) < 60_000)

  const tooLong = await h.call('POST', `/v1/access-keys/${key.accessKeyId}/security-tokens`, { ttlSeconds: 86_400 * 2 })
  t.equal(tooLong.statusCode, 400)
  t.equal(tooLong.json().code, 'VALIDATION_FAILED')
  const unknown = await h.call('POST', '/v1/access-keys/LTAInope/security-tokens', { ttlSeconds: 600 })
  t.equal(unknown.statusCode, 404)
  await h.call('PATCH', `/v1/access-keys/${key.accessKeyId}`, { status: 'Inactive' })
  const inactive = await h.call('POST', `/v1/access-keys/${key.accessKeyId}/security-tokens`, { ttlSeconds: 600 })
  t.equal(inactive.statusCode, 403)
  t.equal(inactive.json().code, 'ACCESS_KEY_INACTIVE')
  t.same(h.audit.recent({ type: 'admin.securityToken.issue' }).map((e) => e.outcome), ['success', 'success', 'failure', 'failure', 'failure'])
})

t.test('AccessKey lists page with nextToken', async (t) => {
  const h = await adminHarness(t)
  const ids = [(await createKey(t, h)).accessKeyId, (await createKey(t, h)).accessKeyId, (await createKey(t, h)).accessKeyId].sort()
  const first = (await h.call('GET', '/v1/access-keys?limit=2')).json()
  t.same(first.items.map((k: { accessKeyId: string }) => k.accessKeyId), ids.slice(0, 2))
  const second = (await h.call('GET', `/v1/access-keys?limit=2&nextToken=${first.nextToken as string}`)).json()
  t.same(second, { items: [{ ...second.items[0], accessKeyId: ids[2] }] })
})
