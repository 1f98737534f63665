import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setImmediate as tick } from 'node:timers/promises'
import t, { type Test } from 'tap'
import { AccessKeyService } from '../../src/auth/access-keys'
import { loadMasterKey, newKeyFileEntry } from '../../src/auth/master-key'
import { StaticAccountService } from '../../src/auth/static-accounts'
import { encodeUserName, secretSignFor, signatureFor } from '../../src/auth/credentials'
import { InstanceService } from '../../src/instances/instance-service'
import { EmbeddedStore } from '../../src/store/embedded'
import { GLOBAL_SCOPE } from '../../src/store/records'
import { authStore, type AuthStore } from '../helpers/auth-fixture'
import { rejectsWith } from '../helpers/rejects'

const setup = (t: Test): Promise<AuthStore> => authStore(t, { tmpPrefix: 'portcullis-auth-keys-', masterKeyId: 'k1' })

t.test('creates an AccessKey in the Aliyun shape and shows its secret only once', async (t) => {
  const { store, keys } = await setup(t)
  const created = await keys.create({ description: 'ci pipeline' })
  t.match(created.accessKeyId, /^LTAI[A-Za-z0-9]{20}$/)
  t.match(created.accessKeySecret, /^[A-Za-z0-9]{30}$/)
  t.same(created.after, { accessKeyId: created.accessKeyId, accountId: 'root', status: 'Active', description: 'ci pipeline', createdAt: created.record.createdAt, updatedAt: created.record.updatedAt })
  const stored = await store.get('accessKeys', GLOBAL_SCOPE, created.accessKeyId)
  t.notMatch(JSON.stringify(stored), created.accessKeySecret, 'the record holds no clear secret')
  const listed = await keys.list()
  t.same(listed, [created.after])
  t.notMatch(JSON.stringify(listed), created.accessKeySecret)
  t.notMatch(JSON.stringify(await keys.get(created.accessKeyId)), created.accessKeySecret)
  t.equal(await keys.secretOf(created.accessKeyId), created.accessKeySecret)
})

t.test('refuses a bad description and answers NOT_FOUND for unknown keys', async (t) => {
  const { keys } = await setup(t)
  await rejectsWith(t, keys.create({ description: 'x'.repeat(300) }), 'VALIDATION_FAILED')
  await rejectsWith(t, keys.create({ description: 'line\nbreak' }), 'VALIDATION_FAILED')
  await rejectsWith(t, keys.create({ description: 42 }), 'VALIDATION_FAILED')
  await rejectsWith(t, keys.create(null), 'VALIDATION_FAILED')
  await rejectsWith(t, keys.get('LTAIunknown'), 'NOT_FOUND')
  await rejectsWith(t, keys.setStatus('LTAIunknown', 'Inactive'), 'NOT_FOUND')
  await rejectsWith(t, keys.delete('LTAIunknown'), 'NOT_FOUND')
  t.equal(await keys.secretOf('LTAIunknown'), undefined)
  t.equal(await keys.secretOf('not:an:id'), undefined)
})

t.test('disabling a key makes secretOf refuse it at once, and enabling restores it', async (t) => {
  const { keys } = await setup(t)
  const { accessKeyId, accessKeySecret } = await keys.create()
  t.equal(await keys.secretOf(accessKeyId), accessKeySecret, 'cached')
  const change = await keys.setStatus(accessKeyId, 'Inactive')
  t.equal(change.before?.status, 'Active')
  t.equal(change.after?.status, 'Inactive')
  await rejectsWith(t, keys.secretOf(accessKeyId), 'ACCESS_KEY_INACTIVE')
  await keys.setStatus(accessKeyId, 'Active')
  t.equal(await keys.secretOf(accessKeyId), accessKeySecret)
  await rejectsWith(t, keys.setStatus(accessKeyId, 'Disabled'), 'VALIDATION_FAILED')
})

t.test('a change made through another service instance invalidates the cache via change events', async (t) => {
  const { store, keyring, keys } = await setup(t)
  const other = new AccessKeyService(store, keyring)
  t.teardown(() => other.close())
  const { accessKeyId, accessKeySecret } = await keys.create()
  t.equal(await other.secretOf(accessKeyId), accessKeySecret, 'the other replica caches it')
  await keys.setStatus(accessKeyId, 'Inactive')
  await tick()
  await tick()
  await rejectsWith(t, other.secretOf(accessKeyId), 'ACCESS_KEY_INACTIVE')
  await keys.delete(accessKeyId)
  await tick()
  await tick()
  t.equal(await other.secretOf(accessKeyId), undefined)
})

t.test('deleting an AccessKey deletes its static accounts on every instance', async (t) => {
  const { store, keys } = await setup(t)
  const instances = new InstanceService(store)
  const statics = new StaticAccountService(store, keys)
  const { accessKeyId, accessKeySecret } = await keys.create()
  const { accessKeyId: otherKey, accessKeySecret: otherSecret } = await keys.create()
  for (const id of ['amqp-1', 'amqp-2']) {
    await instances.create({ id, protocol: 'amqp', hostnames: [`${id}.example.com`], backend: { host: '127.0.0.1', port: 5672 } })
    for (const [ak, sk] of [[accessKeyId, accessKeySecret], [otherKey, otherSecret]] as const) {
      const ts = '1700000000000'
      await statics.create(id, {
        accountAccessKey: ak, userName: encodeUserName({ type: 2, instanceId: id, accessKeyId: ak }), createTimestamp: ts,
        signature: signatureFor(sk, ts), secretSign: secretSignFor(sk, ts),
      })
    }
  }
  const deleted = await keys.delete(accessKeyId)
  t.equal(deleted.before?.accessKeyId, accessKeyId)
  t.same(deleted.staticAccounts.map((a) => a.instanceId).sort(), ['amqp-1', 'amqp-2'])
  t.same((await statics.list('amqp-1')).map((a) => a.accessKey), [otherKey], 'the other key\'s account stays')
  t.same((await statics.list('amqp-2')).map((a) => a.accessKey), [otherKey])
  t.same((await keys.list()).map((k) => k.accessKeyId), [otherKey])
})

t.test('re-wraps every secret after a master key rotation', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-auth-rotate-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'keys.json')
  const old = newKeyFileEntry('old')
  await writeFile(file, JSON.stringify({ keys: [old] }), { mode: 0o600 })
  const store = await EmbeddedStore.open({ dataDir: join(dir, 'data') })
  t.teardown(() => store.close())
  const before = new AccessKeyService(store, await loadMasterKey({ masterKeyFile: file, dataDir: dir }))
  const a = await before.create()
  const b = await before.create()
  before.close()

  await writeFile(file, JSON.stringify({ keys: [old, newKeyFileEntry('new')] }), { mode: 0o600 })
  const after = new AccessKeyService(store, await loadMasterKey({ masterKeyFile: file, dataDir: dir }))
  t.teardown(() => after.close())
  t.equal(await after.rewrapAll(), 2)
  t.equal(await after.rewrapAll(), 0, 'nothing left to re-wrap')
  for (const record of await store.list('accessKeys', GLOBAL_SCOPE)) t.equal(record.secret.keyId, 'new')
  t.equal(await after.secretOf(a.accessKeyId), a.accessKeySecret)
  t.equal(await after.secretOf(b.accessKeyId), b.accessKeySecret)
})

/** Counts the store reads of AccessKey records (a spy on the real store, which still answers). */
function countReads(store: AuthStore['store']): { readonly count: number } {
  const get = store.get.bind(store)
  const counter = { count: 0 }
  store.get = ((collection: string, scope: string, id: string) => {
    if (collection === 'accessKeys') counter.count++
    return get(collection as never, scope, id)
  }) as typeof store.get
  return counter
}

t.test('a flood of logins naming an unknown AccessKey reads the store once per TTL, not once per login', async (t) => {
  const { store, keyring } = await setup(t)
  const keys = new AccessKeyService(store, keyring, { negativeCacheTtlMs: 200 })
  t.teardown(() => keys.close())
  const reads = countReads(store)
  const unknown = 'LTAIunknownunknownunkno'
  const answers = await Promise.all(Array.from({ length: 50 }, () => keys.credentialOf(unknown)))
  t.ok(answers.every((a) => a === undefined), 'unknown every time')
  for (let i = 0; i < 50; i++) t.equal(await keys.secretOf(unknown), undefined)
  t.equal(reads.count, 1, '100 lookups, concurrent and sequential, one store read')
  await new Promise((resolve) => setTimeout(resolve, 250))
  t.equal(await keys.secretOf(unknown), undefined)
  t.equal(reads.count, 2, 'read again once the negative answer expired')
})

t.test('the negative cache is bounded and forgets an id as soon as a key with it is created (on any replica)', async (t) => {
  const { store, keyring, keys } = await setup(t)
  const other = new AccessKeyService(store, keyring, { negativeCacheSize: 2, negativeCacheTtlMs: 60_000 })
  t.teardown(() => other.close())
  const created = await keys.create()
  const record = await store.get('accessKeys', GLOBAL_SCOPE, created.accessKeyId)
  await store.take('accessKeys', GLOBAL_SCOPE, created.accessKeyId)
  await tick()
  t.equal(await other.secretOf(created.accessKeyId), undefined, 'absent now, and remembered as absent')
  const reads = countReads(store)
  t.equal(await other.secretOf(created.accessKeyId), undefined)
  t.equal(reads.count, 0, 'answered from the negative cache')
  // The key comes (back) into existence through the store, as another replica's create does.
  await store.create('accessKeys', GLOBAL_SCOPE, created.accessKeyId, record!)
  await tick()
  await tick()
  t.equal(await other.secretOf(created.accessKeyId), created.accessKeySecret, 'the change event dropped the negative entry')

  for (const id of ['LTAIunknownunknownunkn1', 'LTAIunknownunknownunkn2', 'LTAIunknownunknownunkn3']) await other.secretOf(id)
  const before = reads.count
  await other.secretOf('LTAIunknownunknownunkn1')
  t.equal(reads.count, before + 1, 'the oldest of more than negativeCacheSize ids was dropped')
  await other.secretOf('LTAIunknownunknownunkn3')
  t.equal(reads.count, before + 1, 'the newest are still remembered')
})

t.test('credentialOf answers the secret of an Inactive key with its status (the authenticator checks the HMAC first)', async (t) => {
  const { keys } = await setup(t)
  const { accessKeyId, accessKeySecret } = await keys.create()
  await keys.setStatus(accessKeyId, 'Inactive')
  const credential = await keys.credentialOf(accessKeyId)
  t.equal(credential?.status, 'Inactive')
  t.equal(credential?.secret, accessKeySecret)
  await rejectsWith(t, keys.secretOf(accessKeyId), 'ACCESS_KEY_INACTIVE')
})
