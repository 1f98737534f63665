import t from 'tap'
import { CaRegistry, MAX_CAS_PER_INSTANCE } from '../../src/ca/ca-registry'
import { DeviceRegistry } from '../../src/ca/device-registry'
import { parseCertificatePem } from '../../src/ca/certificate'
import { createCa, createLeaf, createVerificationCertificate } from '../../src/ca/pki'
import type { KeyAndCert } from '../../src/ca/pki'
import { RegistrationCodes } from '../../src/ca/registration-codes'
import type { Store } from '../../src/store/store'
import { DAY_MS, registerCa, tempStore } from '../helpers/pki'
import type { Test } from '../helpers/services'

const INSTANCE = 'mqtt-1'

interface Fixture {
  store: Store
  codes: RegistrationCodes
  cas: CaRegistry
  devices: DeviceRegistry
}

async function fixture(t: Test): Promise<Fixture> {
  const store = await tempStore(t)
  const codes = new RegistrationCodes(store)
  return { store, codes, cas: new CaRegistry(store, codes), devices: new DeviceRegistry(store) }
}

/** Asserts that the current code survived a refusal by registering `ca` with it. */
async function codeStillWorks(t: Test, f: Fixture, code: string, ca: KeyAndCert): Promise<void> {
  const verification = await createVerificationCertificate({ registrationCode: code, ca })
  const { after } = await f.cas.register(INSTANCE, { caCertificate: ca.cert, verificationCertificate: verification.cert })
  t.ok(after, 'the registration code was not consumed by the refusal')
}

t.test('registers a CA with proof of key possession and answers its public view', async (t) => {
  const f = await fixture(t)
  const ca = await createCa({ commonName: 'Fleet CA' })
  const { before, after } = await registerCa(f.codes, f.cas, INSTANCE, ca)
  const parsed = parseCertificatePem(ca.cert)
  t.equal(before, undefined)
  t.match(after, {
    id: parsed.id, serialNumber: parsed.serialNumber, subject: 'CN=Fleet CA', notBefore: parsed.notBefore,
    notAfter: parsed.notAfter, status: 'ACTIVE', pem: parsed.pem,
  })
  t.same(Object.keys((await f.cas.list(INSTANCE))[0] ?? {}).sort(), ['createdAt', 'id', 'notAfter', 'notBefore', 'serialNumber', 'status', 'subject'])
  t.equal((await f.cas.get(INSTANCE, parsed.id)).pem, parsed.pem)
  const [record] = await f.cas.records(INSTANCE)
  t.match(record, { id: parsed.id, instanceId: INSTANCE, spkiSha256: parsed.spkiSha256, issuer: 'CN=Fleet CA' })
  t.same(await f.cas.list('other-instance'), [])
})

t.test('registers INACTIVE when asked, and registers intermediates too', async (t) => {
  const f = await fixture(t)
  const root = await createCa({ commonName: 'Root' })
  const inter = await createCa({ commonName: 'Inter', issuer: root })
  t.equal((await registerCa(f.codes, f.cas, INSTANCE, inter, 'INACTIVE')).after?.status, 'INACTIVE')
})

t.test('refuses a verification certificate whose CN is not the current code, without burning it', async (t) => {
  const f = await fixture(t)
  const ca = await createCa({ commonName: 'CA' })
  const { registrationCode } = await f.codes.issue(INSTANCE)
  const wrong = await createVerificationCertificate({ registrationCode: '0'.repeat(32), ca })
  await t.rejects(f.cas.register(INSTANCE, { caCertificate: ca.cert, verificationCertificate: wrong.cert }), { code: 'REGISTRATION_CODE_INVALID' })
  await codeStillWorks(t, f, registrationCode, ca)
})

t.test('refuses a reused code and a code that was replaced by a newer one', async (t) => {
  const f = await fixture(t)
  const first = await createCa({ commonName: 'First' })
  const second = await createCa({ commonName: 'Second' })
  const { registrationCode } = await f.codes.issue(INSTANCE)
  await codeStillWorks(t, f, registrationCode, first)
  const again = await createVerificationCertificate({ registrationCode, ca: second })
  await t.rejects(f.cas.register(INSTANCE, { caCertificate: second.cert, verificationCertificate: again.cert }), { code: 'REGISTRATION_CODE_MISSING' }, 'reused')

  const old = await f.codes.issue(INSTANCE)
  await f.codes.issue(INSTANCE)
  const stale = await createVerificationCertificate({ registrationCode: old.registrationCode, ca: second })
  await t.rejects(f.cas.register(INSTANCE, { caCertificate: second.cert, verificationCertificate: stale.cert }), { code: 'REGISTRATION_CODE_INVALID' }, 'replaced')
})

t.test('refuses an expired code and registration without any code', async (t) => {
  const f = await fixture(t)
  const ca = await createCa({ commonName: 'CA' })
  const verification = await createVerificationCertificate({ registrationCode: 'abc', ca })
  await t.rejects(f.cas.register(INSTANCE, { caCertificate: ca.cert, verificationCertificate: verification.cert }), { code: 'REGISTRATION_CODE_MISSING' }, 'none issued')
  const { registrationCode } = await f.codes.issue(INSTANCE, new Date(Date.now() - 2 * 60 * 60 * 1000))
  const late = await createVerificationCertificate({ registrationCode, ca })
  await t.rejects(f.cas.register(INSTANCE, { caCertificate: ca.cert, verificationCertificate: late.cert }), { code: 'REGISTRATION_CODE_MISSING' }, 'expired')
})

t.test('refuses a verification certificate not signed by the CA key, without burning the code', async (t) => {
  const f = await fixture(t)
  const ca = await createCa({ commonName: 'CA' })
  const sameName = await createCa({ commonName: 'CA' })
  const { registrationCode } = await f.codes.issue(INSTANCE)
  const forged = await createVerificationCertificate({ registrationCode, ca: sameName })
  await t.rejects(f.cas.register(INSTANCE, { caCertificate: ca.cert, verificationCertificate: forged.cert }), { code: 'VERIFICATION_SIGNATURE_INVALID' })
  await codeStillWorks(t, f, registrationCode, ca)
})

t.test('refuses certificates that are not CAs, without burning the code', async (t) => {
  const f = await fixture(t)
  const { registrationCode } = await f.codes.issue(INSTANCE)
  const notCa = await createCa({ commonName: 'Not a CA', ca: false })
  const noCertSign = await createCa({ commonName: 'No keyCertSign', keyUsage: ['digitalSignature', 'cRLSign'] })
  const root = await createCa({ commonName: 'Root' })
  const leaf = await createLeaf({ commonName: 'device', issuer: root, kind: 'client' })
  for (const [what, ca] of [['cA=FALSE', notCa], ['keyUsage without keyCertSign', noCertSign], ['a device certificate', leaf]] as const) {
    const verification = await createVerificationCertificate({ registrationCode, ca })
    await t.rejects(f.cas.register(INSTANCE, { caCertificate: ca.cert, verificationCertificate: verification.cert }), { code: 'CA_NOT_A_CA' }, what)
  }
  await codeStillWorks(t, f, registrationCode, root)
})

t.test('refuses a CA or verification certificate outside its validity, without burning the code', async (t) => {
  const f = await fixture(t)
  const { registrationCode } = await f.codes.issue(INSTANCE)
  const expired = await createCa({ commonName: 'Expired', notBefore: new Date(Date.now() - 30 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) })
  const early = await createCa({ commonName: 'Early', notBefore: new Date(Date.now() + DAY_MS), notAfter: new Date(Date.now() + 30 * DAY_MS) })
  for (const ca of [expired, early]) {
    const verification = await createVerificationCertificate({ registrationCode, ca })
    await t.rejects(f.cas.register(INSTANCE, { caCertificate: ca.cert, verificationCertificate: verification.cert }), { code: 'CERT_NOT_VALID_NOW' })
  }
  const ca = await createCa({ commonName: 'Good' })
  const oldVerification = await createVerificationCertificate({
    registrationCode, ca, notBefore: new Date(Date.now() - 3 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS),
  })
  await t.rejects(f.cas.register(INSTANCE, { caCertificate: ca.cert, verificationCertificate: oldVerification.cert }), { code: 'CERT_NOT_VALID_NOW' }, 'verification expired')
  await codeStillWorks(t, f, registrationCode, ca)
})

t.test('refuses unparsable input with CERT_INVALID', async (t) => {
  const f = await fixture(t)
  const ca = await createCa({ commonName: 'CA' })
  const { registrationCode } = await f.codes.issue(INSTANCE)
  const verification = await createVerificationCertificate({ registrationCode, ca })
  await t.rejects(f.cas.register(INSTANCE, { caCertificate: 'junk', verificationCertificate: verification.cert }), { code: 'CERT_INVALID' })
  await t.rejects(f.cas.register(INSTANCE, { caCertificate: ca.cert, verificationCertificate: ca.key }), { code: 'CERT_INVALID' })
  await t.rejects(f.cas.register(INSTANCE, { caCertificate: ca.cert + ca.cert, verificationCertificate: verification.cert }), { code: 'CERT_INVALID' })
  await codeStillWorks(t, f, registrationCode, ca)
})

t.test('refuses a CA already registered on the instance with CA_DUPLICATE, without burning the code', async (t) => {
  const f = await fixture(t)
  const ca = await createCa({ commonName: 'CA' })
  await registerCa(f.codes, f.cas, INSTANCE, ca)
  const { registrationCode } = await f.codes.issue(INSTANCE)
  const verification = await createVerificationCertificate({ registrationCode, ca })
  await t.rejects(f.cas.register(INSTANCE, { caCertificate: ca.cert, verificationCertificate: verification.cert }), { code: 'CA_DUPLICATE' })
  await codeStillWorks(t, f, registrationCode, await createCa({ commonName: 'Other' }))
  t.ok(await registerCa(f.codes, f.cas, 'mqtt-2', ca), 'the same CA may be registered on another instance')
})

t.test('two concurrent registrations of one CA end with one record', async (t) => {
  const f = await fixture(t)
  const ca = await createCa({ commonName: 'CA' })
  const { registrationCode } = await f.codes.issue(INSTANCE)
  const verification = await createVerificationCertificate({ registrationCode, ca })
  const input = { caCertificate: ca.cert, verificationCertificate: verification.cert }
  const results = await Promise.allSettled([f.cas.register(INSTANCE, input), f.cas.register(INSTANCE, input)])
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
  t.equal((await f.cas.list(INSTANCE)).length, 1)
})

t.test(`the ${MAX_CAS_PER_INSTANCE + 1}th CA on an instance is refused with CA_LIMIT_EXCEEDED`, async (t) => {
  const f = await fixture(t)
  t.equal(MAX_CAS_PER_INSTANCE, 32)
  const cas = await Promise.all(Array.from({ length: MAX_CAS_PER_INSTANCE + 1 }, (_, i) => createCa({ commonName: `CA ${i}` })))
  for (const ca of cas.slice(0, MAX_CAS_PER_INSTANCE)) await registerCa(f.codes, f.cas, INSTANCE, ca)
  t.equal((await f.cas.list(INSTANCE)).length, 32)
  const { registrationCode } = await f.codes.issue(INSTANCE)
  const last = cas[MAX_CAS_PER_INSTANCE] as KeyAndCert
  const verification = await createVerificationCertificate({ registrationCode, ca: last })
  const input = { caCertificate: last.cert, verificationCertificate: verification.cert }
  await t.rejects(f.cas.register(INSTANCE, input), { code: 'CA_LIMIT_EXCEEDED' })
  await f.codes.check(INSTANCE, registrationCode)
  const first = (await f.cas.list(INSTANCE))[0]
  await f.cas.delete(INSTANCE, first?.id ?? '')
  t.ok(await f.cas.register(INSTANCE, input), 'room again after a delete, with the same code')
})

t.test('activate and deactivate answer before/after; unknown ids give NOT_FOUND', async (t) => {
  const f = await fixture(t)
  const ca = await createCa({ commonName: 'CA' })
  const id = (await registerCa(f.codes, f.cas, INSTANCE, ca)).after?.id ?? ''
  const off = await f.cas.deactivate(INSTANCE, id)
  t.equal(off.before?.status, 'ACTIVE')
  t.equal(off.after?.status, 'INACTIVE')
  t.equal((await f.cas.get(INSTANCE, id)).status, 'INACTIVE')
  const again = await f.cas.deactivate(INSTANCE, id)
  t.same(again.before, again.after, 'idempotent')
  const on = await f.cas.activate(INSTANCE, id)
  t.same([on.before?.status, on.after?.status], ['INACTIVE', 'ACTIVE'])
  await t.rejects(f.cas.get(INSTANCE, 'nope'), { code: 'NOT_FOUND' })
  await t.rejects(f.cas.activate(INSTANCE, 'nope'), { code: 'NOT_FOUND' })
  await t.rejects(f.cas.deactivate('mqtt-2', id), { code: 'NOT_FOUND' }, 'another instance')
  await t.rejects(f.cas.delete(INSTANCE, 'nope'), { code: 'NOT_FOUND' })
})

t.test('delete is refused with CA_HAS_ACTIVE_DEVICES while an ACTIVE device exists under the CA', async (t) => {
  const f = await fixture(t)
  const ca = await createCa({ commonName: 'CA' })
  const other = await createCa({ commonName: 'Other CA' })
  const caId = (await registerCa(f.codes, f.cas, INSTANCE, ca)).after?.id ?? ''
  const otherId = (await registerCa(f.codes, f.cas, INSTANCE, other)).after?.id ?? ''
  const active = await f.devices.registerManual(INSTANCE, (await createLeaf({ commonName: 'a', issuer: ca, kind: 'client' })).cert)
  const inactive = await f.devices.registerManual(INSTANCE, (await createLeaf({ commonName: 'b', issuer: ca, kind: 'client' })).cert, 'INACTIVE')
  const revoked = await f.devices.registerManual(INSTANCE, (await createLeaf({ commonName: 'c', issuer: ca, kind: 'client' })).cert)
  await f.devices.revoke(INSTANCE, revoked.after?.id ?? '')
  const elsewhere = await f.devices.registerManual(INSTANCE, (await createLeaf({ commonName: 'd', issuer: other, kind: 'client' })).cert)

  await t.rejects(f.cas.delete(INSTANCE, caId), { code: 'CA_HAS_ACTIVE_DEVICES' })
  t.equal((await f.devices.list(INSTANCE)).length, 4, 'nothing deleted')

  await f.devices.deactivate(INSTANCE, active.after?.id ?? '')
  const deleted = await f.cas.delete(INSTANCE, caId)
  t.equal(deleted.before?.id, caId)
  t.equal(deleted.after, undefined)
  t.equal(deleted.deletedDevices, 3)
  t.same((await f.devices.list(INSTANCE)).map((d) => d.id), [elsewhere.after?.id], 'INACTIVE/REVOKED records went with the CA')
  t.same((await f.cas.list(INSTANCE)).map((c) => c.id), [otherId])
  t.ok(inactive.after)
})
