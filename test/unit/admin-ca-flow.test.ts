import t from 'tap'
import { createCa, createLeaf, createVerificationCertificate } from '../../src/ca/pki'
import { adminHarness } from '../helpers/admin-harness'

t.test('full CA registration flow through the API', async (t) => {
  const h = await adminHarness(t)
  t.equal((await h.call('POST', '/v1/instances', { id: 'mq', protocol: 'mqtt', hostnames: ['mq.example.com'] })).statusCode, 201)
  const ca = await createCa({ commonName: 'Fleet CA' })

  const noCode = await h.call('POST', '/v1/instances/mq/cas', {
    caCertificate: ca.cert, verificationCertificate: (await createVerificationCertificate({ registrationCode: 'not-issued', ca })).cert,
  })
  t.equal(noCode.statusCode, 422)
  t.equal(noCode.json().code, 'REGISTRATION_CODE_MISSING')

  const codeRes = await h.call('POST', '/v1/instances/mq/registration-code')
  t.equal(codeRes.statusCode, 200)
  const { registrationCode, expiresAt } = codeRes.json() as { registrationCode: string; expiresAt: string }
  t.match(registrationCode, /^[0-9a-f]{32}$/)
  t.ok(Date.parse(expiresAt) > Date.now())

  const wrongCode = await createVerificationCertificate({ registrationCode: 'deadbeef', ca })
  const refused = await h.call('POST', '/v1/instances/mq/cas', { caCertificate: ca.cert, verificationCertificate: wrongCode.cert })
  t.equal(refused.json().code, 'REGISTRATION_CODE_INVALID')

  const verification = await createVerificationCertificate({ registrationCode, ca })
  const registered = await h.call('POST', '/v1/instances/mq/cas', { caCertificate: ca.cert, verificationCertificate: verification.cert })
  t.equal(registered.statusCode, 201)
  const caId = registered.json().id as string
  t.match(registered.json(), { serialNumber: String, subject: /Fleet CA/, notBefore: String, notAfter: String, status: 'ACTIVE' })
  t.match(caId, /^[0-9a-f]{64}$/)

  const list = await h.call('GET', '/v1/instances/mq/cas')
  t.same(list.json().items.map((c: { id: string }) => c.id), [caId])
  t.equal((await h.call('GET', `/v1/instances/mq/cas/${caId}`)).json().id, caId)
  t.equal((await h.call('GET', '/v1/instances/nope/cas')).statusCode, 404, 'an unknown instance is 404, not an empty list')

  const device = await createLeaf({ commonName: 'sensor-1', issuer: ca, kind: 'client' })
  const devRes = await h.call('POST', '/v1/instances/mq/devices', { certificate: device.cert })
  t.equal(devRes.statusCode, 201)
  const deviceId = devRes.json().id as string
  t.equal(devRes.json().status, 'ACTIVE')
  t.same((await h.call('GET', `/v1/instances/mq/devices?caId=${caId}&status=ACTIVE`)).json().items.map((d: { id: string }) => d.id), [deviceId])
  t.same((await h.call('GET', '/v1/instances/mq/devices?status=REVOKED')).json().items, [])

  const pem = await h.call('GET', `/v1/instances/mq/devices/${deviceId}?format=pem`)
  t.equal(pem.statusCode, 200)
  t.match(pem.headers['content-type'], /application\/x-pem-file/)
  t.match(pem.body, /^-----BEGIN CERTIFICATE-----/)

  const deactivated = await h.call('POST', `/v1/instances/mq/cas/${caId}/deactivate`)
  t.equal(deactivated.json().status, 'INACTIVE')

  const blocked = await h.call('DELETE', `/v1/instances/mq/cas/${caId}`)
  t.equal(blocked.statusCode, 409)
  t.equal(blocked.json().code, 'CA_HAS_ACTIVE_DEVICES')

  const revoked = await h.call('POST', `/v1/instances/mq/devices/${deviceId}/revoke`)
  t.equal(revoked.json().status, 'REVOKED')
  const reactivate = await h.call('POST', `/v1/instances/mq/devices/${deviceId}/activate`)
  t.equal(reactivate.statusCode, 409)
  t.equal(reactivate.json().code, 'DEVICE_REVOKED', 'REVOKED is terminal')

  t.equal((await h.call('DELETE', `/v1/instances/mq/cas/${caId}`)).statusCode, 204)
  t.same((await h.call('GET', '/v1/instances/mq/cas')).json().items, [])
  t.same((await h.call('GET', '/v1/instances/mq/devices')).json().items, [], 'the revoked device record went with its CA')

  const events = h.audit.recent({ type: 'admin.*', instanceId: 'mq' }).map((e) => `${e.type}:${e.outcome}${e.reason ? `:${e.reason}` : ''}`)
  t.same(events, [
    'admin.instance.create:success',
    'admin.ca.register:failure:REGISTRATION_CODE_MISSING',
    'admin.registrationCode.issue:success',
    'admin.ca.register:failure:REGISTRATION_CODE_INVALID',
    'admin.ca.register:success',
    'admin.device.register:success',
    'admin.ca.deactivate:success',
    'admin.ca.delete:failure:CA_HAS_ACTIVE_DEVICES',
    'admin.device.revoke:success',
    'admin.device.activate:failure:DEVICE_REVOKED',
    'admin.ca.delete:success',
  ])
  const all = JSON.stringify(h.audit.recent({ type: 'admin.*' }))
  t.notOk(all.includes('PRIVATE KEY'), 'no private key in any audit event')
  t.notOk(all.includes(registrationCode), 'the registration code is not in the audit')
  const deactivateEvent = h.audit.recent({ type: 'admin.ca.deactivate' })[0]
  t.match(deactivateEvent?.details, { before: { status: 'ACTIVE' }, after: { status: 'INACTIVE' }, caId })
})

t.test('CA registration refuses bad input with 400 or 422 and the right code', async (t) => {
  const h = await adminHarness(t)
  await h.call('POST', '/v1/instances', { id: 'mq', protocol: 'mqtt' })
  const missing = await h.call('POST', '/v1/instances/mq/cas', { caCertificate: 'x' })
  t.equal(missing.statusCode, 400)
  t.equal(missing.json().code, 'VALIDATION_FAILED')
  await h.call('POST', '/v1/instances/mq/registration-code')
  const garbage = await h.call('POST', '/v1/instances/mq/cas', { caCertificate: 'not a pem', verificationCertificate: 'nor this' })
  t.equal(garbage.statusCode, 422)
  t.equal(garbage.json().code, 'CERT_INVALID')
})
