import { inspectCertificate } from '../../../ca/certificate'
import type { PipelineDeps } from '../../../proxy/deps'
import { next, reject, type Step } from '../../../proxy/verdict'
import type { X509Certificate } from 'node:crypto'
import type { DeviceRecord, DeviceStatus, InstanceOptions } from '../../../store/records'
import type { ChainVerified, DeviceKnown } from '../phases'

/**
 * The device certificate's own state (DESIGN §1): a certificate seen for the first time under an
 * ACTIVE CA is registered (ACTIVE, or INACTIVE-and-refused where the instance says so); an
 * INACTIVE or REVOKED one is refused. Runs after the chain check, so only certificates that chain
 * to an ACTIVE registered CA ever create a record.
 */
export function deviceCertificate(
  ctx: ChainVerified, deps: Pick<PipelineDeps, 'deviceCache' | 'devices' | 'audit'>,
): Step<DeviceKnown> | Promise<Step<DeviceKnown>> {
  const leaf = ctx.peerChain[0]
  if (leaf === undefined) return reject('CLIENT_CERT_UNTRUSTED', 'device check without a verified chain')
  const deviceId = deviceIdOf(leaf)
  // A known device (every reconnect) is answered from memory without a promise hop.
  const known = deps.deviceCache.peek(ctx.instance.id, deviceId)
  return known !== undefined ? deviceVerdict(ctx, known) : lookUpDevice(ctx, deps, leaf, deviceId)
}

async function lookUpDevice(
  ctx: ChainVerified, deps: Pick<PipelineDeps, 'deviceCache' | 'devices' | 'audit'>, leaf: X509Certificate, deviceId: string,
): Promise<Step<DeviceKnown>> {
  const { instance, ca } = ctx
  let device = await deps.deviceCache.get(instance.id, deviceId)
  if (device === undefined) {
    const status = firstSeenStatus(instance.options)
    if (status === undefined) return reject('CLIENT_CERT_UNTRUSTED', NOT_REGISTERED, undefined, { certSubject: leaf.subject })
    const first = await deps.devices.recordFirstSeen(instance.id, ca.id, inspectCertificate(leaf), status)
    device = first.record
    if (first.created) {
      deps.audit.record({
        type: 'admin.device.autoRegister', outcome: 'success', instanceId: instance.id,
        actor: { kind: 'system', id: 'data-path' }, source: ctx.source,
        details: { after: { id: device.id, caId: device.caId, subject: device.subject, status: device.status } },
      })
    }
  }
  return deviceVerdict(ctx, device)
}

function deviceVerdict(ctx: ChainVerified, device: DeviceRecord): Step<DeviceKnown> {
  const refusal = deviceStateRefusal(device.status)
  return refusal === undefined ? next({ ...ctx, phase: 'mqtt-device-known', device }) : reject(refusal, undefined, undefined, { deviceId: device.id })
}

export const NOT_REGISTERED = 'device certificate not registered'

/** The device id is the lowercase hex SHA-256 of the DER, which OpenSSL has already computed. */
export function deviceIdOf(leaf: { readonly fingerprint256: string }): string {
  return leaf.fingerprint256.replace(/:/g, '').toLowerCase()
}

/**
 * The status a certificate without a device record gets on its first connection, or undefined
 * when the instance registers none (refused CLIENT_CERT_UNTRUSTED). Pure, like the next one, so
 * that `POST /v1/explain` (src/admin/routes/explain.ts) asks the same rule without registering.
 */
export function firstSeenStatus(options: Pick<InstanceOptions, 'autoRegisterDevices' | 'newDeviceStatus'>): DeviceStatus | undefined {
  return options.autoRegisterDevices ? options.newDeviceStatus : undefined
}

/** The refusal a device certificate's state gives, or undefined when it is ACTIVE. */
export function deviceStateRefusal(status: DeviceStatus): 'DEVICE_CERT_INACTIVE' | 'DEVICE_CERT_REVOKED' | undefined {
  switch (status) {
    case 'ACTIVE':
      return undefined
    case 'INACTIVE':
      return 'DEVICE_CERT_INACTIVE'
    case 'REVOKED':
      return 'DEVICE_CERT_REVOKED'
  }
}
