import { inspectCertificate } from '../../../ca/certificate'
import type { PipelineDeps } from '../../../proxy/deps'
import { next, reject, type Step } from '../../../proxy/verdict'
import type { ChainVerified, DeviceKnown } from '../phases'

/**
 * The device certificate's own state (DESIGN §1): a certificate seen for the first time under an
 * ACTIVE CA is registered (ACTIVE, or INACTIVE-and-refused where the instance says so); an
 * INACTIVE or REVOKED one is refused. Runs after the chain check, so only certificates that chain
 * to an ACTIVE registered CA ever create a record.
 */
export async function deviceCertificate(
  ctx: ChainVerified, deps: Pick<PipelineDeps, 'deviceCache' | 'devices' | 'audit'>,
): Promise<Step<DeviceKnown>> {
  const { instance, ca } = ctx
  const leaf = ctx.peerChain[0]
  if (leaf === undefined) return reject('CLIENT_CERT_UNTRUSTED', 'device check without a verified chain')
  // The device id is the lowercase hex SHA-256 of the DER, which OpenSSL has already computed.
  const deviceId = leaf.fingerprint256.replace(/:/g, '').toLowerCase()
  let device = await deps.deviceCache.get(instance.id, deviceId)
  if (device === undefined) {
    if (!instance.options.autoRegisterDevices) return reject('CLIENT_CERT_UNTRUSTED', 'device certificate not registered', undefined, { certSubject: leaf.subject })
    const first = await deps.devices.recordFirstSeen(instance.id, ca.id, inspectCertificate(leaf), instance.options.newDeviceStatus)
    device = first.record
    if (first.created) {
      deps.audit.record({
        type: 'admin.device.autoRegister', outcome: 'success', instanceId: instance.id,
        actor: { kind: 'system', id: 'data-path' }, source: ctx.source,
        details: { after: { id: device.id, caId: device.caId, subject: device.subject, status: device.status } },
      })
    }
  }
  switch (device.status) {
    case 'ACTIVE':
      return next({ ...ctx, phase: 'mqtt-device-known', device })
    case 'INACTIVE':
      return reject('DEVICE_CERT_INACTIVE', undefined, undefined, { deviceId: device.id })
    case 'REVOKED':
      return reject('DEVICE_CERT_REVOKED', undefined, undefined, { deviceId: device.id })
  }
}
