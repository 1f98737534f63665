import { inspectCertificate } from '../../ca/certificate'
import type { Connection } from '../connection'
import type { PipelineDeps } from '../deps'
import { CONTINUE, reject, type Verdict } from '../verdict'

/**
 * The device certificate's own state (DESIGN §1): a certificate seen for the first time under an
 * ACTIVE CA is registered (ACTIVE, or INACTIVE-and-refused where the instance says so); an
 * INACTIVE or REVOKED one is refused. Runs after the chain check, so only certificates that chain
 * to an ACTIVE registered CA ever create a record.
 */
export async function deviceCertificate(conn: Connection, deps: PipelineDeps): Promise<Verdict> {
  const instance = conn.instance
  const leaf = conn.peerChain?.[0]
  const ca = conn.ca
  if (instance === undefined || leaf === undefined || ca === undefined) {
    return reject('CLIENT_CERT_UNTRUSTED', 'device check without a verified chain')
  }
  // The device id is the lowercase hex SHA-256 of the DER, which OpenSSL has already computed.
  const deviceId = leaf.fingerprint256.replace(/:/g, '').toLowerCase()
  let device = await deps.deviceCache.get(instance.id, deviceId)
  if (device === undefined) {
    if (!instance.options.autoRegisterDevices) return reject('CLIENT_CERT_UNTRUSTED', 'device certificate not registered')
    const first = await deps.devices.recordFirstSeen(instance.id, ca.id, inspectCertificate(leaf), instance.options.newDeviceStatus)
    device = first.record
    if (first.created) {
      deps.audit.record({
        type: 'admin.device.autoRegister', outcome: 'success', instanceId: instance.id,
        actor: { kind: 'system', id: 'data-path' }, source: conn.source,
        details: { after: { id: device.id, caId: device.caId, subject: device.subject, status: device.status } },
      })
    }
  }
  conn.device = device
  switch (device.status) {
    case 'ACTIVE':
      return CONTINUE
    case 'INACTIVE':
      return reject('DEVICE_CERT_INACTIVE')
    case 'REVOKED':
      return reject('DEVICE_CERT_REVOKED')
  }
}
