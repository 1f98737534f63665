import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { createCa, createLeaf } from '../../src/ca/pki'
import { InstanceService } from '../../src/instances/instance-service'
import { EmbeddedStore } from '../../src/store/embedded'
import { GLOBAL_SCOPE } from '../../src/store/records'
import type { InstanceConfig } from '../../src/config/schema'
import { rejectsWith } from '../helpers/rejects'

async function setup(t: Test): Promise<{ store: EmbeddedStore; service: InstanceService }> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-instances-'))
  const store = await EmbeddedStore.open({ dataDir: dir })
  t.teardown(async () => {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  return { store, service: new InstanceService(store) }
}

const AMQP = { id: 'amqp-1', protocol: 'amqp', hostnames: ['amqp.example.com'], backend: { host: '127.0.0.1', port: 5672, username: 'guest', password: 'guest' } }

t.test('creates an instance with defaults and never shows the backend password', async (t) => {
  const { service } = await setup(t)
  const { after, record } = await service.create(AMQP)
  t.equal(record.accessType, 'ANY_TUNNEL')
  t.equal(record.backend.kind, 'tcp')
  t.equal(record.backend.password, 'guest', 'the record keeps the password for the data path')
  t.equal(after?.backend.passwordSet, true)
  t.notOk('password' in (after?.backend ?? {}), 'the view has no password')
  t.equal((await service.get('amqp-1')).id, 'amqp-1')
  t.same((await service.list()).map((r) => r.id), ['amqp-1'])
})

t.test('refuses a duplicate id, an invalid body and unknown keys', async (t) => {
  const { service } = await setup(t)
  await service.create(AMQP)
  await rejectsWith(t, service.create({ ...AMQP, hostnames: [] }), 'ALREADY_EXISTS', 'amqp-1')
  await rejectsWith(t, service.create({ id: 'x', protocol: 'smtp' }), 'VALIDATION_FAILED', 'protocol')
  await rejectsWith(t, service.create({ id: 'y', protocol: 'mqtt', colour: 'red' }), 'VALIDATION_FAILED', 'colour')
  await rejectsWith(t, service.create({ id: 'z', protocol: 'amqp' }), 'VALIDATION_FAILED', 'embedded')
  await rejectsWith(t, service.create({ id: 'w', protocol: 'mqtt', accessType: 'SINGLE_TUNNEL' }), 'VALIDATION_FAILED', 'vpcId')
  await rejectsWith(t, service.create({ id: 'v', protocol: 'mqtt', hostnames: ['not a host'] }), 'VALIDATION_FAILED', 'hostnames')
})

t.test('hostnames are unique across instances, case-insensitively, naming the clash', async (t) => {
  const { service } = await setup(t)
  await service.create(AMQP)
  await rejectsWith(t, service.create({ id: 'other', protocol: 'mqtt', hostnames: ['AMQP.example.com'] }), 'ALREADY_EXISTS', 'amqp.example.com')
  await service.create({ id: 'other', protocol: 'mqtt', hostnames: ['mqtt.example.com'] })
  await rejectsWith(t, service.patch('other', { hostnames: ['amqp.example.com'] }), 'ALREADY_EXISTS', 'amqp-1')
})

t.test('finds an instance by exact hostname first, then by a one-level wildcard', async (t) => {
  const { service } = await setup(t)
  await service.create({ id: 'wild', protocol: 'mqtt', hostnames: ['*.example.com'] })
  await service.create({ id: 'exact', protocol: 'mqtt', hostnames: ['a.example.com'] })
  t.equal((await service.findByHostname('A.example.com'))?.id, 'exact')
  t.equal((await service.findByHostname('b.example.com'))?.id, 'wild')
  t.equal(await service.findByHostname('x.b.example.com'), undefined, 'the wildcard covers one level only')
  t.equal(await service.findByHostname('example.com'), undefined)
})

t.test('patch merges the backend and options and answers before/after', async (t) => {
  const { service } = await setup(t)
  await service.create(AMQP)
  const { before, after, record } = await service.patch('amqp-1', { backend: { port: 5673 }, options: { autoRegisterDevices: false } })
  t.equal(before?.backend.port, 5672)
  t.equal(after?.backend.port, 5673)
  t.equal(record.backend.password, 'guest', 'the password survives a patch that does not name it')
  t.equal(record.options.autoRegisterDevices, false)
  t.equal(record.options.newDeviceStatus, 'ACTIVE')
  const cleared = await service.patch('amqp-1', { backend: { password: null } })
  t.equal(cleared.record.backend.password, undefined, 'null removes a member (RFC 7386)')
  await rejectsWith(t, service.patch('amqp-1', { protocol: 'mqtt' }), 'VALIDATION_FAILED', 'protocol')
  await rejectsWith(t, service.patch('amqp-1', { accessType: 'SINGLE_TUNNEL' }), 'VALIDATION_FAILED', 'vpcId')
  const single = await service.patch('amqp-1', { accessType: 'SINGLE_TUNNEL', vpcId: 'vpc-1' })
  t.equal(single.record.accessType, 'SINGLE_TUNNEL')
  await rejectsWith(t, service.patch('nope', {}), 'NOT_FOUND')
})

t.test('a server certificate must match its key, and the key never shows in a view', async (t) => {
  const { service } = await setup(t)
  const ca = await createCa({ commonName: 'Test CA' })
  const leaf = await createLeaf({ commonName: 'mqtt.example.com', issuer: ca, kind: 'server', dnsNames: ['mqtt.example.com'] })
  const other = await createLeaf({ commonName: 'other', issuer: ca, kind: 'server' })
  await rejectsWith(t, service.create({ id: 'm', protocol: 'mqtt', serverCertificate: { certificate: leaf.cert, privateKey: other.key } }), 'VALIDATION_FAILED', 'does not belong')
  const { after } = await service.create({ id: 'm', protocol: 'mqtt', serverCertificate: { certificate: leaf.cert, privateKey: leaf.key } })
  t.same(after?.serverCertificate, { certificate: leaf.cert, privateKeySet: true })
  t.notOk(JSON.stringify(after).includes('PRIVATE KEY'))
})

t.test('a forced delete removes the instance with its CAs, devices, registration code and static accounts', async (t) => {
  const { store, service } = await setup(t)
  await service.create({ id: 'gone', protocol: 'mqtt' })
  await service.create({ id: 'kept', protocol: 'mqtt' })
  const time = new Date().toISOString()
  const ca = { id: 'ca1', instanceId: 'gone', pem: '', serialNumber: '1', subject: 'CN=x', issuer: 'CN=x', notBefore: time, notAfter: time, status: 'ACTIVE' as const, spkiSha256: 'x', createdAt: time, updatedAt: time }
  await store.put('cas', 'gone', 'ca1', ca)
  await store.put('cas', 'kept', 'ca1', { ...ca, instanceId: 'kept' })
  await store.put('devices', 'gone', 'd1', { id: 'd1', instanceId: 'gone', caId: 'ca1', pem: '', serialNumber: '2', subject: 'CN=d', notBefore: time, notAfter: time, status: 'ACTIVE', registeredBy: 'auto', createdAt: time, updatedAt: time })
  await store.put('registrationCodes', 'gone', 'current', { instanceId: 'gone', code: 'abc', expiresAt: time })
  await store.put('staticAccounts', 'gone', 'AK1', { instanceId: 'gone', accessKeyId: 'AK1', userName: 'u', createTimestamp: '1', createdAt: time })
  await rejectsWith(t, service.delete('gone'), 'INSTANCE_IN_USE')
  t.same(await service.holdings('gone'), { activeCas: 1, activeDevices: 1 }, 'an unforced delete removed nothing')
  const { before, forced, held } = await service.delete('gone', { force: true })
  t.equal(before?.id, 'gone')
  t.equal(forced, true)
  t.same(held, { activeCas: 1, activeDevices: 1 })
  await rejectsWith(t, service.get('gone'), 'NOT_FOUND')
  t.equal(await store.count('cas', 'gone'), 0)
  t.equal(await store.count('devices', 'gone'), 0)
  t.equal(await store.count('registrationCodes', 'gone'), 0)
  t.equal(await store.count('staticAccounts', 'gone'), 0)
  t.equal(await store.count('cas', 'kept'), 1, 'another instance keeps its CAs')
  await rejectsWith(t, service.delete('gone'), 'NOT_FOUND')
})

t.test('bootstrap creates missing instances, updates changed ones and leaves the rest alone', async (t) => {
  const { store, service } = await setup(t)
  const config = (over: Partial<InstanceConfig> = {}): InstanceConfig => ({
    id: 'boot', protocol: 'mqtt', hostnames: ['Boot.example.com'], backend: { kind: 'embedded' }, accessType: 'ANY_TUNNEL',
    options: { newDeviceStatus: 'ACTIVE', autoRegisterDevices: true, replaceBackendCredentials: false, usernameFromCertificate: false },
    authorization: { mode: 'off' },
    ...over,
  })
  await service.create({ id: 'api-made', protocol: 'mqtt' })
  const first = await service.bootstrap([Object.freeze(config())])
  t.same(first.map((r) => r.action), ['create'])
  t.same((await service.get('boot')).hostnames, ['boot.example.com'])
  const again = await service.bootstrap([config()])
  t.same(again.map((r) => r.action), ['unchanged'], 'a restart with the same config writes nothing')
  const changed = await service.bootstrap([config({ accessType: 'SINGLE_TUNNEL', vpcId: 'vpc-9' })])
  t.same(changed.map((r) => r.action), ['update'])
  t.equal(changed[0]?.change.before?.accessType, 'ANY_TUNNEL')
  t.equal(changed[0]?.change.after?.vpcId, 'vpc-9')
  t.ok(await store.get('instances', GLOBAL_SCOPE, 'api-made'), 'instances made through the API stay')
})
