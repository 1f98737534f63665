import t from 'tap'
import { startTestGateway, unique } from '../helpers/gateway'
import { createCa, createVerificationCertificate } from '../../src/ca/pki'

t.test('CA registration through the admin API refuses each bad registration with its code', async (t) => {
  const tg = await startTestGateway(t)
  const instanceId = unique('reg')
  t.equal((await tg.admin('POST', '/v1/instances', { id: instanceId, protocol: 'mqtt', hostnames: [`${instanceId}.portcullis.local`] })).status, 201)
  const code = async (): Promise<string> => (await tg.admin('POST', `/v1/instances/${instanceId}/registration-code`)).body.registrationCode
  const register = (caCertificate: string, verificationCertificate: string) =>
    tg.admin('POST', `/v1/instances/${instanceId}/cas`, { caCertificate, verificationCertificate })
  const ca = await createCa({ commonName: unique('ca') })

  const refusals: Array<[string, () => Promise<{ status: number; body: { code: string } }>, string]> = [
    ['a verification certificate whose CN is not the current code', async () => {
      await code()
      return register(ca.cert, (await createVerificationCertificate({ registrationCode: 'not-the-code', ca })).cert)
    }, 'REGISTRATION_CODE_INVALID'],
    ['a verification certificate not signed by the CA key', async () => {
      const other = await createCa({ commonName: 'someone else' })
      return register(ca.cert, (await createVerificationCertificate({ registrationCode: await code(), ca: other })).cert)
    }, 'VERIFICATION_SIGNATURE_INVALID'],
    ['a certificate that is not a CA', async () => {
      const leafAsCa = await createCa({ commonName: unique('not-a-ca'), ca: false })
      return register(leafAsCa.cert, (await createVerificationCertificate({ registrationCode: await code(), ca: leafAsCa })).cert)
    }, 'CA_NOT_A_CA'],
    ['a CA whose keyUsage lacks keyCertSign', async () => {
      const noSign = await createCa({ commonName: unique('no-keycertsign'), keyUsage: ['digitalSignature'] })
      return register(noSign.cert, (await createVerificationCertificate({ registrationCode: await code(), ca: noSign })).cert)
    }, 'CA_NOT_A_CA'],
    ['an expired verification certificate', async () => {
      const verification = await createVerificationCertificate({
        registrationCode: await code(), ca, notBefore: new Date(Date.now() - 7_200_000), notAfter: new Date(Date.now() - 3_600_000),
      })
      return register(ca.cert, verification.cert)
    }, 'CERT_NOT_VALID_NOW'],
  ]
  for (const [what, attempt, expected] of refusals) {
    const res = await attempt()
    t.equal(res.body.code, expected, `${what}: ${expected}`)
    t.ok(res.status >= 400 && res.status < 500, `${what}: HTTP ${res.status}`)
  }

  t.test('a code is single-use, and a new code voids the old one', async (t) => {
    const first = await code()
    const second = await code()
    const voided = await register(ca.cert, (await createVerificationCertificate({ registrationCode: first, ca })).cert)
    t.equal(voided.body.code, 'REGISTRATION_CODE_INVALID', 'the older code no longer works')
    const verification = (await createVerificationCertificate({ registrationCode: second, ca })).cert
    t.equal((await register(ca.cert, verification)).status, 201, 'the current code registers the CA')
    const other = await createCa({ commonName: unique('second-ca') })
    const reused = await register(other.cert, (await createVerificationCertificate({ registrationCode: second, ca: other })).cert)
    t.equal(reused.body.code, 'REGISTRATION_CODE_MISSING', 'a used code is gone')
    const duplicate = await register(ca.cert, (await createVerificationCertificate({ registrationCode: await code(), ca })).cert)
    t.equal(duplicate.body.code, 'CA_DUPLICATE')
    t.equal(duplicate.status, 409)
  })

  t.test('the 33rd CA is refused', async (t) => {
    const have = (await tg.admin('GET', `/v1/instances/${instanceId}/cas`)).body.items.length
    for (let i = have; i < 32; i++) {
      const next = await createCa({ commonName: unique(`ca-${i}`) })
      const res = await register(next.cert, (await createVerificationCertificate({ registrationCode: await code(), ca: next })).cert)
      if (res.status !== 201) t.fail(`CA ${i + 1}: ${res.status} ${JSON.stringify(res.body)}`)
    }
    t.equal((await tg.admin('GET', `/v1/instances/${instanceId}/cas`)).body.items.length, 32, '32 CAs registered')
    const extra = await createCa({ commonName: unique('ca-33') })
    const res = await register(extra.cert, (await createVerificationCertificate({ registrationCode: await code(), ca: extra })).cert)
    t.equal(res.status, 409)
    t.equal(res.body.code, 'CA_LIMIT_EXCEEDED')
    const refused = tg.events('admin.ca.register').filter((e) => e.outcome === 'failure')
    t.ok(refused.length >= 1, 'refused registrations are audited')
  })
})
