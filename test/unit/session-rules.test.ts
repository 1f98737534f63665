import t from 'tap'
import { SessionRules, type SessionRulesDeps } from '../../src/proxy/session-rules'
import { SessionRecheck } from '../../src/proxy/session-recheck'
import { SessionRegistry, type LiveSession, type SessionView } from '../../src/proxy/session-registry'
import { recheckBeforeSplice } from '../../src/proxy/stages/recheck'
import { BlacklistIndex } from '../../src/policy/blacklist'
import { PortcullisError } from '../../src/errors'
import { StoreFreshness } from '../../src/store/freshness'
import type { ChangeEvent } from '../../src/store/store'
import type { BlacklistRecord, CaRecord, DeviceRecord, StaticAccountRecord } from '../../src/store/records'
import { asConnId } from '../../src/ids'
import { identified, instance } from '../helpers/contexts'
import { socketPair } from '../helpers/socket-pair'

/** The rules read the data path's caches; here they are plain maps the test changes. */
function world() {
  const state = {
    instance: instance({ id: 'i1' }),
    blacklist: [] as BlacklistRecord[],
    caStatus: 'ACTIVE' as CaRecord['status'] | undefined,
    device: { status: 'ACTIVE' } as DeviceRecord | undefined,
    keys: new Map<string, 'Active' | 'Inactive'>([['AK1', 'Active']]),
    account: { userName: 'static-user' } as StaticAccountRecord | undefined,
    storeDown: false,
  }
  const deps: SessionRulesDeps = {
    directory: { get: (id) => (id === state.instance.id ? state.instance : undefined) },
    blacklist: { current: () => BlacklistIndex.build(state.blacklist) },
    trust: { forInstance: async () => ({ recordOf: () => (state.caStatus === undefined ? undefined : { status: state.caStatus } as CaRecord) }) as never },
    devices: { get: async () => { if (state.storeDown) throw new PortcullisError('STORE_UNAVAILABLE', 'down'); return state.device } },
    accessKeys: {
      secretOf: async (id) => {
        const status = state.keys.get(id)
        if (status === 'Inactive') throw new PortcullisError('ACCESS_KEY_INACTIVE', 'disabled')
        return status === undefined ? undefined : 'secret'
      },
    },
    staticAccounts: { find: async () => state.account },
    // These instances do not enforce authorization (test/unit/authorization-rules.test.ts covers it).
    authorization: { connect: () => undefined, enforces: () => false },
  }
  return { state, rules: new SessionRules(deps) }
}

const device: SessionView = {
  connId: asConnId('c-mqtt'), instanceId: 'i1', protocol: 'mqtt', caId: 'ca1', deviceId: 'd1', clientId: 'sensor-1',
  sourceIp: '192.0.2.1', sourcePort: 1, listener: 'mqtts', startedAt: '', processId: 'p',
}
const amqpStatic: SessionView = {
  connId: asConnId('c-amqp'), instanceId: 'i1', protocol: 'amqp', accessKeyId: 'AK1', account: 'static-user', username: 'MjpB',
  sourceIp: '192.0.2.2', sourcePort: 2, listener: 'amqps', startedAt: '', processId: 'p',
}

t.test('every rule is evaluated, each breach with its kick and its refusal', async (t) => {
  const cases: Array<[string, (s: ReturnType<typeof world>['state']) => void, SessionView, string, string]> = [
    ['instance deleted', (s) => { s.instance = instance({ id: 'other' }) }, device, 'ADMIN_KICK', 'UNKNOWN_INSTANCE'],
    ['switched to Single Tunnel', (s) => { s.instance = instance({ id: 'i1', accessType: 'SINGLE_TUNNEL', vpcId: 'vpc-x' }) }, device, 'TUNNEL_POLICY_CHANGED', 'TUNNEL_DENIED'],
    ['clientId blacklisted', (s) => { s.blacklist = [{ id: 'b1', kind: 'clientId', value: 'sensor-1', createdAt: '' }] }, device, 'BLACKLISTED', 'BLACKLISTED'],
    ['CA deactivated', (s) => { s.caStatus = 'INACTIVE' }, device, 'CA_DEACTIVATED', 'CA_INACTIVE'],
    ['CA deleted', (s) => { s.caStatus = undefined }, device, 'CA_DEACTIVATED', 'CA_INACTIVE'],
    ['device revoked', (s) => { s.device = { status: 'REVOKED' } as DeviceRecord }, device, 'DEVICE_CERT_REVOKED', 'DEVICE_CERT_REVOKED'],
    ['device deactivated', (s) => { s.device = { status: 'INACTIVE' } as DeviceRecord }, device, 'DEVICE_CERT_INACTIVE', 'DEVICE_CERT_INACTIVE'],
    ['AccessKey disabled', (s) => { s.keys.set('AK1', 'Inactive') }, amqpStatic, 'ACCESS_KEY_DISABLED', 'ACCESS_KEY_INACTIVE'],
    ['AccessKey deleted', (s) => { s.keys.delete('AK1') }, amqpStatic, 'ACCESS_KEY_DISABLED', 'ACCESS_KEY_INACTIVE'],
    ['static account deleted', (s) => { s.account = undefined }, amqpStatic, 'STATIC_ACCOUNT_DELETED', 'BAD_CREDENTIALS'],
  ]
  for (const [what, change, session, kick, refusal] of cases) {
    const { state, rules } = world()
    t.equal(await rules.evaluate(session), undefined, `${what}: passes before`)
    change(state)
    t.match(await rules.evaluate(session), { kick, refusal }, what)
  }
})

t.test('an STS credential breaks the rules from its expiresAt on', async (t) => {
  const { rules } = world()
  const sts: SessionView = { ...amqpStatic, connId: asConnId('c-sts'), credentialExpiresAt: '2026-12-01T10:00:00.000Z' }
  delete sts.account
  t.equal(await rules.evaluate(sts, Date.parse('2026-12-01T09:59:59.999Z')), undefined)
  t.match(await rules.evaluate(sts, Date.parse('2026-12-01T10:00:00.000Z')), { kick: 'CREDENTIAL_EXPIRED', refusal: 'CREDENTIAL_EXPIRED' })
})

t.test('a check that cannot be made throws: it is never taken for a pass', async (t) => {
  const { state, rules } = world()
  state.storeDown = true
  await t.rejects(rules.evaluate(device), { code: 'STORE_UNAVAILABLE' })
})

/** A registry holding fake live sessions that record their kicks. */
function registryWith(views: SessionView[]): { sessions: SessionRegistry; kicks: string[] } {
  const sessions = new SessionRegistry()
  const kicks: string[] = []
  for (const view of views) {
    const live: LiveSession = { view, kick: (reason) => { kicks.push(`${view.connId}:${reason}`); sessions.remove(view.connId) } }
    sessions.add(live)
  }
  return { sessions, kicks }
}

function changes(): { store: { onChange(l: (e: ChangeEvent) => void): () => void }; emit(e: ChangeEvent): void } {
  let listener: ((e: ChangeEvent) => void) | undefined
  return { store: { onChange: (l) => { listener = l; return () => { listener = undefined } } }, emit: (e) => listener?.(e) }
}

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20))
const logger = { warn: () => undefined }

t.test('a change notification re-checks the sessions it concerns against every rule, and only those', async (t) => {
  const { state, rules } = world()
  const other: SessionView = { ...device, connId: asConnId('c-other'), deviceId: 'd2', clientId: 'sensor-2' }
  const { sessions, kicks } = registryWith([device, other, amqpStatic])
  const bus = changes()
  const recheck = new SessionRecheck(bus.store, sessions, rules, { maxStaleMs: 1000, logger })
  t.teardown(() => recheck.close())
  const before = recheck.generation
  state.device = { status: 'REVOKED' } as DeviceRecord
  bus.emit({ collection: 'devices', scope: 'i1', id: 'd1', op: 'put', record: state.device })
  await settle()
  t.same(kicks, ['c-mqtt:DEVICE_CERT_REVOKED'], 'the revoked device only (d2 reads the same cache but is not concerned)')
  t.equal(recheck.generation, before + 1, 'a change that can break a rule moves the generation')
  bus.emit({ collection: 'devices', scope: 'i1', id: 'd9', op: 'put', record: { status: 'ACTIVE' } as DeviceRecord })
  t.equal(recheck.generation, before + 1, 'a device registered ACTIVE does not')
})

t.test('a failed re-check is retried, and a session whose re-check keeps failing past maxStaleMs is closed', async (t) => {
  const { state, rules } = world()
  const { sessions, kicks } = registryWith([device, amqpStatic])
  const recheck = new SessionRecheck(changes().store, sessions, rules, { maxStaleMs: 1500, logger })
  t.teardown(() => recheck.close())
  state.storeDown = true
  await t.rejects(recheck.reevaluateAll(), /1 of 2 live sessions could not be re-checked/, 'reevaluateAll fails so that the resync is retried')
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.same(kicks, [], 'still retrying within maxStaleMs')
  await new Promise((resolve) => setTimeout(resolve, 1500))
  t.same(kicks, ['c-mqtt:RECHECK_FAILED'], 'closed once its checks failed for longer than maxStaleMs; the other session is untouched')
})

t.test('a retried re-check that succeeds clears the failure', async (t) => {
  const { state, rules } = world()
  const { sessions, kicks } = registryWith([device])
  const recheck = new SessionRecheck(changes().store, sessions, rules, { maxStaleMs: 1500, logger })
  t.teardown(() => recheck.close())
  state.storeDown = true
  await t.rejects(recheck.reevaluateAll())
  state.storeDown = false
  await new Promise((resolve) => setTimeout(resolve, 2600))
  t.same(kicks, [], 'the store answered on a retry: the session stays')
  await recheck.reevaluateAll()
})

t.test('a session is kicked CREDENTIAL_EXPIRED when its credential expires', async (t) => {
  const { rules } = world()
  const sts: SessionView = { ...amqpStatic, connId: asConnId('c-sts'), credentialExpiresAt: new Date(Date.now() + 300).toISOString() }
  delete sts.account
  const { sessions, kicks } = registryWith([sts])
  const recheck = new SessionRecheck(changes().store, sessions, rules, { maxStaleMs: 1000, logger })
  t.teardown(() => recheck.close())
  recheck.started(sts)
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.same(kicks, [])
  await new Promise((resolve) => setTimeout(resolve, 250))
  t.same(kicks, ['c-sts:CREDENTIAL_EXPIRED'])
})

t.test('the last check before the splice evaluates again when a concerning change lands during it', async (t) => {
  const { gateway } = socketPair()
  const ready = { ...identified(gateway, {}), phase: 'ready' as const, upstream: gateway, upstreamPreamble: [], downstreamPreamble: [], clientPipelined: [], brokerPipelined: [] }
  let generation = 0
  let calls = 0
  const moving = {
    freshness: new StoreFreshness({ maxStaleMs: 1000 }),
    recheck: {
      get generation() { return generation },
      rules: { evaluate: async () => { calls++; if (calls === 1) generation++; return undefined } },
      started: () => undefined, ended: () => undefined,
    },
  } as unknown as Parameters<typeof recheckBeforeSplice>[1]
  const step = await recheckBeforeSplice(ready, moving)
  t.equal(step.kind, 'next')
  t.equal(calls, 2, 'evaluated twice: the first evaluation raced a change')
})
