import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { Test } from '../helpers/services'
import { EmbeddedStore } from '../../src/store/embedded'
import type { DeviceRecord } from '../../src/store/records'
import { DeviceCache } from '../../src/proxy/device-cache'
import { TrustIndexCache } from '../../src/proxy/trust-cache'

/**
 * The synchronous answers the connection path uses to skip a promise hop (issue 15): they must
 * never answer what `forInstance` / `get` would not, and must forget what a change invalidates.
 */
async function withStore(t: Test): Promise<EmbeddedStore> {
  const dataDir = await mkdtemp(join(tmpdir(), 'portcullis-conn-caches-'))
  const store = await EmbeddedStore.open({ dataDir })
  t.teardown(async () => {
    await store.close()
    await rm(dataDir, { recursive: true, force: true })
  })
  return store
}

/** Change notifications are delivered after the write resolves. */
const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

function device(id: string, status: DeviceRecord['status']): DeviceRecord {
  const at = '2026-12-02T00:00:00.000Z'
  return { id, instanceId: 'i1', caId: 'ca1', pem: '', serialNumber: '01', subject: 'CN=d', notBefore: at, notAfter: at, status, registeredBy: 'auto', createdAt: at, updatedAt: at }
}

t.test('the trust index is answered from memory only once built, and no longer after a CA change', async (t) => {
  const store = await withStore(t)
  const trust = new TrustIndexCache(store)
  t.teardown(() => trust.close())
  t.equal(trust.cached('i1'), undefined, 'nothing before the first build')
  const building = trust.forInstance('i1')
  t.equal(trust.cached('i1'), undefined, 'nothing while the build runs')
  const index = await building
  await settled()
  t.equal(trust.cached('i1'), index, 'the built index, the same object forInstance gave')
  trust.invalidate('i1')
  t.equal(trust.cached('i1'), undefined, 'forgotten on invalidation')
  await trust.forInstance('i1')
  await settled()
  t.not(trust.cached('i1'), undefined)
  trust.clear()
  t.equal(trust.cached('i1'), undefined, 'forgotten by clear')
})

t.test('a build that raced a change is never answered from memory', async (t) => {
  const store = await withStore(t)
  const trust = new TrustIndexCache(store)
  t.teardown(() => trust.close())
  const building = trust.forInstance('i1')
  trust.invalidate('i1')
  await building
  await settled()
  t.equal(trust.cached('i1'), undefined)
})

t.test('a device record is peeked only once read, and follows change notifications', async (t) => {
  const store = await withStore(t)
  const cache = new DeviceCache(store)
  t.teardown(() => cache.close())
  await store.put('devices', 'i1', 'd1', device('d1', 'ACTIVE'))
  await settled()
  t.equal(cache.peek('i1', 'd1')?.status, 'ACTIVE', 'the put notification filled it')
  await store.put('devices', 'i1', 'd1', device('d1', 'REVOKED'))
  await settled()
  t.equal(cache.peek('i1', 'd1')?.status, 'REVOKED', 'a revocation is seen at once')
  await store.delete('devices', 'i1', 'd1')
  await settled()
  t.equal(cache.peek('i1', 'd1'), undefined, 'a deleted device is not answered from memory')
  cache.clear()
  t.equal(cache.peek('i1', 'd2'), undefined)
})
