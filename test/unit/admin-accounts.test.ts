import t from 'tap'
import { accountKey, adminHarness, grant, ROOT } from '../helpers/admin-harness'

t.test('root and legacy always exist: listed and shown, never created or deleted', async (t) => {
  const h = await adminHarness(t)
  const list = await h.call('GET', '/v1/accounts')
  t.equal(list.statusCode, 200)
  t.same(list.json().items.map((a: { id: string }) => a.id), ['legacy', 'root'])
  t.notOk('parentId' in list.json().items[1], 'root has no parent')
  for (const id of ['legacy']) {
    t.same([(await h.call('POST', '/v1/accounts', { id })).statusCode, (await h.call('DELETE', `/v1/accounts/${id}`)).statusCode], [409, 400], `${id} is built in`)
  }
  t.match((await h.call('GET', '/v1/accounts/root')).json(), { id: 'root' })
  const create = await h.call('POST', '/v1/accounts', { id: 'root' })
  t.same([create.statusCode, create.json().code], [409, 'ALREADY_EXISTS'])
  const remove = await h.call('DELETE', '/v1/accounts/root')
  t.same([remove.statusCode, remove.json().code], [400, 'VALIDATION_FAILED'])
  t.match(remove.json().message, /root/)
  t.same(await h.store.list('accounts', '_'), [], 'root is never stored')
})

t.test('an account is created, listed, shown and deleted, each change audited with before/after', async (t) => {
  const h = await adminHarness(t)
  const made = await h.call('POST', '/v1/accounts', { id: 'ops', displayName: 'Operations' })
  t.equal(made.statusCode, 201, made.body)
  t.match(made.json(), { id: 'ops', displayName: 'Operations', createdAt: String, updatedAt: String })
  t.notOk('parentId' in made.json(), 'no parent given: directly under root')
  const sub = await h.call('POST', '/v1/accounts', { id: 'ops.eu', parentId: 'ops' })
  t.equal(sub.statusCode, 201, sub.body)
  t.equal(sub.json().parentId, 'ops')
  t.same((await h.call('GET', '/v1/accounts')).json().items.map((a: { id: string }) => a.id), ['legacy', 'ops', 'ops.eu', 'root'])
  t.match((await h.call('GET', '/v1/accounts/ops.eu')).json(), { id: 'ops.eu', parentId: 'ops' })

  const [created] = h.audit.recent({ type: 'admin.account.create' })
  t.match(created, { outcome: 'success', actor: { id: ROOT.accessKeyId }, details: { accountId: 'ops', before: null, after: { id: 'ops', displayName: 'Operations' } } })

  t.equal((await h.call('DELETE', '/v1/accounts/ops.eu')).statusCode, 204)
  t.equal((await h.call('GET', '/v1/accounts/ops.eu')).statusCode, 404)
  const [deleted] = h.audit.recent({ type: 'admin.account.delete' })
  t.match(deleted, { outcome: 'success', details: { accountId: 'ops.eu', before: { id: 'ops.eu', parentId: 'ops' }, after: { detachedPolicies: [] } } })
})

t.test('bad bodies are refused 400 naming the field; duplicates 409; an unknown parent 404', async (t) => {
  const h = await adminHarness(t)
  const cases: Array<[unknown, RegExp]> = [
    [{}, /id/],
    [{ id: 'has space' }, /id/],
    [{ id: '-leading' }, /id/],
    [{ id: 'x'.repeat(65) }, /id/],
    [{ id: 'ok', displayName: 'bell\u0007' }, /displayName/],
    [{ id: 'ok', parentId: 'a/b' }, /parentId/],
    [{ id: 'ok', owner: 'me' }, /owner/],
  ]
  for (const [body, field] of cases) {
    const res = await h.call('POST', '/v1/accounts', body)
    t.same([res.statusCode, res.json().code], [400, 'VALIDATION_FAILED'], JSON.stringify(body))
    t.match(res.json().message, field, `names the field: ${res.json().message}`)
  }
  const orphan = await h.call('POST', '/v1/accounts', { id: 'orphan', parentId: 'nobody' })
  t.same([orphan.statusCode, orphan.json().code], [404, 'NOT_FOUND'])
  t.match(orphan.json().message, /parentId/)
  t.equal((await h.call('POST', '/v1/accounts', { id: 'ops' })).statusCode, 201)
  const twice = await h.call('POST', '/v1/accounts', { id: 'ops' })
  t.same([twice.statusCode, twice.json().code], [409, 'ALREADY_EXISTS'])
  t.equal((await h.call('GET', '/v1/accounts/nobody')).statusCode, 404)
  t.equal((await h.call('DELETE', '/v1/accounts/nobody')).statusCode, 404)
  const failures = h.audit.recent({ type: 'admin.account.create' }).filter((e) => e.outcome === 'failure')
  t.equal(failures.length, cases.length + 2, 'every refused create is audited as a failure')
  t.equal(failures.at(-1)?.reason, 'ALREADY_EXISTS')
})

t.test('an account with sub-accounts or AccessKeys is not deleted: 409 ACCOUNT_IN_USE naming them', async (t) => {
  const h = await adminHarness(t)
  await h.call('POST', '/v1/accounts', { id: 'ops' })
  await h.call('POST', '/v1/accounts', { id: 'ops-child', parentId: 'ops' })
  const withChild = await h.call('DELETE', '/v1/accounts/ops')
  t.same([withChild.statusCode, withChild.json().code], [409, 'ACCOUNT_IN_USE'])
  t.match(withChild.json().message, /sub-account.*ops-child/)
  t.equal((await h.call('DELETE', '/v1/accounts/ops-child')).statusCode, 204)

  const key = await accountKey(h, 'ops')
  const withKey = await h.call('DELETE', '/v1/accounts/ops')
  t.same([withKey.statusCode, withKey.json().code], [409, 'ACCOUNT_IN_USE'])
  t.match(withKey.json().message, new RegExp(`AccessKey.*${key.accessKeyId}`))
  t.equal(h.audit.recent({ type: 'admin.account.delete' }).filter((e) => e.reason === 'ACCOUNT_IN_USE').length, 2)

  t.equal((await h.call('DELETE', `/v1/access-keys/${key.accessKeyId}`)).statusCode, 204)
  t.equal((await h.call('DELETE', '/v1/accounts/ops')).statusCode, 204, 'free once its keys and sub-accounts are gone')
})

t.test('deleting an account removes its account: attachments, and its policies can then be deleted', async (t) => {
  const h = await adminHarness(t)
  await h.call('POST', '/v1/accounts', { id: 'ops' })
  await grant(h, 'read-all', 'account:ops', [{ effect: 'Allow', actions: ['admin:List*'], resources: ['*'] }])
  await grant(h, 'read-all', 'account:root', [{ effect: 'Allow', actions: ['admin:List*'], resources: ['*'] }])
  t.equal((await h.call('DELETE', '/v1/policies/read-all')).json().code, 'POLICY_ATTACHED')
  t.equal((await h.call('DELETE', '/v1/accounts/ops')).statusCode, 204)
  t.same((await h.call('GET', '/v1/policies/read-all/attachments')).json().items.map((a: { principal: string }) => a.principal), ['account:root'], 'only the deleted account\'s attachment went')
  t.match(h.audit.recent({ type: 'admin.account.delete' })[0]?.details['after'], { detachedPolicies: ['read-all'] })
  // A new account of the same name starts with no grants.
  const again = await accountKey(h, 'ops')
  t.equal((await h.call('GET', '/v1/instances', undefined, again)).statusCode, 403)
})

t.test('accounts page with nextToken', async (t) => {
  const h = await adminHarness(t)
  for (const id of ['a1', 'a2', 'a3']) await h.call('POST', '/v1/accounts', { id })
  const first = await h.call('GET', '/v1/accounts?limit=3')
  t.same(first.json().items.map((a: { id: string }) => a.id), ['a1', 'a2', 'a3'])
  const rest = await h.call('GET', `/v1/accounts?limit=3&nextToken=${first.json().nextToken}`)
  t.same(rest.json().items.map((a: { id: string }) => a.id), ['legacy', 'root'])
  t.notOk('nextToken' in rest.json())
  t.equal((await h.call('GET', '/v1/accounts?bogus=1')).statusCode, 400, 'unknown query parameters are refused')
})
