import { createHash } from 'node:crypto'
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
  const deviceId = createHash('sha256').update(leaf.raw).digest('hex')
  let device = await deps.store.get('devices', instance.id, deviceId)
  if (device === undefined) {
    if (!instance.options.autoRegisterDevices) return reject('CLIENT_CERT_UNTRUSTED', 'device certificate not registered')
    device = await deps.devices.recordFirstSeen(instance.id, ca.id, leaf, instance.options.newDeviceStatus)
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
