import { createHash, X509Certificate } from 'node:crypto'
import t from 'tap'
import { removeInstanceAttachments } from '../../src/accounts/attachments'
import { createCa, createLeaf, createVerificationCertificate } from '../../src/ca/pki'
import { accountKey, adminHarness, ROOT, type AdminHarness } from '../helpers/admin-harness'

const READ_ALL = [{ effect: 'Allow', actions: ['admin:List*', 'admin:Get*'], resources: ['admin:*'] }]

async function putPolicy(t: tap.Test, h: AdminHarness, name: string, statements: unknown = READ_ALL): Promise<void> {
  const res = await h.call('PUT', `/v1/policies/${name}`, { statements })
  t.ok(res.statusCode === 201 || res.statusCode === 200, res.body)
}

/** An MQTT instance with one registered CA (through the API); answers the CA id. */
async function instanceWithCa(t: tap.Test, h: AdminHarness, instanceId: string): Promise<string> {
  t.equal((await h.call('POST', '/v1/instances', { id: instanceId, protocol: 'mqtt' })).statusCode, 201)
  const ca = await createCa({ commonName: `${instanceId} CA` })
  const { registrationCode } = (await h.call('POST', `/v1/instances/${instanceId}/registration-code`)).json() as { registrationCode: string }
  const verification = await createVerificationCertificate({ registrationCode, ca })
  const res = await h.call('POST', `/v1/instances/${instanceId}/cas`, { caCertificate: ca.cert, verificationCertificate: verification.cert })
  t.equal(res.statusCode, 201, res.body)
  return res.json().id as string
}

t.test('PUT creates (201) then replaces (200) a policy, counting versions; GET and list show it', async (t) => {
  const h = await adminHarness(t)
  const created = await h.call('PUT', '/v1/policies/ops-read', { statements: READ_ALL })
  t.equal(created.statusCode, 201, created.body)
  t.match(created.json(), { name: 'ops-read', statements: READ_ALL, version: 1, createdAt: String, updatedAt: String })
  const deny = [...READ_ALL, { effect: 'Deny', actions: ['admin:GetAccessKey'], resources: ['admin:access-keys/*'] }]
  const replaced = await h.call('PUT', '/v1/policies/ops-read', { statements: deny })
  t.equal(replaced.statusCode, 200)
  t.match(replaced.json(), { name: 'ops-read', version: 2, createdAt: created.json().createdAt })
  t.same(replaced.json().statements, deny)
  t.same((await h.call('GET', '/v1/policies/ops-read')).json(), replaced.json())
  await putPolicy(t, h, 'a-first')
  t.same((await h.call('GET', '/v1/policies')).json().items.map((p: { name: string; version: number }) => [p.name, p.version]), [['a-first', 1], ['ops-read', 2]])
  t.same((await h.call('GET', '/v1/policies?limit=1')).json().items.map((p: { name: string }) => p.name), ['a-first'])

  const puts = h.audit.recent({ type: 'admin.policy.put' })
  t.match(puts[0], { outcome: 'success', actor: { id: ROOT.accessKeyId }, details: { policy: 'ops-read', created: true, before: null, after: { version: 1 } } })
  t.match(puts[1], { details: { policy: 'ops-read', created: false, before: { version: 1 }, after: { version: 2 } } })
})

t.test('an invalid document or name is refused 400 naming the place; nothing is stored', async (t) => {
  const h = await adminHarness(t)
  const cases: Array<[string, unknown, RegExp]> = [
    ['p', {}, /statements/],
    ['p', { statements: [] }, /statements/],
    ['p', { statements: [{ effect: 'Maybe', actions: ['admin:*'], resources: ['*'] }] }, /statements\.0\.effect/],
    ['p', { statements: [{ effect: 'Allow', actions: ['admin:MakeCoffee'], resources: ['*'] }] }, /statements\.0\.actions\.0.*MakeCoffee/],
    ['p', { statements: [{ effect: 'Allow', actions: ['admin:*'], resources: ['admin:${nope}'] }] }, /statements\.0\.resources\.0/],
    ['p', { statements: READ_ALL, extra: true }, /extra/],
    ['bad%20name', { statements: READ_ALL }, /name/],
  ]
  for (const [name, body, place] of cases) {
    const res = await h.call('PUT', `/v1/policies/${name}`, body)
    t.same([res.statusCode, res.json().code], [400, 'VALIDATION_FAILED'], JSON.stringify(body))
    t.match(res.json().message, place, res.json().message)
  }
  t.same((await h.call('GET', '/v1/policies')).json(), { items: [] })
  t.equal(h.audit.recent({ type: 'admin.policy.put' }).filter((e) => e.outcome === 'failure').length, cases.length)
  t.equal((await h.call('GET', '/v1/policies/nope')).statusCode, 404)
  t.equal((await h.call('DELETE', '/v1/policies/nope')).statusCode, 404)
})

t.test('every principal kind attaches when its subject exists; attaching twice is one record (200)', async (t) => {
  const h = await adminHarness(t)
  await putPolicy(t, h, 'p')
  const caId = await instanceWithCa(t, h, 'mq')
  const key = await accountKey(h, 'ops')
  const deviceId = 'ab'.repeat(32)
  const principals = ['account:ops', 'account:root', `accessKey:${key.accessKeyId}`, 'instance:mq', `ca:mq/${caId}`, `device:mq/${deviceId}`]
  for (const principal of principals) {
    const res = await h.call('POST', '/v1/policies/p/attachments', { principal })
    t.equal(res.statusCode, 201, `${principal}: ${res.body}`)
    t.match(res.json(), { policy: 'p', principal, createdAt: String })
  }
  const again = await h.call('POST', '/v1/policies/p/attachments', { principal: 'account:ops' })
  t.equal(again.statusCode, 200, 'attaching again answers the existing attachment')
  const listed = (await h.call('GET', '/v1/policies/p/attachments')).json().items.map((a: { principal: string }) => a.principal)
  t.same(listed, [...principals].sort(), 'one record each')
  t.same((await h.call('GET', '/v1/policies/p/attachments?limit=2')).json().items.length, 2)
  const attaches = h.audit.recent({ type: 'admin.policy.attach' })
  t.equal(attaches.length, principals.length + 1)
  t.match(attaches.at(-1), { outcome: 'success', details: { policy: 'p', principal: 'account:ops', created: false } })
})

t.test('a principal that is malformed is refused 400; one whose subject is missing 404', async (t) => {
  const h = await adminHarness(t)
  await putPolicy(t, h, 'p')
  const caId = await instanceWithCa(t, h, 'mq')
  const malformed: unknown[] = [
    undefined, 42, '', 'user:alice', 'account:', 'account:a b', 'instance:', 'ca:mq', `ca:mq/${caId.toUpperCase()}`,
    'device:mq/1234', `device:/${'ab'.repeat(32)}`, `device:mq/${'ab'.repeat(32)}/x`,
  ]
  for (const principal of malformed) {
    const res = await h.call('POST', '/v1/policies/p/attachments', principal === undefined ? {} : { principal })
    t.same([res.statusCode, res.json().code], [400, 'VALIDATION_FAILED'], `${String(principal)}`)
    t.match(res.json().message, /principal/)
  }
  const missing = ['account:nobody', 'accessKey:LTAI00000000000000000000', 'instance:nope', `ca:nope/${caId}`, `ca:mq/${'cd'.repeat(32)}`, `device:nope/${'ab'.repeat(32)}`]
  for (const principal of missing) {
    const res = await h.call('POST', '/v1/policies/p/attachments', { principal })
    t.same([res.statusCode, res.json().code], [404, 'NOT_FOUND'], principal)
    t.match(res.json().message, principal)
  }
  const unknownPolicy = await h.call('POST', '/v1/policies/nope/attachments', { principal: 'account:root' })
  t.same([unknownPolicy.statusCode, unknownPolicy.json().code], [404, 'NOT_FOUND'])
  t.match(unknownPolicy.json().message, /policy nope/)
  t.equal((await h.call('POST', '/v1/policies/p/attachments', { principal: 'account:root', also: 1 })).statusCode, 400, 'unknown body keys are refused')
  t.same((await h.call('GET', '/v1/policies/p/attachments')).json(), { items: [] }, 'nothing was attached')
  t.equal((await h.call('GET', '/v1/policies/nope/attachments')).statusCode, 404)
})

t.test('detach takes the percent-encoded principal; a policy is deleted only once detached (409 POLICY_ATTACHED)', async (t) => {
  const h = await adminHarness(t)
  await putPolicy(t, h, 'p')
  const caId = await instanceWithCa(t, h, 'mq')
  const principal = `ca:mq/${caId}`
  t.equal((await h.call('POST', '/v1/policies/p/attachments', { principal })).statusCode, 201)
  const refused = await h.call('DELETE', '/v1/policies/p')
  t.same([refused.statusCode, refused.json().code], [409, 'POLICY_ATTACHED'])
  t.match(refused.json().message, principal)
  t.match(h.audit.recent({ type: 'admin.policy.delete' })[0], { outcome: 'failure', reason: 'POLICY_ATTACHED', details: { policy: 'p' } })

  const path = `/v1/policies/p/attachments/${encodeURIComponent(principal)}`
  t.match(path, /ca%3Amq%2F/)
  t.equal((await h.call('DELETE', path)).statusCode, 204)
  t.match(h.audit.recent({ type: 'admin.policy.detach' })[0], { outcome: 'success', details: { policy: 'p', principal, before: { principal }, after: null } })
  const twice = await h.call('DELETE', path)
  t.same([twice.statusCode, twice.json().code], [404, 'NOT_FOUND'], 'detaching what is not attached is 404')
  t.equal((await h.call('DELETE', '/v1/policies/nope/attachments/account%3Aroot')).statusCode, 404)

  t.equal((await h.call('DELETE', '/v1/policies/p')).statusCode, 204)
  t.equal((await h.call('GET', '/v1/policies/p')).statusCode, 404)
  t.match(h.audit.recent({ type: 'admin.policy.delete' })[1], { outcome: 'success', details: { policy: 'p', before: { name: 'p', version: 1 }, after: null } })
})

t.test('deleting an AccessKey removes its accessKey: attachments and says which in the audit', async (t) => {
  const h = await adminHarness(t)
  await putPolicy(t, h, 'p')
  await putPolicy(t, h, 'q')
  const key = await accountKey(h, 'ops')
  for (const policy of ['p', 'q']) await h.call('POST', `/v1/policies/${policy}/attachments`, { principal: `accessKey:${key.accessKeyId}` })
  await h.call('POST', '/v1/policies/p/attachments', { principal: 'account:ops' })
  t.equal((await h.call('DELETE', `/v1/access-keys/${key.accessKeyId}`)).statusCode, 204)
  t.same((await h.call('GET', '/v1/policies/p/attachments')).json().items.map((a: { principal: string }) => a.principal), ['account:ops'])
  t.same((await h.call('GET', '/v1/policies/q/attachments')).json(), { items: [] })
  t.match(h.audit.recent({ type: 'admin.accessKey.delete' })[0]?.details['after'], { detachedPolicies: ['p', 'q'] })
  t.equal((await h.call('DELETE', '/v1/policies/q')).statusCode, 204, 'q is free to delete')
})

t.test('a device may be granted before it first connects; once registered, the same principal names it', async (t) => {
  const h = await adminHarness(t)
  await putPolicy(t, h, 'p')
  const ca = await createCa({ commonName: 'Fleet CA' })
  t.equal((await h.call('POST', '/v1/instances', { id: 'mq', protocol: 'mqtt' })).statusCode, 201)
  const device = await createLeaf({ commonName: 'sensor-1', issuer: ca, kind: 'client' })
  const deviceId = createHash('sha256').update(new X509Certificate(device.cert).raw).digest('hex')
  t.equal((await h.call('POST', '/v1/policies/p/attachments', { principal: `device:mq/${deviceId}` })).statusCode, 201, 'not yet registered')
  t.equal((await h.call('GET', `/v1/instances/mq/devices/${deviceId}`)).statusCode, 404, 'the device is indeed unknown')
})

t.test('removeInstanceAttachments drops the instance:, ca: and device: grants of one instance only', async (t) => {
  const h = await adminHarness(t)
  await putPolicy(t, h, 'p')
  const caId = await instanceWithCa(t, h, 'mq')
  t.equal((await h.call('POST', '/v1/instances', { id: 'mq2', protocol: 'mqtt' })).statusCode, 201)
  const device = `device:mq/${'ab'.repeat(32)}`
  for (const principal of ['instance:mq', `ca:mq/${caId}`, device, 'instance:mq2', `device:mq2/${'ab'.repeat(32)}`, 'account:root']) {
    t.equal((await h.call('POST', '/v1/policies/p/attachments', { principal })).statusCode, 201, principal)
  }
  const removed = await removeInstanceAttachments(h.store, 'mq')
  t.same(removed.map((r) => r.principal).sort(), [`ca:mq/${caId}`, device, 'instance:mq'].sort())
  t.same((await h.call('GET', '/v1/policies/p/attachments')).json().items.map((a: { principal: string }) => a.principal),
    ['account:root', `device:mq2/${'ab'.repeat(32)}`, 'instance:mq2'], 'another instance whose id starts the same keeps its grants')
})
