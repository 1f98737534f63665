import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AuthorizationService } from '../../src/authorization/authorization-service'
import { DecisionCounters } from '../../src/authorization/decision-counters'
import { DenialAudit } from '../../src/authorization/denial-audit'
import { PolicyCache } from '../../src/authorization/policy-cache'
import type { AuditInput } from '../../src/audit/event'
import type { ConnId } from '../../src/ids'
import { InstanceDirectory } from '../../src/proxy/instance-directory'
import type { SessionIdentity, SessionView } from '../../src/proxy/session-registry'
import { SessionRules } from '../../src/proxy/session-rules'
import { BlacklistIndex } from '../../src/policy/blacklist'
import { EmbeddedStore } from '../../src/store/embedded'
import { GLOBAL_SCOPE, type InstanceRecord, type PolicyRecord } from '../../src/store/records'
import { instance } from '../helpers/contexts'

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * The data path's authorization over a real embedded store: policies and attachments written as
 * records reach the cache through change notifications, decisions follow at once, and the
 * session rules kick what may no longer connect.
 */
async function world(t: tap.Test) {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-authz-'))
  const store = await EmbeddedStore.open({ dataDir: dir })
  t.teardown(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
  const fleet: InstanceRecord = { ...instance({ id: 'fleet' }), authorization: { mode: 'enforce' } }
  const relaxed: InstanceRecord = instance({ id: 'relaxed' })
  await store.put('instances', GLOBAL_SCOPE, fleet.id, fleet)
  await store.put('instances', GLOBAL_SCOPE, relaxed.id, relaxed)
  const directory = await InstanceDirectory.load(store)
  const policies = await PolicyCache.load(store)
  const audit: AuditInput[] = []
  const counters = new DecisionCounters()
  const denials = new DenialAudit((e) => audit.push(e))
  const service = new AuthorizationService({ policies, directory, store, counters, denials })
  t.teardown(() => { service.close(); denials.close(); policies.close(); directory.close() })
  const policy = async (name: string, statements: PolicyRecord['statements']): Promise<void> => {
    const time = new Date().toISOString()
    await store.put('policies', GLOBAL_SCOPE, name, { name, statements, version: 1, createdAt: time, updatedAt: time })
    await flush()
  }
  // The store notifies its listeners after the write resolved: the next turn sees the change.
  const attach = async (name: string, principal: string): Promise<void> => {
    await store.put('policyAttachments', name, principal, { policy: name, principal, createdAt: new Date().toISOString() })
    await flush()
  }
  return { store, service, policies, counters, audit, policy, attach, fleet }
}

const device = (over: Partial<SessionIdentity> = {}): SessionIdentity => ({
  instanceId: 'fleet', protocol: 'mqtt', sourceIp: '192.0.2.7', sourcePort: 5000,
  caId: 'ca1', deviceId: 'd'.repeat(64), certCommonName: 'pump-17', clientId: 'pump-17', ...over,
})


t.test('Connect is decided only where the instance enforces, on the policies of every principal', async (t) => {
  const w = await world(t)
  t.equal(w.service.connect(device({ instanceId: 'relaxed' })), undefined, 'mode off: not decided at all')
  t.equal(w.service.connect(device())?.allowed, false, 'enforce with nothing attached: denied')
  await w.policy('bind', [{ effect: 'Allow', actions: ['mqtt:Connect'], resources: ['mqtt:fleet:client/${certCommonName}'] }])
  await w.attach('bind', 'ca:fleet/ca1')
  t.equal(w.service.connect(device())?.allowed, true, 'attached to the CA: its device may connect as its CN')
  t.equal(w.service.connect(device({ clientId: 'pump-18' }))?.allowed, false, 'not as another clientId')
  t.equal(w.service.connect(device({ caId: 'ca2' }))?.allowed, false, 'a device under another CA has no such grant')
  await w.policy('ban', [{ effect: 'Deny', actions: ['mqtt:*'], resources: ['*'] }])
  await w.attach('ban', `device:fleet/${'d'.repeat(64)}`)
  const denied = w.service.connect(device())
  t.equal(denied?.allowed, false, 'an explicit Deny on the device wins')
  t.same(denied?.by, { policy: 'ban', statement: 0 })
})

t.test("a Will is decided as mqtt:Publish on its topic, with the session's variables, only where the instance enforces", async (t) => {
  const w = await world(t)
  t.equal(w.service.will(device({ instanceId: 'relaxed' }), 'anything'), undefined, 'mode off: not decided at all')
  t.equal(w.service.will(device(), 'devices/pump-17/status')?.allowed, false, 'enforce with nothing attached: denied')
  await w.policy('own', [{ effect: 'Allow', actions: ['mqtt:Publish'], resources: ['mqtt:fleet:topic/devices/${certCommonName}/#'] }])
  await w.attach('own', 'instance:fleet')
  t.equal(w.service.will(device(), 'devices/pump-17/status')?.allowed, true, "on the device's own topic")
  const elsewhere = w.service.will(device(), 'devices/pump-18/status')
  t.equal(elsewhere?.allowed, false, "not on another device's")
  t.equal(elsewhere?.by, undefined, 'denied for want of an Allow, not by a statement')
  t.same(w.counters.tally('mqtt', 'mqtt:Publish'), { allowed: 1, denied: 2 }, 'counted as the publishes they are')
})

t.test("a session's authorizer sees a policy change on its very next decision, and audits denials", async (t) => {
  const w = await world(t)
  await w.policy('fleet', [{ effect: 'Allow', actions: ['mqtt:Publish'], resources: ['mqtt:fleet:topic/devices/${certCommonName}/#'] }])
  await w.attach('fleet', 'instance:fleet')
  const authorizer = w.service.session(device(), { connId: 'c1' as ConnId, instanceId: 'fleet', protocol: 'mqtt', actor: { kind: 'client' }, source: { ip: '192.0.2.7', port: 5000 } })
  if (authorizer === undefined) throw new Error('fleet enforces')
  t.equal(authorizer.mqttTopic('mqtt:Publish', 'devices/pump-17/t'), true)
  t.equal(authorizer.mqttTopic('mqtt:Publish', 'devices/pump-18/t'), false)
  t.equal(authorizer.mqttTopic('mqtt:Receive', 'devices/pump-17/t'), false, 'Receive is not granted')
  let notified = 0
  const off = authorizer.onChange(() => notified++)
  await w.policy('fleet', [{ effect: 'Allow', actions: ['mqtt:Publish', 'mqtt:Receive'], resources: ['mqtt:fleet:topic/#'] }])
  t.equal(authorizer.mqttTopic('mqtt:Publish', 'devices/pump-18/t'), true, 'the edit applies to the next decision')
  t.equal(authorizer.mqttTopic('mqtt:Receive', 'devices/pump-17/t'), true)
  t.equal(notified, 1, 'listeners hear the change')
  off()
  t.same(w.audit.map((e) => [e.type, e.details?.action, e.details?.resource]), [
    ['authorization.denied', 'mqtt:Publish', 'mqtt:fleet:topic/devices/pump-18/t'],
    ['authorization.denied', 'mqtt:Receive', 'mqtt:fleet:topic/devices/pump-17/t'],
  ])
  t.same(w.counters.tally('mqtt', 'mqtt:Publish'), { allowed: 2, denied: 1 })

  // The instance switched off: the live filters allow everything from the next decision.
  await w.store.put('instances', GLOBAL_SCOPE, 'fleet', { ...w.fleet, authorization: { mode: 'off' } })
  await flush()
  t.equal(authorizer.mqttTopic('mqtt:Subscribe', '#'), true)
})

t.test('an AccessKey of the root account is granted everything; a sub-account only what it is attached', async (t) => {
  const w = await world(t)
  const client = (accountId: string): SessionIdentity => ({
    instanceId: 'fleet', protocol: 'amqp', sourceIp: '192.0.2.8', sourcePort: 6000, accessKeyId: `LTAI${accountId}`, accountId, vhost: '/',
  })
  t.equal(w.service.connect(client('root'))?.allowed, true)
  t.equal(w.service.connect(client('orders'))?.allowed, false)
  await w.policy('orders', [{ effect: 'Allow', actions: ['amqp:Connect'], resources: ['amqp:fleet:vhost//'] }])
  await w.attach('orders', 'account:orders')
  t.equal(w.service.connect(client('orders'))?.allowed, true)
  t.equal(w.service.connect({ ...client('orders'), vhost: 'other' })?.allowed, false)
})

t.test('the session rules kick what may no longer connect, and what was admitted without enforcement', async (t) => {
  const w = await world(t)
  const rules = new SessionRules({
    directory: { get: (id) => (id === 'fleet' ? { ...w.fleet } : undefined) },
    blacklist: { current: () => BlacklistIndex.EMPTY },
    trust: { forInstance: async () => ({ recordOf: () => ({ status: 'ACTIVE' }) }) as never },
    devices: { get: async () => ({ status: 'ACTIVE' }) as never },
    accessKeys: { secretOf: async () => 'secret' },
    staticAccounts: { find: async () => undefined },
    authorization: w.service,
  })
  const live = (over: Partial<SessionView> = {}): SessionView => ({
    ...device(), connId: 'c1' as ConnId, listener: 'mqtts', startedAt: new Date().toISOString(), processId: 'p', enforced: true, ...over,
  })
  t.match(await rules.evaluate(live()), { kick: 'NOT_AUTHORIZED', refusal: 'NOT_AUTHORIZED' }, 'nothing allows its Connect')
  await w.policy('bind', [{ effect: 'Allow', actions: ['mqtt:Connect'], resources: ['mqtt:fleet:client/${certCommonName}'] }])
  await w.attach('bind', 'instance:fleet')
  t.equal(await rules.evaluate(live()), undefined)
  const { enforced: _enforced, ...unfiltered } = live()
  t.match(await rules.evaluate(unfiltered), { kick: 'AUTHORIZATION_ENFORCED' }, 'a session spliced without filters ends once its instance enforces')
  t.equal(await rules.evaluate(device()), undefined, 'a connection still in its handshake will be spliced with filters: it passes')
})

t.test('an AMQP session remembers its verdicts per name only until the policies change', async (t) => {
  const w = await world(t)
  await w.policy('orders', [{ effect: 'Allow', actions: ['amqp:Publish'], resources: ['amqp:fleet:/:exchange/orders'] }])
  await w.attach('orders', 'account:writers')
  const client: SessionIdentity = { instanceId: 'fleet', protocol: 'amqp', sourceIp: '192.0.2.9', sourcePort: 7000, accessKeyId: 'LTAIwriter', accountId: 'writers', vhost: '/' }
  const authorizer = w.service.session(client, { connId: 'a1' as ConnId, instanceId: 'fleet', protocol: 'amqp', actor: { kind: 'client' }, source: { ip: '192.0.2.9', port: 7000 } })
  if (authorizer === undefined) throw new Error('fleet enforces')
  for (let i = 0; i < 3; i++) t.equal(authorizer.amqp('amqp:Publish', 'exchange', 'orders'), true)
  t.equal(authorizer.amqp('amqp:Publish', 'exchange', ''), false, 'the default exchange is amq.default, not granted')
  t.equal(authorizer.amqp('amqp:Consume', 'queue', 'orders'), false, 'another action is decided on its own')
  await w.policy('orders', [{ effect: 'Deny', actions: ['amqp:Publish'], resources: ['amqp:fleet:/:exchange/orders'] }])
  t.equal(authorizer.amqp('amqp:Publish', 'exchange', 'orders'), false, 'the edit applies to the next publish, remembered or not')
  t.same(w.counters.tally('amqp', 'amqp:Publish'), { allowed: 3, denied: 2 }, 'every call is counted, remembered or not')
  t.match(w.audit.map((e) => e.details?.resource), ['amqp:fleet:/:exchange/amq.default', 'amqp:fleet:/:queue/orders'])
})
