import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { BlacklistService, PURGE_AFTER_MS } from '../../src/blacklist/blacklist-service'
import { InstanceService } from '../../src/instances/instance-service'
import { BlacklistIndex } from '../../src/policy/blacklist'
import { EmbeddedStore } from '../../src/store/embedded'
import type { ChangeEvent } from '../../src/store/store'
import { GLOBAL_SCOPE } from '../../src/store/records'
import { rejectsWith } from '../helpers/rejects'

const START = Date.parse('2026-03-01T12:00:00.000Z')
const HOUR = 60 * 60 * 1000
const FINGERPRINT = '0f'.repeat(32)

interface Fixture {
  store: EmbeddedStore
  service: BlacklistService
  clock: { ms: number }
  /** The data path's view: the index built from everything stored, as proxy/blacklist-cache.ts does. */
  index(): Promise<BlacklistIndex>
}

async function setup(t: Test): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-blacklist-'))
  const store = await EmbeddedStore.open({ dataDir: dir })
  t.teardown(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  const instances = new InstanceService(store)
  await instances.create({ id: 'mq-1', protocol: 'mqtt' })
  await instances.create({ id: 'mq-2', protocol: 'mqtt' })
  const clock = { ms: START }
  return {
    store, clock,
    service: new BlacklistService(store, () => new Date(clock.ms)),
    index: async () => BlacklistIndex.build(await store.list('blacklist', GLOBAL_SCOPE)),
  }
}

const iso = (ms: number): string => new Date(ms).toISOString()

t.test('a duplicate in force is refused with ALREADY_EXISTS naming the entry that exists', async (t) => {
  const { service } = await setup(t)
  const first = await service.add({ kind: 'certFingerprint', value: FINGERPRINT }, 'PCROOTTEST')
  const spelledOtherwise = FINGERPRINT.toUpperCase().match(/../g)!.join(':')
  await rejectsWith(t, service.add({ kind: 'certFingerprint', value: spelledOtherwise, reason: 'again' }, 'PCROOTTEST'), 'ALREADY_EXISTS', new RegExp(first.id))

  const ip = await service.add({ kind: 'ip', value: '2001:db8::1' }, 'PCROOTTEST')
  await rejectsWith(t, service.add({ kind: 'ip', value: '2001:DB8:0::1' }, 'PCROOTTEST'), 'ALREADY_EXISTS', new RegExp(ip.id))

  const scoped = await service.add({ kind: 'certFingerprint', value: FINGERPRINT, instanceId: 'mq-1' }, 'PCROOTTEST')
  t.not(scoped.id, first.id, 'the same value on one instance is another entry than the global one')
  await rejectsWith(t, service.add({ kind: 'certFingerprint', value: FINGERPRINT, instanceId: 'mq-1' }, 'PCROOTTEST'), 'ALREADY_EXISTS', /on instance mq-1/)
  t.ok(await service.add({ kind: 'certFingerprint', value: FINGERPRINT, instanceId: 'mq-2' }, 'PCROOTTEST'), 'and on another instance another again')
  t.ok(await service.add({ kind: 'clientId', value: FINGERPRINT }, 'PCROOTTEST'), 'the same text as another kind is no duplicate')
  t.equal((await service.list()).length, 5)
})

t.test('an expired entry is no duplicate: the same ban can be added again once it lapsed', async (t) => {
  const { service, clock } = await setup(t)
  const lapsed = await service.add({ kind: 'username', value: 'mallory', expiresAt: iso(START + HOUR) }, 'PCROOTTEST')
  await rejectsWith(t, service.add({ kind: 'username', value: 'mallory' }, 'PCROOTTEST'), 'ALREADY_EXISTS', new RegExp(lapsed.id))
  clock.ms = START + HOUR
  const renewed = await service.add({ kind: 'username', value: 'mallory', reason: 'again' }, 'PCROOTTEST')
  t.not(renewed.id, lapsed.id)
})

t.test('an entry stops applying at its expiry: listed only on request, flagged expired, no longer matched', async (t) => {
  const { service, clock, index } = await setup(t)
  const temp = await service.add({ kind: 'clientId', value: 'flaky', expiresAt: iso(START + HOUR) }, 'PCROOTTEST')
  const lasting = await service.add({ kind: 'clientId', value: 'evil' }, 'PCROOTTEST')
  t.equal((await index()).match({ clientId: 'flaky' }, clock.ms)?.id, temp.id, 'matched while in force')

  clock.ms = START + HOUR
  t.same((await service.list()).map((e) => e.id), [lasting.id], 'the default list shows what is in force')
  const all = await service.list({ includeExpired: true })
  t.same(all.map((e) => [e.id, e.expired]).sort(), [[lasting.id, false], [temp.id, true]].sort())
  t.equal((await service.get(temp.id)).expired, true, 'get answers an expired entry too, flagged')
  t.equal((await index()).match({ clientId: 'flaky' }, clock.ms), undefined, 'the data path no longer matches it')
  t.equal((await index()).match({ clientId: 'evil' }, clock.ms)?.id, lasting.id)
})

t.test('list filters by exact instance and by kind, sorted by id', async (t) => {
  const { service } = await setup(t)
  const global = await service.add({ kind: 'username', value: 'u1' }, 'PCROOTTEST')
  const one = await service.add({ kind: 'username', value: 'u2', instanceId: 'mq-1' }, 'PCROOTTEST')
  const ip = await service.add({ kind: 'ip', value: '198.51.100.0/24', instanceId: 'mq-1' }, 'PCROOTTEST')
  await service.add({ kind: 'ip', value: '198.51.100.9', instanceId: 'mq-2' }, 'PCROOTTEST')
  const ids = (list: { id: string }[]): string[] => list.map((e) => e.id)
  t.same(ids(await service.list({ instanceId: 'mq-1' })), [one.id, ip.id].sort(), 'global entries are not scoped to mq-1')
  t.same(ids(await service.list({ instanceId: 'mq-1', kind: 'ip' })), [ip.id])
  t.same(ids(await service.list({ kind: 'username' })), [global.id, one.id].sort())
  const all = ids(await service.list())
  t.same(all, [...all].sort(), 'sorted by id')
  t.equal(all.length, 4)
})

t.test('remove answers the entry as it was, emits one delete event, and a second remove is NOT_FOUND', async (t) => {
  const { store, service } = await setup(t)
  const entry = await service.add({ kind: 'accessKey', value: 'LTAIleaked', reason: 'leaked in a repo' }, 'PCROOTTEST')
  const events: ChangeEvent[] = []
  const off = store.onChange((e) => { if (e.collection === 'blacklist') events.push(e) })
  t.teardown(off)
  t.same(await service.remove(entry.id), entry)
  await new Promise((resolve) => setImmediate(resolve)) // change events arrive on a later turn (store/listeners.ts)
  t.same(events.map((e) => [e.op, e.id]), [['delete', entry.id]])
  await rejectsWith(t, service.remove(entry.id), 'NOT_FOUND', new RegExp(entry.id))
  await rejectsWith(t, service.get(entry.id), 'NOT_FOUND', /does not exist/)
})

t.test('purgeExpired deletes only entries expired for more than a day', async (t) => {
  const { service, clock } = await setup(t)
  const old = await service.add({ kind: 'username', value: 'old', expiresAt: iso(START + HOUR) }, 'PCROOTTEST')
  const recent = await service.add({ kind: 'username', value: 'recent', expiresAt: iso(START + 2 * HOUR) }, 'PCROOTTEST')
  const future = await service.add({ kind: 'username', value: 'future', expiresAt: iso(START + 48 * HOUR) }, 'PCROOTTEST')
  const forever = await service.add({ kind: 'username', value: 'forever' }, 'PCROOTTEST')

  clock.ms = START + HOUR + PURGE_AFTER_MS - 1
  t.same(await service.purgeExpired(), [], 'a day minus a millisecond after expiry: kept')
  clock.ms = START + HOUR + PURGE_AFTER_MS
  const purged = await service.purgeExpired()
  t.same(purged.map((e) => e.id), [old.id])
  t.equal(purged[0]?.expired, true)
  t.same((await service.list({ includeExpired: true })).map((e) => e.id), [recent.id, future.id, forever.id].sort())
  t.same(await service.purgeExpired(), [], 'nothing left to purge')
})

t.test('entries added through the service are matched by the data path for what a connection reports', async (t) => {
  const { service, index, clock } = await setup(t)
  const v6 = await service.add({ kind: 'ip', value: '2001:DB8:0:0::7' }, 'PCROOTTEST')
  const range = await service.add({ kind: 'ip', value: '192.0.2.0/24', instanceId: 'mq-1' }, 'PCROOTTEST')
  const cert = await service.add({ kind: 'certFingerprint', value: FINGERPRINT.toUpperCase() }, 'PCROOTTEST')
  const key = await service.add({ kind: 'accessKey', value: 'LTAIkey' }, 'PCROOTTEST')
  const idx = await index()
  t.equal(idx.match({ ip: '2001:db8::7' }, clock.ms)?.id, v6.id, 'an IPv6 address in any spelling matches the socket form')
  t.equal(idx.match({ ip: '::ffff:192.0.2.9', instanceId: 'mq-1' }, clock.ms)?.id, range.id, 'an IPv4-mapped peer inside the range')
  t.equal(idx.match({ ip: '192.0.2.9', instanceId: 'mq-2' }, clock.ms), undefined, 'an instance-scoped entry leaves other instances alone')
  t.equal(idx.match({ certFingerprint: FINGERPRINT }, clock.ms)?.id, cert.id)
  t.equal(idx.match({ accessKeyId: 'LTAIkey', instanceId: 'mq-2' }, clock.ms)?.id, key.id, 'a global entry applies on every instance')
  t.equal(idx.match({ accessKeyId: 'ltaikey' }, clock.ms), undefined, 'identities other than ip and fingerprint compare exactly')
})
