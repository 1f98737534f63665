import Fastify, { type RouteOptions } from 'fastify'
import t from 'tap'
import { adminResource } from '../../src/admin/authorization/resource'
import { requireAdminAction, withAction } from '../../src/admin/authorization/route-action'
import { v1Routes } from '../../src/admin/server'
import { createCa, createLeaf, createVerificationCertificate } from '../../src/ca/pki'
import { ADMIN_ACTIONS } from '../../src/policy/authorization/types'
import { accountKey, adminHarness, grant, ROOT, type AdminHarness } from '../helpers/admin-harness'

/** An MQTT instance with a registered CA and one ACTIVE device, all through the API as root. */
async function instanceWithDevice(t: tap.Test, h: AdminHarness, instanceId: string): Promise<string> {
  t.equal((await h.call('POST', '/v1/instances', { id: instanceId, protocol: 'mqtt' })).statusCode, 201)
  const ca = await createCa({ commonName: `${instanceId} CA` })
  const { registrationCode } = (await h.call('POST', `/v1/instances/${instanceId}/registration-code`)).json() as { registrationCode: string }
  const verification = await createVerificationCertificate({ registrationCode, ca })
  t.equal((await h.call('POST', `/v1/instances/${instanceId}/cas`, { caCertificate: ca.cert, verificationCertificate: verification.cert })).statusCode, 201)
  const device = await createLeaf({ commonName: 'sensor-1', issuer: ca, kind: 'client' })
  const res = await h.call('POST', `/v1/instances/${instanceId}/devices`, { certificate: device.cert })
  t.equal(res.statusCode, 201, res.body)
  return res.json().id as string
}

t.test('the worked example: an ops sub-account may revoke devices but not create instances', async (t) => {
  const h = await adminHarness(t)
  const prodDevice = await instanceWithDevice(t, h, 'prod')
  const stagingDevice = await instanceWithDevice(t, h, 'staging')
  const ops = await accountKey(h, 'ops')
  await grant(h, 'ops-devices', 'account:ops', [
    { effect: 'Allow', actions: ['admin:RevokeDevice', 'admin:GetDevice'], resources: ['admin:instances/prod/devices/*'] },
  ])

  const revoked = await h.call('POST', `/v1/instances/prod/devices/${prodDevice}/revoke`, undefined, ops)
  t.equal(revoked.statusCode, 200, revoked.body)
  t.equal(revoked.json().status, 'REVOKED')
  t.equal((await h.call('GET', `/v1/instances/prod/devices/${prodDevice}`, undefined, ops)).json().status, 'REVOKED')
  t.match(h.audit.recent({ type: 'admin.device.revoke' })[0], { outcome: 'success', actor: { id: ops.accessKeyId } })

  const create = await h.call('POST', '/v1/instances', { id: 'rogue', protocol: 'mqtt' }, ops)
  t.same([create.statusCode, create.json().code], [403, 'ACCESS_DENIED'])
  t.equal(create.json().message, `AccessKey ${ops.accessKeyId} may not admin:CreateInstance on admin:instances`)
  t.equal((await h.call('GET', '/v1/instances/rogue')).statusCode, 404, 'nothing was created')
  t.equal(h.audit.recent({ type: 'admin.instance.create' }).filter((e) => e.actor['id'] === ops.accessKeyId).length, 0, 'the handler never ran')

  const elsewhere = await h.call('POST', `/v1/instances/staging/devices/${stagingDevice}/revoke`, undefined, ops)
  t.equal(elsewhere.statusCode, 403, 'the grant is for prod devices only')
  t.equal(elsewhere.json().message, `AccessKey ${ops.accessKeyId} may not admin:RevokeDevice on admin:instances/staging/devices/${stagingDevice}`)
  t.equal((await h.call('POST', `/v1/instances/prod/devices/${prodDevice}/activate`, undefined, ops)).statusCode, 403, 'and for revoking only')

  t.same(h.decisions.map((d) => [d.action, d.allowed]).slice(-6), [
    ['admin:RevokeDevice', true], ['admin:GetDevice', true], ['admin:CreateInstance', false],
    ['admin:GetInstance', true], // root's check that nothing was created
    ['admin:RevokeDevice', false], ['admin:ActivateDevice', false],
  ], 'each decision is counted with its action and result')
  const refused = h.audit.recent({ type: 'admin.request.refused' })
  t.match(refused[0], { reason: 'ACCESS_DENIED', actor: { id: ops.accessKeyId }, details: { action: 'admin:CreateInstance', resource: 'admin:instances', method: 'POST', path: '/v1/instances' } })
})

t.test('an explicit Deny beats any Allow, whether on the key or on its account', async (t) => {
  const h = await adminHarness(t)
  for (const id of ['prod', 'staging', 'dev']) await h.call('POST', '/v1/instances', { id, protocol: 'mqtt' })
  const key = await accountKey(h, 'ops')
  await grant(h, 'everything', 'account:ops', [{ effect: 'Allow', actions: ['admin:*'], resources: ['*'] }])
  await grant(h, 'keep-prod', `accessKey:${key.accessKeyId}`, [{ effect: 'Deny', actions: ['admin:DeleteInstance'], resources: ['admin:instances/prod'] }])
  await grant(h, 'mixed', 'account:ops', [
    { effect: 'Allow', actions: ['admin:DeleteInstance'], resources: ['admin:instances/staging'] },
    { effect: 'Deny', actions: ['admin:Delete*'], resources: ['admin:instances/stag*'] },
  ])
  const prod = await h.call('DELETE', '/v1/instances/prod', undefined, key)
  t.same([prod.statusCode, prod.json().code], [403, 'ACCESS_DENIED'], 'the Deny on the key wins over the account\'s Allow')
  t.match(prod.json().message, /admin:DeleteInstance on admin:instances\/prod$/)
  t.equal((await h.call('DELETE', '/v1/instances/staging', undefined, key)).statusCode, 403, 'a Deny wins within one policy too')
  t.equal((await h.call('DELETE', '/v1/instances/dev', undefined, key)).statusCode, 204, 'what no Deny covers, the Allow allows')
  t.equal((await h.call('GET', '/v1/instances/prod', undefined, key)).statusCode, 200, 'the Deny covers deleting only')
})

t.test('the root key and every key of the root account may do everything, whatever is attached to them', async (t) => {
  const h = await adminHarness(t)
  const rootAccountKey = await accountKey(h, 'root')
  await grant(h, 'deny-all', 'account:root', [{ effect: 'Deny', actions: ['*'], resources: ['*'] }])
  await h.call('POST', '/v1/policies/deny-all/attachments', { principal: `accessKey:${rootAccountKey.accessKeyId}` })
  for (const key of [ROOT, rootAccountKey]) {
    const id = `by-${key.accessKeyId.toLowerCase()}`
    t.equal((await h.call('POST', '/v1/instances', { id, protocol: 'mqtt' }, key)).statusCode, 201, `${key.accessKeyId} creates`)
    t.equal((await h.call('DELETE', `/v1/instances/${id}`, undefined, key)).statusCode, 204, `${key.accessKeyId} deletes`)
    t.equal((await h.call('GET', '/v1/audit', undefined, key)).statusCode, 200)
  }
})

t.test('grants are read from the store on every request: a detach or a replaced policy applies to the next call', async (t) => {
  const h = await adminHarness(t)
  const key = await accountKey(h, 'ops')
  t.equal((await h.call('GET', '/v1/instances', undefined, key)).statusCode, 403, 'no policy: denied')
  await grant(h, 'read', 'account:ops', [{ effect: 'Allow', actions: ['admin:ListInstances'], resources: ['admin:instances'] }])
  t.equal((await h.call('GET', '/v1/instances', undefined, key)).statusCode, 200, 'attached: allowed at once')
  await h.call('PUT', '/v1/policies/read', { statements: [{ effect: 'Allow', actions: ['admin:ListCas'], resources: ['*'] }] })
  t.equal((await h.call('GET', '/v1/instances', undefined, key)).statusCode, 403, 'replaced: the old grant is gone at once')
  await h.call('PUT', '/v1/policies/read', { statements: [{ effect: 'Allow', actions: ['admin:ListInstances'], resources: ['*'] }] })
  t.equal((await h.call('GET', '/v1/instances', undefined, key)).statusCode, 200)
  t.equal((await h.call('DELETE', '/v1/policies/read/attachments/account%3Aops')).statusCode, 204)
  t.equal((await h.call('GET', '/v1/instances', undefined, key)).statusCode, 403, 'detached: denied at once')
})

t.test('${accessKeyId} in a resource is the signing key: a key may be granted itself only', async (t) => {
  const h = await adminHarness(t)
  const a = await accountKey(h, 'ops')
  const b = await accountKey(h, 'ops')
  await grant(h, 'self', 'account:ops', [{ effect: 'Allow', actions: ['admin:GetAccessKey'], resources: ['admin:access-keys/${accessKeyId}'] }])
  t.equal((await h.call('GET', `/v1/access-keys/${a.accessKeyId}`, undefined, a)).statusCode, 200)
  t.equal((await h.call('GET', `/v1/access-keys/${b.accessKeyId}`, undefined, b)).statusCode, 200)
  const other = await h.call('GET', `/v1/access-keys/${b.accessKeyId}`, undefined, a)
  t.equal(other.statusCode, 403)
  t.equal(other.json().message, `AccessKey ${a.accessKeyId} may not admin:GetAccessKey on admin:access-keys/${b.accessKeyId}`)
})

t.test('escalation guards: a sub-account key creates AccessKeys and accounts only within its own subtree', async (t) => {
  const h = await adminHarness(t)
  const ops = await accountKey(h, 'ops')
  await h.call('POST', '/v1/accounts', { id: 'ops-eu', parentId: 'ops' })
  await h.call('POST', '/v1/accounts', { id: 'finance' })
  await grant(h, 'iam', 'account:ops', [{ effect: 'Allow', actions: ['admin:CreateAccessKey', 'admin:CreateAccount'], resources: ['*'] }])

  const own = await h.call('POST', '/v1/access-keys', { accountId: 'ops' }, ops)
  t.equal(own.statusCode, 201, own.body)
  t.equal(own.json().accountId, 'ops')
  t.equal((await h.call('POST', '/v1/access-keys', { accountId: 'ops-eu' }, ops)).statusCode, 201, 'in a sub-account')
  for (const body of [{}, { accountId: 'root' }, { accountId: 'finance' }, { accountId: 'nobody' }]) {
    const res = await h.call('POST', '/v1/access-keys', body, ops)
    t.same([res.statusCode, res.json().code], [403, 'ACCESS_DENIED'], `AccessKey ${JSON.stringify(body)}`)
    t.match(res.json().message, /only in its own account and its sub-accounts/)
  }
  t.equal((await h.call('POST', '/v1/accounts', { id: 'ops-us', parentId: 'ops' }, ops)).statusCode, 201)
  t.equal((await h.call('POST', '/v1/accounts', { id: 'ops-us-east', parentId: 'ops-us' }, ops)).statusCode, 201, 'under a sub-account it made')
  for (const body of [{ id: 'top' }, { id: 'x', parentId: 'root' }, { id: 'y', parentId: 'finance' }, { id: 'z', parentId: 'nobody' }]) {
    const res = await h.call('POST', '/v1/accounts', body, ops)
    t.same([res.statusCode, res.json().code], [403, 'ACCESS_DENIED'], `account ${JSON.stringify(body)}`)
  }
  const keys = (await h.call('GET', '/v1/access-keys')).json().items as Array<{ accountId: string }>
  t.same(keys.map((k) => k.accountId).sort(), ['ops', 'ops', 'ops-eu'], 'no key landed outside the subtree')
  t.same((await h.call('GET', '/v1/accounts')).json().items.map((a: { id: string }) => a.id), ['finance', 'legacy', 'ops', 'ops-eu', 'ops-us', 'ops-us-east', 'root'])
  const refusedKeys = h.audit.recent({ type: 'admin.accessKey.create' }).filter((e) => e.outcome === 'failure')
  t.same(refusedKeys.map((e) => [e.reason, e.actor['id']]), Array(4).fill(['ACCESS_DENIED', ops.accessKeyId]), 'each refusal is audited')
})

t.test('a route registered without an admin action fails to register', async (t) => {
  const unguarded = adminHarness(t, { extraRoutes: () => [async (app) => { app.get('/unguarded', async () => ({ open: true })) }] })
  await t.rejects(unguarded, /admin route GET \/v1\/unguarded declares no admin action/)
  const bogus = adminHarness(t, { extraRoutes: () => [async (app) => { app.get('/bogus', { config: { action: 'admin:Everything' as 'admin:ListAudit' } }, async () => ({})) }] })
  await t.rejects(bogus, /admin:Everything is not one/)

  // A route that declares one is decided like every other.
  const h = await adminHarness(t, { extraRoutes: () => [async (app) => { app.get('/extra/:id', withAction('admin:GetInstance'), async () => ({ ok: true })) }] })
  const key = await accountKey(h, 'ops')
  t.equal((await h.call('GET', '/v1/extra/x')).statusCode, 200)
  const denied = await h.call('GET', '/v1/extra/x', undefined, key)
  t.equal(denied.json().message, `AccessKey ${key.accessKeyId} may not admin:GetInstance on admin:extra/x`)
})

t.test('every /v1 route declares one admin action and every admin action has exactly one route', async (t) => {
  const h = await adminHarness(t)
  const app = Fastify()
  const seen: Array<{ route: string; action: unknown }> = []
  await app.register(async (v1) => {
    v1.addHook('onRoute', (route: RouteOptions) => {
      requireAdminAction(route)
      if (route.method !== 'HEAD') seen.push({ route: `${String(route.method)} ${route.url}`, action: route.config?.action })
    })
    for (const routes of v1Routes(h.ctx)) await v1.register(routes)
  }, { prefix: '/v1' })
  await app.ready()
  t.teardown(() => app.close())
  const actions = seen.map((s) => s.action)
  t.same([...actions].sort(), [...ADMIN_ACTIONS].sort(), 'one route per action, none left over')
  t.equal(new Set(actions).size, actions.length, 'no action serves two routes')
  t.comment(seen.map((s) => `${String(s.action)}  ${s.route}`).join('\n'))
})

t.test('the resource is admin: + the decoded route path, without a trailing verb', async (t) => {
  const cases: Array<[string, Record<string, string>, string]> = [
    ['/v1/instances', {}, 'admin:instances'],
    ['/v1/instances/:id', { id: 'prod' }, 'admin:instances/prod'],
    ['/v1/instances/:id/devices/:deviceId/revoke', { id: 'prod', deviceId: 'ab' }, 'admin:instances/prod/devices/ab'],
    ['/v1/instances/:id/cas/:caId/deactivate', { id: 'p', caId: 'c' }, 'admin:instances/p/cas/c'],
    ['/v1/instances/:id/registration-code', { id: 'p' }, 'admin:instances/p/registration-code'],
    ['/v1/access-keys/:id/security-tokens', { id: 'LTAIx' }, 'admin:access-keys/LTAIx/security-tokens'],
    ['/v1/policies/:name/attachments/:principal', { name: 'p', principal: 'ca:prod/ab' }, 'admin:policies/p/attachments/ca:prod/ab'],
    ['/v1/audit/stream', {}, 'admin:audit/stream'],
  ]
  for (const [url, params, resource] of cases) t.equal(adminResource(url, params), resource, url)

  // Through the server: the decoded principal, and no verb.
  const h = await adminHarness(t)
  const key = await accountKey(h, 'ops')
  const detach = await h.call('DELETE', '/v1/policies/p/attachments/device%3Aprod%2Fab', undefined, key)
  t.match(detach.json().message, / on admin:policies\/p\/attachments\/device:prod\/ab$/)
  const query = await h.call('GET', '/v1/connections?instanceId=prod', undefined, key)
  t.match(query.json().message, / admin:ListConnections on admin:connections$/, 'query parameters are not part of the resource')
})

t.test('a key that is disabled or deleted is refused at the signature, before authorization', async (t) => {
  const h = await adminHarness(t)
  const key = await accountKey(h, 'ops')
  await grant(h, 'read', 'account:ops', [{ effect: 'Allow', actions: ['admin:ListInstances'], resources: ['*'] }])
  t.equal((await h.call('GET', '/v1/instances', undefined, key)).statusCode, 200)
  await h.call('PATCH', `/v1/access-keys/${key.accessKeyId}`, { status: 'Inactive' })
  t.same((await h.call('GET', '/v1/instances', undefined, key)).json().code, 'SIGNATURE_INVALID')
  await h.call('DELETE', `/v1/access-keys/${key.accessKeyId}`)
  t.same((await h.call('GET', '/v1/instances', undefined, key)).json().code, 'SIGNATURE_INVALID')
})

t.test('an AccessKey stored before accounts existed belongs to legacy: it keeps the no-admin rights it had until legacy is granted more', async (t) => {
  const h = await adminHarness(t)
  const key = (await h.call('POST', '/v1/access-keys', { description: 'a wave-1 AMQP client key' })).json() as { accessKeyId: string; accessKeySecret: string }
  // What a record written by the previous version looks like: no accountId.
  await h.store.update('accessKeys', '_', key.accessKeyId, (current) => {
    if (current === undefined) return undefined
    const { accountId: _accountId, ...older } = current
    return older
  })
  t.equal((await h.call('GET', `/v1/access-keys/${key.accessKeyId}`)).json().accountId, 'legacy')
  const refused = await h.call('GET', '/v1/instances', undefined, key)
  t.same([refused.statusCode, refused.json().code], [403, 'ACCESS_DENIED'], 'not root: an upgrade opens no admin API to client keys')
  await grant(h, 'legacy-read', 'account:legacy', [{ effect: 'Allow', actions: ['admin:ListInstances'], resources: ['*'] }])
  t.equal((await h.call('GET', '/v1/instances', undefined, key)).statusCode, 200, 'what is attached to account:legacy applies')
})
