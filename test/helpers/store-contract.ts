/**
 * The one contract both Store implementations pass (src/store/store.ts). Each case gets a fresh
 * fixture from `makeStore` and cleans it up. Cases that need a second instance on the same data
 * (another replica) use `peer` when the implementation has one; the embedded store has a single
 * instance per data directory, so its "peer" is the store itself.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { GLOBAL_SCOPE } from '../../src/store/records'
import type { DeviceRecord, InstanceRecord } from '../../src/store/records'
import type { BroadcastMessage, ChangeEvent, Store } from '../../src/store/store'
import type { Test } from './services'

export interface StoreFixture {
  store: Store
  /** Closes `store` and opens a new instance on the same backing data (durability). */
  reopen?: () => Promise<Store>
  /** Opens another live instance on the same backing data, as another process would. */
  peer?: () => Promise<Store>
  /** Closes every instance it opened and deletes the backing data. */
  cleanup: () => Promise<void>
}

export type MakeStore = () => Promise<StoreFixture>

/**
 * A fixture over stores that `open` makes on one backing data set (a Redis topology under one
 * key prefix): `reopen` and `peer` open more of them, `cleanup` closes every one and then runs
 * `deleteData`.
 */
export async function reopenableFixture(open: () => Promise<Store>, deleteData: () => Promise<unknown>): Promise<StoreFixture> {
  const opened: Store[] = []
  const openOne = async (): Promise<Store> => {
    const store = await open()
    opened.push(store)
    return store
  }
  let current = await openOne()
  return {
    store: current,
    peer: openOne,
    reopen: async () => {
      await current.close()
      current = await openOne()
      return current
    },
    cleanup: async () => {
      await Promise.all(opened.map((store) => store.close()))
      await deleteData()
    },
  }
}

const NOW = '2026-01-01T00:00:00.000Z'

export function instance(id: string, hostnames: string[] = [`${id}.example.test`]): InstanceRecord {
  return {
    id, protocol: 'mqtt', hostnames, backend: { kind: 'embedded' }, accessType: 'ANY_TUNNEL',
    options: { newDeviceStatus: 'ACTIVE', autoRegisterDevices: true, replaceBackendCredentials: false, usernameFromCertificate: false },
    createdAt: NOW, updatedAt: NOW,
  }
}

export function device(id: string, instanceId: string): DeviceRecord {
  return {
    id, instanceId, caId: 'ca1', pem: '-----BEGIN CERTIFICATE-----', serialNumber: '01', subject: `CN=${id}`,
    notBefore: NOW, notAfter: NOW, status: 'ACTIVE', registeredBy: 'auto', createdAt: NOW, updatedAt: NOW,
  }
}

/** Records what a subscription delivers; `until(n)` waits for n deliveries (or fails). */
export function recorder<T>(subscribe: (listener: (value: T) => void) => () => void) {
  const seen: T[] = []
  const stop = subscribe((value) => { seen.push(value) })
  const until = async (n: number, timeoutMs = 3_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs
    while (seen.length < n) {
      if (Date.now() > deadline) throw new Error(`expected ${n} deliveries, saw ${seen.length}`)
      await sleep(5)
    }
  }
  return { seen, until, stop }
}

async function open(t: Test, makeStore: MakeStore): Promise<StoreFixture & { other: Store }> {
  const fixture = await makeStore()
  t.teardown(fixture.cleanup)
  const other = fixture.peer === undefined ? fixture.store : await fixture.peer()
  return { ...fixture, other }
}

export function storeContract(t: Test, name: string, makeStore: MakeStore): void {
  t.test(`${name}: keeps records apart by collection, scope and id`, async (t) => {
    const { store } = await open(t, makeStore)
    await store.put('instances', GLOBAL_SCOPE, 'b', instance('b'))
    await store.put('instances', GLOBAL_SCOPE, 'a', instance('a'))
    await store.put('devices', 'i1', 'd1', device('d1', 'i1'))
    await store.put('devices', 'i2', 'd2', device('d2', 'i2'))
    t.same(await store.get('instances', GLOBAL_SCOPE, 'a'), instance('a'))
    t.equal(await store.get('instances', GLOBAL_SCOPE, 'missing'), undefined)
    t.equal(await store.get('devices', 'i1', 'd2'), undefined, 'a record is not found under another scope')
    t.same(await store.list('instances', GLOBAL_SCOPE), [instance('a'), instance('b')], 'listed by id')
    t.same(await store.list('devices', 'i1'), [device('d1', 'i1')])
    t.same(await store.list('devices', 'nobody'), [])
    t.same(await store.scopes('devices'), ['i1', 'i2'])
    t.same(await store.scopes('instances'), [GLOBAL_SCOPE])
    t.same(await store.scopes('cas'), [])
    t.equal(await store.count('instances', GLOBAL_SCOPE), 2)
    t.equal(await store.count('devices', 'i2'), 1)
    t.equal(await store.count('devices', 'nobody'), 0)
  })

  t.test(`${name}: create refuses a taken id with ALREADY_EXISTS and keeps the first record`, async (t) => {
    const { store, other } = await open(t, makeStore)
    await store.create('instances', GLOBAL_SCOPE, 'a', instance('a'))
    await t.rejects(store.create('instances', GLOBAL_SCOPE, 'a', instance('a', ['other.test'])), { code: 'ALREADY_EXISTS' })
    t.same(await store.get('instances', GLOBAL_SCOPE, 'a'), instance('a'))

    const racers = Array.from({ length: 10 }, (_, i) =>
      (i % 2 === 0 ? store : other).create('instances', GLOBAL_SCOPE, 'raced', instance('raced', [`h${i}`])))
    const outcomes = await Promise.allSettled(racers)
    t.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1, 'exactly one concurrent create wins')
    t.ok(outcomes.every((o) => o.status === 'fulfilled' || (o.reason as { code?: string }).code === 'ALREADY_EXISTS'))
  })

  t.test(`${name}: put creates or replaces`, async (t) => {
    const { store } = await open(t, makeStore)
    await store.put('instances', GLOBAL_SCOPE, 'a', instance('a'))
    await store.put('instances', GLOBAL_SCOPE, 'a', instance('a', ['new.test']))
    t.same(await store.get('instances', GLOBAL_SCOPE, 'a'), instance('a', ['new.test']))
    t.equal(await store.count('instances', GLOBAL_SCOPE), 1)
  })

  t.test(`${name}: update is compare-and-set, so 20 concurrent mutators all land`, async (t) => {
    const { store, other } = await open(t, makeStore)
    await store.create('instances', GLOBAL_SCOPE, 'a', instance('a', []))
    const names = Array.from({ length: 20 }, (_, i) => `h${i}.test`)
    const results = await Promise.all(names.map((host, i) =>
      (i % 2 === 0 ? store : other).update('instances', GLOBAL_SCOPE, 'a', (current) =>
        current === undefined ? undefined : { ...current, hostnames: [...current.hostnames, host] })))
    results.forEach((written, i) => t.ok(written?.hostnames.includes(names[i] as string), `update ${i} returns its write`))
    const final = await store.get('instances', GLOBAL_SCOPE, 'a')
    t.same([...(final?.hostnames ?? [])].sort(), [...names].sort(), 'no update was lost')
  })

  t.test(`${name}: update can create, and writes nothing when the mutator answers undefined`, async (t) => {
    const { store } = await open(t, makeStore)
    const events = recorder<ChangeEvent>((l) => store.onChange(l))
    let seenByMutator: InstanceRecord | undefined = instance('placeholder')
    const created = await store.update('instances', GLOBAL_SCOPE, 'a', (current) => {
      seenByMutator = current
      return instance('a')
    })
    t.equal(seenByMutator, undefined, 'the mutator sees an absent record as undefined')
    t.same(created, instance('a'))
    const unchanged = await store.update('instances', GLOBAL_SCOPE, 'a', () => undefined)
    t.same(unchanged, instance('a'), 'a no-op update answers the current record')
    t.equal(await store.update('instances', GLOBAL_SCOPE, 'absent', () => undefined), undefined)
    await events.until(1)
    await sleep(100)
    t.equal(events.seen.length, 1, 'a no-op update emits no change event')
  })

  t.test(`${name}: take hands a record to exactly one of many concurrent takers`, async (t) => {
    const { store, other } = await open(t, makeStore)
    const code = { instanceId: 'i1', code: 'abc', expiresAt: NOW }
    await store.create('registrationCodes', 'i1', 'current', code)
    const taken = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      (i % 2 === 0 ? store : other).take('registrationCodes', 'i1', 'current')))
    const winners = taken.filter((r) => r !== undefined)
    t.equal(winners.length, 1, 'one taker gets the record')
    t.same(winners[0], code)
    t.equal(await store.get('registrationCodes', 'i1', 'current'), undefined)
    t.equal(await store.take('registrationCodes', 'i1', 'current'), undefined)
  })

  t.test(`${name}: delete removes a record, and an emptied scope is no longer listed`, async (t) => {
    const { store } = await open(t, makeStore)
    await store.put('devices', 'i1', 'd1', device('d1', 'i1'))
    await store.put('devices', 'i1', 'd2', device('d2', 'i1'))
    t.equal(await store.delete('devices', 'i1', 'd1'), true)
    t.equal(await store.delete('devices', 'i1', 'd1'), false, 'a second delete finds nothing')
    t.equal(await store.count('devices', 'i1'), 1)
    t.same(await store.scopes('devices'), ['i1'])
    t.equal(await store.delete('devices', 'i1', 'd2'), true)
    t.same(await store.scopes('devices'), [])
    t.same(await store.list('devices', 'i1'), [])
  })

  t.test(`${name}: withLock runs holders of one name one at a time, across instances`, async (t) => {
    const { store, other } = await open(t, makeStore)
    let inside = 0
    let most = 0
    const order: number[] = []
    const holders = Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? store : other).withLock('ca-register:i1', async () => {
      inside += 1
      most = Math.max(most, inside)
      await sleep(10)
      order.push(i)
      inside -= 1
      return i
    }))
    t.same((await Promise.all(holders)).sort(), [0, 1, 2, 3, 4, 5, 6, 7], 'withLock answers what fn answers')
    t.equal(most, 1, 'never two holders at once')

    await t.rejects(store.withLock('ca-register:i1', async () => { throw new Error('boom') }), { message: 'boom' })
    t.equal(await other.withLock('ca-register:i1', async () => 'free'), 'free', 'a throwing holder releases the lock')

    let releaseA!: () => void
    const holdingA = store.withLock('a', () => new Promise<void>((resolve) => { releaseA = resolve }))
    await sleep(20)
    t.equal(await other.withLock('b', async () => 'b'), 'b', 'another name is not blocked')
    releaseA()
    await holdingA
  })

  t.test(`${name}: claimNonce accepts a nonce once within its ttl`, async (t) => {
    const { store, other } = await open(t, makeStore)
    t.equal(await store.claimNonce('n1', 60_000), true)
    t.equal(await store.claimNonce('n1', 60_000), false, 'a replay is refused')
    t.equal(await other.claimNonce('n1', 60_000), false, 'a replay to another instance is refused')
    t.equal(await other.claimNonce('n2', 60_000), true)
    t.equal(await store.claimNonce('short', 50), true)
    t.equal(await store.claimNonce('short', 50), false)
    await sleep(150)
    t.equal(await store.claimNonce('short', 50), true, 'claimable again once the ttl has passed')
  })

  t.test(`${name}: every write emits one change event to every instance, with op, record and previous`, async (t) => {
    const { store, other } = await open(t, makeStore)
    const here = recorder<ChangeEvent>((l) => store.onChange(l))
    const there = other === store ? undefined : recorder<ChangeEvent>((l) => other.onChange(l))
    const [x1, x2, x3, y] = [instance('x'), instance('x', ['2.test']), instance('x', ['3.test']), instance('y')]
    await store.create('instances', GLOBAL_SCOPE, 'x', x1)
    await other.put('instances', GLOBAL_SCOPE, 'x', x2)
    await store.update('instances', GLOBAL_SCOPE, 'x', () => x3)
    await store.update('instances', GLOBAL_SCOPE, 'x', () => undefined)
    await t.rejects(other.create('instances', GLOBAL_SCOPE, 'x', x1), { code: 'ALREADY_EXISTS' })
    t.same(await other.take('instances', GLOBAL_SCOPE, 'x'), x3)
    await store.create('instances', GLOBAL_SCOPE, 'y', y)
    await store.delete('instances', GLOBAL_SCOPE, 'y')
    await store.delete('instances', GLOBAL_SCOPE, 'y')
    const base = { collection: 'instances', scope: GLOBAL_SCOPE }
    const expected = [
      { ...base, id: 'x', op: 'put', record: x1 },
      { ...base, id: 'x', op: 'put', record: x2, previous: x1 },
      { ...base, id: 'x', op: 'put', record: x3, previous: x2 },
      { ...base, id: 'x', op: 'delete', record: x3 },
      { ...base, id: 'y', op: 'put', record: y },
      { ...base, id: 'y', op: 'delete', record: y },
    ]
    for (const [label, seen] of [['writer', here], ['other instance', there]] as const) {
      if (seen === undefined) continue
      await seen.until(expected.length)
      await sleep(100)
      t.strictSame(seen.seen, expected, `${label} sees each change once, in order`)
    }
  })

  t.test(`${name}: change listeners run after the write call, never inside it, until unsubscribed`, async (t) => {
    const { store } = await open(t, makeStore)
    let calls = 0
    const stop = store.onChange(() => { calls += 1 })
    const writing = store.put('instances', GLOBAL_SCOPE, 'a', instance('a'))
    t.equal(calls, 0, 'not called synchronously')
    await writing
    const deadline = Date.now() + 3_000
    while (calls < 1 && Date.now() < deadline) await sleep(5)
    t.equal(calls, 1)
    stop()
    await store.put('instances', GLOBAL_SCOPE, 'a', instance('a', ['x.test']))
    await sleep(100)
    t.equal(calls, 1, 'an unsubscribed listener hears nothing more')
  })

  t.test(`${name}: broadcasts reach every instance with topic, payload and origin`, async (t) => {
    const { store, other } = await open(t, makeStore)
    const here = recorder<BroadcastMessage>((l) => store.onBroadcast(l))
    const there = recorder<BroadcastMessage>((l) => other.onBroadcast(l))
    await store.broadcast('kick', { connId: 'c1' })
    await here.until(1)
    await there.until(1)
    t.match(here.seen[0], { topic: 'kick', payload: { connId: 'c1' }, origin: String })
    t.same(there.seen[0], here.seen[0], 'every instance gets the same message')
    if (other !== store) {
      await other.broadcast('kick', { connId: 'c2' })
      await here.until(2)
      t.not(here.seen[1]?.origin, here.seen[0]?.origin, 'origin tells the sending process apart')
    }
  })

  t.test(`${name}: records handed out are copies the caller cannot use to change the store`, async (t) => {
    const { store } = await open(t, makeStore)
    const original = instance('a')
    const passedIn = instance('a')
    await store.put('instances', GLOBAL_SCOPE, 'a', passedIn)
    passedIn.hostnames.push('after-put.test')
    const got = await store.get('instances', GLOBAL_SCOPE, 'a')
    got?.hostnames.push('after-get.test')
    const listed = await store.list('instances', GLOBAL_SCOPE)
    listed[0]?.hostnames.push('after-list.test')
    await store.update('instances', GLOBAL_SCOPE, 'a', (current) => { current?.hostnames.push('in-mutator.test'); return undefined })
    const written = await store.update('instances', GLOBAL_SCOPE, 'a', (current) => current)
    written?.hostnames.push('after-update.test')
    t.same(await store.get('instances', GLOBAL_SCOPE, 'a'), original)

    // Only b's event: with Redis, the notifications of the writes to a above may still be in flight.
    const first = recorder<ChangeEvent>((l) => store.onChange((event) => {
      if (event.id !== 'b') return
      (event.record as InstanceRecord).hostnames.push('by-listener.test')
      l(event)
    }))
    const second = recorder<ChangeEvent>((l) => store.onChange((event) => { if (event.id === 'b') l(event) }))
    await store.put('instances', GLOBAL_SCOPE, 'b', instance('b'))
    await first.until(1)
    await second.until(1)
    t.same(second.seen[0]?.record, instance('b'), 'one listener cannot change what another sees')
    t.same(await store.get('instances', GLOBAL_SCOPE, 'b'), instance('b'))
  })

  t.test(`${name}: a reopened store keeps every acknowledged write`, async (t) => {
    const fixture = await makeStore()
    t.teardown(fixture.cleanup)
    if (fixture.reopen === undefined) {
      t.pass('no reopen for this implementation', { skip: 'no reopen' })
      return
    }
    const { store } = fixture
    await store.put('instances', GLOBAL_SCOPE, 'a', instance('a'))
    await store.create('instances', GLOBAL_SCOPE, 'gone', instance('gone'))
    await store.delete('instances', GLOBAL_SCOPE, 'gone')
    await store.update('instances', GLOBAL_SCOPE, 'a', (current) => current && { ...current, hostnames: ['updated.test'] })
    for (let i = 0; i < 25; i++) await store.put('devices', `i${i % 3}`, `d${i}`, device(`d${i}`, `i${i % 3}`))
    await store.take('devices', 'i0', 'd0')
    const reopened = await fixture.reopen()
    t.same(await reopened.get('instances', GLOBAL_SCOPE, 'a'), instance('a', ['updated.test']))
    t.equal(await reopened.get('instances', GLOBAL_SCOPE, 'gone'), undefined)
    t.same(await reopened.scopes('devices'), ['i0', 'i1', 'i2'])
    t.equal((await reopened.list('devices', 'i0')).length, 8)
    t.equal(await reopened.count('devices', 'i1'), 8)
    await reopened.put('instances', GLOBAL_SCOPE, 'c', instance('c'))
    t.same(await reopened.get('instances', GLOBAL_SCOPE, 'c'), instance('c'), 'the reopened store takes writes')
  })

  t.test(`${name}: ping answers while open; a closed store refuses calls with STORE_UNAVAILABLE`, async (t) => {
    const { store } = await open(t, makeStore)
    t.equal(await store.ping(), true)
    await store.close()
    await store.close()
    t.equal(await store.ping(), false)
    await t.rejects(store.get('instances', GLOBAL_SCOPE, 'a'), { code: 'STORE_UNAVAILABLE' })
    await t.rejects(store.put('instances', GLOBAL_SCOPE, 'a', instance('a')), { code: 'STORE_UNAVAILABLE' })
    await t.rejects(store.claimNonce('n', 1_000), { code: 'STORE_UNAVAILABLE' })
  })
}
