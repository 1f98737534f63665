import t from 'tap'
import { CaRegistry } from '../../src/ca/ca-registry'
import { inspectCertificate, parseCertificatePem } from '../../src/ca/certificate'
import { DeviceRegistry } from '../../src/ca/device-registry'
import { createCa, createLeaf } from '../../src/ca/pki'
import type { KeyAndCert } from '../../src/ca/pki'
import { RegistrationCodes } from '../../src/ca/registration-codes'
import { registerCa, tempStore, x509Of } from '../helpers/pki'
import type { Test } from '../helpers/services'

const INSTANCE = 'mqtt-1'

async function fixture(t: Test): Promise<{ devices: DeviceRegistry; ca: KeyAndCert; caId: string; cas: CaRegistry }> {
  const store = await tempStore(t)
  const codes = new RegistrationCodes(store)
  const cas = new CaRegistry(store, codes)
  const ca = await createCa({ commonName: 'Device CA' })
  const caId = (await registerCa(codes, cas, INSTANCE, ca)).after?.id ?? ''
  return { devices: new DeviceRegistry(store), ca, caId, cas }
}

t.test('registers a device certificate issued by a registered CA, keyed by its DER fingerprint', async (t) => {
  const { devices, ca, caId } = await fixture(t)
  const leaf = await createLeaf({ commonName: 'sensor-1', issuer: ca, kind: 'client' })
  const parsed = parseCertificatePem(leaf.cert)
  const { before, after } = await devices.registerManual(INSTANCE, leaf.cert)
  t.equal(before, undefined)
  t.match(after, { id: parsed.id, caId, commonName: 'sensor-1', subject: 'CN=sensor-1', status: 'ACTIVE', registeredBy: 'manual', pem: parsed.pem })
  t.equal((await devices.get(INSTANCE, parsed.id)).pem, parsed.pem)
  t.equal((await devices.find(INSTANCE, parsed.id))?.instanceId, INSTANCE)
  t.notOk('pem' in ((await devices.list(INSTANCE))[0] ?? {}), 'list views carry no PEM')
  await t.rejects(devices.registerManual(INSTANCE, leaf.cert), { code: 'ALREADY_EXISTS' })
})

t.test('manual registration refuses certificates not issued by a CA of the instance', async (t) => {
  const { devices, ca } = await fixture(t)
  const stranger = await createCa({ commonName: 'Device CA' })
  const forged = await createLeaf({ commonName: 'x', issuer: stranger, kind: 'client' })
  await t.rejects(devices.registerManual(INSTANCE, forged.cert), { code: 'DEVICE_NOT_UNDER_CA' }, 'same CA name, other key')
  const good = await createLeaf({ commonName: 'y', issuer: ca, kind: 'client' })
  await t.rejects(devices.registerManual('mqtt-2', good.cert), { code: 'DEVICE_NOT_UNDER_CA' }, 'CA of another instance')
  await t.rejects(devices.registerManual(INSTANCE, 'junk'), { code: 'CERT_INVALID' })
  await t.rejects(devices.registerManual(INSTANCE, ca.cert), { code: 'VALIDATION_FAILED' }, 'a CA certificate')
})

t.test('manual registration works under an INACTIVE CA and can register INACTIVE', async (t) => {
  const { devices, ca, caId, cas } = await fixture(t)
  await cas.deactivate(INSTANCE, caId)
  const leaf = await createLeaf({ commonName: 'z', issuer: ca, kind: 'client' })
  t.equal((await devices.registerManual(INSTANCE, leaf.cert, 'INACTIVE')).after?.status, 'INACTIVE')
})

t.test('recordFirstSeen creates once; concurrent first connections end with one record', async (t) => {
  const { devices, ca, caId } = await fixture(t)
  const leaf = inspectCertificate(x509Of(await createLeaf({ commonName: 'auto-1', issuer: ca, kind: 'client' }))[0]!)
  const results = await Promise.all(Array.from({ length: 8 }, () => devices.recordFirstSeen(INSTANCE, caId, leaf, 'INACTIVE')))
  t.equal(results.filter((r) => r.created).length, 1)
  t.equal(new Set(results.map((r) => r.record.createdAt)).size, 1)
  t.match(results[0]?.record, { id: leaf.id, caId, status: 'INACTIVE', registeredBy: 'auto' })
  t.equal((await devices.list(INSTANCE)).length, 1)
  await devices.activate(INSTANCE, leaf.id)
  const again = await devices.recordFirstSeen(INSTANCE, caId, leaf, 'INACTIVE')
  t.same([again.created, again.record.status], [false, 'ACTIVE'], 'an existing record is answered as it is')
})

t.test('list filters by CA and status', async (t) => {
  const { devices, ca, caId } = await fixture(t)
  const a = await devices.registerManual(INSTANCE, (await createLeaf({ commonName: 'a', issuer: ca, kind: 'client' })).cert)
  const b = await devices.registerManual(INSTANCE, (await createLeaf({ commonName: 'b', issuer: ca, kind: 'client' })).cert, 'INACTIVE')
  t.equal((await devices.list(INSTANCE)).length, 2)
  t.same((await devices.list(INSTANCE, { status: 'ACTIVE' })).map((d) => d.id), [a.after?.id])
  t.same((await devices.list(INSTANCE, { status: 'INACTIVE', caId })).map((d) => d.id), [b.after?.id])
  t.same(await devices.list(INSTANCE, { caId: 'other' }), [])
  t.same(await devices.list('mqtt-2'), [])
})

t.test('activate, deactivate and revoke answer before/after', async (t) => {
  const { devices, ca } = await fixture(t)
  const id = (await devices.registerManual(INSTANCE, (await createLeaf({ commonName: 'a', issuer: ca, kind: 'client' })).cert)).after?.id ?? ''
  const off = await devices.deactivate(INSTANCE, id)
  t.same([off.before?.status, off.after?.status], ['ACTIVE', 'INACTIVE'])
  const on = await devices.activate(INSTANCE, id)
  t.same([on.before?.status, on.after?.status], ['INACTIVE', 'ACTIVE'])
  const revoked = await devices.revoke(INSTANCE, id)
  t.same([revoked.before?.status, revoked.after?.status], ['ACTIVE', 'REVOKED'])
  t.equal((await devices.get(INSTANCE, id)).status, 'REVOKED')
  await t.rejects(devices.get(INSTANCE, 'nope'), { code: 'NOT_FOUND' })
  await t.rejects(devices.revoke(INSTANCE, 'nope'), { code: 'NOT_FOUND' })
})

t.test('REVOKED is terminal: activate and deactivate are refused with DEVICE_REVOKED', async (t) => {
  const { devices, ca } = await fixture(t)
  const id = (await devices.registerManual(INSTANCE, (await createLeaf({ commonName: 'a', issuer: ca, kind: 'client' })).cert)).after?.id ?? ''
  await devices.revoke(INSTANCE, id)
  await t.rejects(devices.activate(INSTANCE, id), { code: 'DEVICE_REVOKED' })
  await t.rejects(devices.deactivate(INSTANCE, id), { code: 'DEVICE_REVOKED' })
  const again = await devices.revoke(INSTANCE, id)
  t.same(again.before, again.after, 'revoking again changes nothing')
  t.equal((await devices.get(INSTANCE, id)).status, 'REVOKED')
})
