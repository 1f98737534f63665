import { randomUUID, X509Certificate } from 'node:crypto'
import Redis from 'ioredis'
import t from 'tap'
import { createCa, createLeaf } from '../../src/ca/pki'
import { trustDigest } from '../../src/ca/trust-digest'
import { validateClientChain } from '../../src/ca/validate'
import { ChainVerdictSharing } from '../../src/proxy/chain-verdict-sharing'
import { TrustIndexCache } from '../../src/proxy/trust-cache'
import { cachedVerdict, remember } from '../../src/proxy/verified-chains'
import { RedisStore } from '../../src/store/redis'
import { caRecord } from '../helpers/pki'
import { DEFAULT_PORTS, serviceAvailable } from '../helpers/services'
import { until } from '../helpers/wait'

const REDIS_URL = `redis://127.0.0.1:${DEFAULT_PORTS.redis}`
const INSTANCE = 'inst-share'

t.test('trust digest: the same records in any order agree; any change to a record does not', async (t) => {
  const [a, b] = await Promise.all([createCa({ commonName: 'digest A' }), createCa({ commonName: 'digest B' })])
  const ra = caRecord(a, 'ACTIVE', INSTANCE)
  const rb = caRecord(b, 'ACTIVE', INSTANCE)
  t.equal(trustDigest([ra, rb]), trustDigest([rb, ra]))
  t.not(trustDigest([ra, rb]), trustDigest([ra]))
  t.not(trustDigest([ra, rb]), trustDigest([ra, { ...rb, status: 'INACTIVE' }]), 'a status change')
  t.not(trustDigest([ra]), trustDigest([{ ...ra, updatedAt: new Date(0).toISOString() }]), 'any member')
  t.match(trustDigest([]), /^[0-9a-f]{64}$/)
})

/** Writes a CA record through the first store and waits until the second has heard of it. */
async function putCa(writer: RedisStore, listener: RedisStore, record: ReturnType<typeof caRecord>): Promise<void> {
  let off = (): void => undefined
  const heard = new Promise<void>((resolve) => {
    off = listener.onChange((event) => { if (event.collection === 'cas' && event.id === record.id) resolve() })
  })
  await writer.put('cas', INSTANCE, record.id, record)
  await heard
  off()
}

/** Two gateway processes of one Redis store: each its own store connection, trust cache and sharing. */
async function twoProcesses(t: tap.Test): Promise<Array<{ store: RedisStore; trust: TrustIndexCache; sharing: ChainVerdictSharing; id: string }>> {
  const keyPrefix = `portcullis-test:${randomUUID()}:`
  const made = await Promise.all(['p1', 'p2'].map(async (name) => {
    const id = `${name}-${randomUUID()}`
    const store = await RedisStore.open({ url: REDIS_URL, keyPrefix, processId: id })
    const trust = new TrustIndexCache(store)
    return { store, trust, sharing: new ChainVerdictSharing(store, trust, id), id }
  }))
  // A CA written before an index is built reaches the other process as a change notification too,
  // which would drop an index built before it arrived: tests build indexes once it has.
  t.teardown(async () => {
    for (const p of made) {
      p.sharing.close()
      p.trust.close()
      await p.store.close()
    }
    const admin = new Redis(REDIS_URL)
    const keys = await admin.keys(`${keyPrefix}*`)
    if (keys.length > 0) await admin.del(...keys)
    admin.disconnect()
  })
  return made
}

t.test('a chain validated by one process is not validated again by another of the same store', async (t) => {
  if (!(await serviceAvailable(t, 'redis', DEFAULT_PORTS.redis))) return
  const [p1, p2] = await twoProcesses(t) as [Awaited<ReturnType<typeof twoProcesses>>[number], Awaited<ReturnType<typeof twoProcesses>>[number]]
  const ca = await createCa({ commonName: 'shared verdict CA' })
  const device = await createLeaf({ commonName: 'shared-device', issuer: ca, kind: 'client' })
  const record = caRecord(ca, 'ACTIVE', INSTANCE)
  await putCa(p1.store, p2.store, record)
  const [index1, index2] = await Promise.all([p1.trust.forInstance(INSTANCE), p2.trust.forInstance(INSTANCE)])
  t.equal(index1.digest, index2.digest, 'both built the same index')
  const leaf = new X509Certificate(device.cert)
  const now = Date.now()
  t.equal(cachedVerdict(index2, leaf.fingerprint256, now), undefined, 'the second process has not seen the chain')

  const verdict = await validateClientChain([leaf], index1, new Date(now))
  if (!verdict.ok) throw new Error(`the chain did not validate: ${verdict.reason}`)
  p1.sharing.share(INSTANCE, index1, remember(index1, verdict))
  t.ok(await until(() => cachedVerdict(index2, leaf.fingerprint256, Date.now()) !== undefined, 3000), 'the second process adopted the verdict')
  t.equal(cachedVerdict(index2, leaf.fingerprint256, Date.now())?.id, record.id, 'anchored on its own record of the same CA')
  t.equal(p2.sharing.adopted, 1)
  t.equal(p1.sharing.adopted, 0, 'a process does not adopt its own broadcast')
})

t.test('a verdict is ignored under another trust index, after a CA change, or malformed', async (t) => {
  if (!(await serviceAvailable(t, 'redis', DEFAULT_PORTS.redis))) return
  const [p1, p2] = await twoProcesses(t) as [Awaited<ReturnType<typeof twoProcesses>>[number], Awaited<ReturnType<typeof twoProcesses>>[number]]
  const ca = await createCa({ commonName: 'refused verdict CA' })
  const record = caRecord(ca, 'ACTIVE', INSTANCE)
  await putCa(p1.store, p2.store, record)
  const index2 = await p2.trust.forInstance(INSTANCE)
  const fingerprint = 'AB:'.repeat(31) + 'AB'
  const hint = { instanceId: INSTANCE, digest: index2.digest, fingerprint256: fingerprint, caId: record.id, fromMs: 0, untilMs: Date.now() + 60_000 }
  const send = (payload: Record<string, unknown>): Promise<void> => p1.store.broadcast('chains.verified', payload)

  await send({ ...hint, digest: 'f'.repeat(64) })
  await send({ ...hint, caId: 'e'.repeat(64) })
  await send({ ...hint, fingerprint256: 'not a fingerprint' })
  await send({ ...hint, fromMs: 'yesterday' })
  await send({ ...hint, instanceId: 'another-instance' })
  // A marker that is adopted, so the ones before it have certainly been delivered.
  await send({ ...hint, fingerprint256: 'CD:'.repeat(31) + 'CD' })
  t.ok(await until(() => p2.sharing.adopted === 1, 3000), 'the well-formed hint under the same index is adopted')
  t.equal(cachedVerdict(index2, fingerprint, Date.now()), undefined, 'none of the others was')

  // The CA is deactivated: the second process's index is rebuilt under another digest, and the
  // verdict reached under the old one, sent again, is not adopted.
  await putCa(p1.store, p2.store, { ...record, status: 'INACTIVE', updatedAt: new Date().toISOString() })
  t.equal(p2.trust.cached(INSTANCE), undefined, 'the change dropped the old index')
  const rebuilt = await p2.trust.forInstance(INSTANCE)
  t.not(rebuilt.digest, index2.digest)
  await send(hint)
  await send({ ...hint, digest: rebuilt.digest, fingerprint256: 'EF:'.repeat(31) + 'EF' })
  await until(() => p2.sharing.adopted > 1, 1000)
  t.equal(cachedVerdict(rebuilt, fingerprint, Date.now()), undefined, 'the old verdict is not in the new index')
  t.equal(cachedVerdict(rebuilt, 'EF:'.repeat(31) + 'EF', Date.now()), undefined, 'nor one anchored on a CA the index cannot use')
})
