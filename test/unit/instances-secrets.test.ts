import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { loadMasterKey, newKeyFileEntry, type MasterKeyring } from '../../src/auth/master-key'
import { rewrapRecord } from '../../src/keys/sealed-secrets'
import { createCa, createLeaf } from '../../src/ca/pki'
import type { InstanceConfig } from '../../src/config/schema'
import { isPortcullisError } from '../../src/errors'
import { openInstanceSecrets } from '../../src/instances/instance-secrets'
import { InstanceService } from '../../src/instances/instance-service'
import { EmbeddedStore } from '../../src/store/embedded'
import { GLOBAL_SCOPE } from '../../src/store/records'

const PASSWORD = 'backend-pass-7f3a9c'

interface Setup {
  dir: string
  storeDir: string
  store: EmbeddedStore
  keyring: MasterKeyring
  service: InstanceService
}

async function setup(t: Test): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-instance-secrets-'))
  const storeDir = join(dir, 'store')
  const store = await EmbeddedStore.open({ dataDir: storeDir })
  const keyring = await loadMasterKey({ dataDir: join(dir, 'keys') })
  t.teardown(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  return { dir, storeDir, store, keyring, service: new InstanceService(store, { keyring }) }
}

/** Every byte the embedded store keeps on disk (regular files: the directory lock may be a link). */
async function storeBytes(storeDir: string): Promise<string> {
  const entries = await readdir(storeDir, { withFileTypes: true })
  const texts = await Promise.all(entries.filter((e) => e.isFile()).map((e) => readFile(join(storeDir, e.name), 'latin1')))
  return texts.join('\n')
}

const amqp = (password = PASSWORD) => ({
  id: 'rabbit', protocol: 'amqp', hostnames: ['rabbit.example.com'],
  backend: { host: '127.0.0.1', port: 5672, username: 'guest', password },
})

t.test('the store never holds the backend password or the server private key in clear', async (t) => {
  const { store, storeDir, keyring, service } = await setup(t)
  const ca = await createCa({ commonName: 'Server CA' })
  const leaf = await createLeaf({ commonName: 'rabbit.example.com', issuer: ca, kind: 'server', dnsNames: ['rabbit.example.com'] })
  const { after } = await service.create({ ...amqp(), serverCertificate: { certificate: leaf.cert, privateKey: leaf.key } })
  t.equal(after?.backend.passwordSet, true)
  t.same(after?.serverCertificate, { certificate: leaf.cert, privateKeySet: true })
  await service.patch('rabbit', { backend: { password: `${PASSWORD}-2` } })

  const stored = await store.get('instances', GLOBAL_SCOPE, 'rabbit')
  t.equal(stored?.backend.password, undefined, 'no plaintext password field')
  t.equal(stored?.backend.passwordSealed?.keyId, keyring.current.id)
  t.equal(stored?.serverCertificate?.privateKey, '', 'no plaintext private key')
  t.ok(stored?.serverCertificate?.privateKeySealed)

  const disk = await storeBytes(storeDir)
  t.ok(disk.includes('rabbit.example.com'), 'the search looks at the instance records')
  for (const secret of [PASSWORD, `${PASSWORD}-2`, Buffer.from(PASSWORD).toString('base64'), 'PRIVATE KEY', leaf.key.split('\n')[1] ?? '']) {
    t.notOk(disk.includes(secret), `not on disk: ${secret.slice(0, 12)}…`)
  }

  const opened = openInstanceSecrets(stored!, keyring)
  t.equal(opened.backend.password, `${PASSWORD}-2`, 'the data path opens the latest password')
  t.equal(opened.serverCertificate?.privateKey, leaf.key)
  t.equal(opened.backend.passwordSealed, undefined, 'an opened record carries no sealed fields')
  t.equal(opened.serverCertificate?.privateKeySealed, undefined)
})

t.test('patches work on the opened record: an unnamed password survives, null removes it', async (t) => {
  const { keyring, service } = await setup(t)
  await service.create(amqp())
  const { before, after, record } = await service.patch('rabbit', { backend: { port: 5673 } })
  t.equal(before?.backend.passwordSet, true)
  t.equal(after?.backend.passwordSet, true)
  t.equal(openInstanceSecrets(record, keyring).backend.password, PASSWORD, 'a port change keeps the password')
  t.notOk(JSON.stringify({ before, after }).includes('passwordSealed'), 'views hold neither the secret nor its sealed form')
  const cleared = await service.patch('rabbit', { backend: { password: null } })
  t.equal(cleared.after?.backend.passwordSet, false)
  t.same(cleared.record.backend.passwordSealed, undefined)
  const smuggled = await service.patch('rabbit', { backend: { passwordSealed: record.backend.passwordSealed } }).catch((err: unknown) => err)
  t.ok(isPortcullisError(smuggled, 'VALIDATION_FAILED'), 'a sealed value cannot be written through the API')
})

t.test('a sealed secret moved to another instance does not open', async (t) => {
  const { store, keyring, service } = await setup(t)
  const { record } = await service.create(amqp())
  await service.create({ ...amqp('other'), id: 'other', hostnames: [] })
  const other = await store.get('instances', GLOBAL_SCOPE, 'other')
  const moved = { ...other!, backend: { ...other!.backend, passwordSealed: record.backend.passwordSealed! } }
  t.throws(() => openInstanceSecrets(moved, keyring), { code: 'INTERNAL' })
  t.throws(() => openInstanceSecrets(record, undefined), { code: 'INTERNAL', message: /no master key/ })
})

t.test('config bootstrap seals its passwords, and a restart with the same config writes nothing', async (t) => {
  const { store, storeDir, keyring, service } = await setup(t)
  const config: InstanceConfig = {
    id: 'boot', protocol: 'amqp', hostnames: ['boot.example.com'], accessType: 'ANY_TUNNEL',
    backend: { kind: 'tcp', host: '127.0.0.1', port: 5672, username: 'guest', password: PASSWORD },
    options: { newDeviceStatus: 'ACTIVE', autoRegisterDevices: true, replaceBackendCredentials: false, usernameFromCertificate: false },
    authorization: { mode: 'off' },
  }
  const first = await service.bootstrap([config])
  t.same(first.map((r) => r.action), ['create'])
  t.equal(first[0]?.change.after?.backend.passwordSet, true, 'the result is a public view the caller can audit')
  t.notOk(JSON.stringify(first).includes(PASSWORD))
  const stored = await store.get('instances', GLOBAL_SCOPE, 'boot')
  t.equal(stored?.backend.password, undefined)
  t.equal(openInstanceSecrets(stored!, keyring).backend.password, PASSWORD)

  const writes: string[] = []
  const off = store.onChange((e) => writes.push(e.id))
  t.same((await service.bootstrap([config])).map((r) => r.action), ['unchanged'], 'the password is compared in clear')
  const changed = await service.bootstrap([{ ...config, backend: { ...config.backend, password: 'rotated' } }])
  t.same(changed.map((r) => r.action), ['update'])
  await new Promise((resolve) => setImmediate(resolve)) // change events arrive on a later turn
  off()
  t.same(writes, ['boot'], 'only the real change was written')
  t.equal(openInstanceSecrets((await store.get('instances', GLOBAL_SCOPE, 'boot'))!, keyring).backend.password, 'rotated')
  t.notOk((await storeBytes(storeDir)).includes('rotated'))
})

t.test('records written before sealing are sealed at start; a rotation (not a start) re-wraps them', async (t) => {
  const { dir, store, service } = await setup(t)
  await new InstanceService(store).create(amqp())
  t.equal((await store.get('instances', GLOBAL_SCOPE, 'rabbit'))?.backend.password, PASSWORD, 'a store without a keyring holds it as given')
  t.equal(await service.sealPlaintext(), 1)
  t.equal((await store.get('instances', GLOBAL_SCOPE, 'rabbit'))?.backend.password, undefined)
  t.equal(await service.sealPlaintext(), 0, 'nothing left to do')

  const keyFile = join(dir, 'rotated.json')
  const old = JSON.parse(await readFile(join(dir, 'keys', 'master-key.json'), 'utf8')) as { keys: unknown[] }
  await writeFile(keyFile, JSON.stringify({ keys: [...old.keys, newKeyFileEntry('mk-next')] }), { mode: 0o600 })
  const rotated = await loadMasterKey({ dataDir: dir, masterKeyFile: keyFile })
  const after = new InstanceService(store, { keyring: rotated })
  t.equal(await after.sealPlaintext(), 0, 'a start with a newer key does not re-wrap by itself')
  t.equal((await store.get('instances', GLOBAL_SCOPE, 'rabbit'))?.backend.passwordSealed?.keyId, old.keys.length === 1 ? (old.keys[0] as { keyId: string }).keyId : undefined)
  t.equal(await rewrapRecord(store, rotated, { collection: 'instances', id: 'rabbit' }), 1, 'the rotation re-wraps the one sealed secret')
  t.equal(await rewrapRecord(store, rotated, { collection: 'instances', id: 'rabbit' }), 0, 'and a second pass finds nothing to do')
  const stored = await store.get('instances', GLOBAL_SCOPE, 'rabbit')
  t.equal(stored?.backend.passwordSealed?.keyId, 'mk-next')
  t.equal(openInstanceSecrets(stored!, rotated).backend.password, PASSWORD)
})
