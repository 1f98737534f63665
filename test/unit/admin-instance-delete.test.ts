import t from 'tap'
import { createCa, createLeaf, createVerificationCertificate } from '../../src/ca/pki'
import { adminHarness, type AdminHarness } from '../helpers/admin-harness'
import { cliHarness } from '../helpers/cli-harness'

async function registerCa(t: tap.Test, h: AdminHarness, instanceId: string): Promise<{ caId: string; deviceId: string }> {
  const ca = await createCa({ commonName: `${instanceId} CA` })
  const { registrationCode } = (await h.call('POST', `/v1/instances/${instanceId}/registration-code`)).json() as { registrationCode: string }
  const verification = await createVerificationCertificate({ registrationCode, ca })
  const registered = await h.call('POST', `/v1/instances/${instanceId}/cas`, { caCertificate: ca.cert, verificationCertificate: verification.cert })
  t.equal(registered.statusCode, 201, registered.body)
  const device = await createLeaf({ commonName: 'sensor-1', issuer: ca, kind: 'client' })
  const dev = await h.call('POST', `/v1/instances/${instanceId}/devices`, { certificate: device.cert })
  t.equal(dev.statusCode, 201, dev.body)
  return { caId: registered.json().id as string, deviceId: dev.json().id as string }
}

t.test('deleting an instance that holds ACTIVE CAs or devices is refused 409 INSTANCE_IN_USE naming what it holds', async (t) => {
  const h = await adminHarness(t)
  t.equal((await h.call('POST', '/v1/instances', { id: 'mq', protocol: 'mqtt', hostnames: ['mq.example.com'] })).statusCode, 201)
  const { caId, deviceId } = await registerCa(t, h, 'mq')

  const refused = await h.call('DELETE', '/v1/instances/mq')
  t.equal(refused.statusCode, 409)
  t.equal(refused.json().code, 'INSTANCE_IN_USE')
  t.match(refused.json().message, /1 ACTIVE CA certificate\(s\) and 1 ACTIVE device certificate\(s\).*force=true/)
  t.equal((await h.call('GET', '/v1/instances/mq')).statusCode, 200, 'the instance is still there')
  t.equal((await h.call('GET', `/v1/instances/mq/cas/${caId}`)).statusCode, 200, 'and its CA')
  const [failure] = h.audit.recent({ type: 'admin.instance.delete' })
  t.match(failure, { outcome: 'failure', reason: 'INSTANCE_IN_USE', instanceId: 'mq' })

  // With the CA inactive but the device still ACTIVE, it is still in use.
  await h.call('POST', `/v1/instances/mq/cas/${caId}/deactivate`)
  const stillDevice = await h.call('DELETE', '/v1/instances/mq')
  t.match(stillDevice.json(), { code: 'INSTANCE_IN_USE', message: /0 ACTIVE CA certificate\(s\) and 1 ACTIVE device/ })
  await h.call('POST', `/v1/instances/mq/devices/${deviceId}/deactivate`)
  t.equal((await h.call('DELETE', '/v1/instances/mq')).statusCode, 204, 'nothing ACTIVE left: deleted without force')
  t.equal((await h.call('DELETE', '/v1/instances/mq?force=maybe')).statusCode, 400, 'force takes true or false only')
})

t.test('force=true deletes an instance in use, with its CAs and devices, and the audit says it was forced', async (t) => {
  const h = await adminHarness(t)
  await h.call('POST', '/v1/instances', { id: 'mq', protocol: 'mqtt', hostnames: ['mq.example.com'] })
  await registerCa(t, h, 'mq')
  const forced = await h.call('DELETE', '/v1/instances/mq?force=true')
  t.equal(forced.statusCode, 204, forced.body)
  t.equal((await h.call('GET', '/v1/instances/mq')).statusCode, 404)
  t.same(await h.store.list('cas', 'mq'), [], 'its CAs went with it')
  t.same(await h.store.list('devices', 'mq'), [], 'and its devices')
  const events = h.audit.recent({ type: 'admin.instance.delete' })
  t.match(events.at(-1), { outcome: 'success', instanceId: 'mq', details: { forced: true, held: { activeCas: 1, activeDevices: 1 }, before: { id: 'mq' } } })

  await h.call('POST', '/v1/instances', { id: 'empty', protocol: 'mqtt', hostnames: ['empty.example.com'] })
  t.equal((await h.call('DELETE', '/v1/instances/empty?force=true')).statusCode, 204)
  t.match(h.audit.recent({ type: 'admin.instance.delete' }).at(-1), { details: { forced: false } }, 'force on an unused instance is not called forced')
})

t.test('the CLI needs --force to delete an instance in use', async (t) => {
  const { run, h } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-instance-delete-' })
  await h.call('POST', '/v1/instances', { id: 'mq', protocol: 'mqtt', hostnames: ['mq.example.com'] })
  await registerCa(t, h, 'mq')
  const refused = await run(['instance', 'delete', 'mq', '--yes'])
  t.equal(refused.code, 1)
  t.match(refused.err, /^INSTANCE_IN_USE: instance mq still holds 1 ACTIVE CA/)
  const forced = await run(['instance', 'delete', 'mq', '--force'])
  t.equal(forced.code, 0, forced.err)
  t.same(forced.json(), { deleted: 'mq', forced: true })
  t.equal((await h.call('GET', '/v1/instances/mq')).statusCode, 404)
})
