/**
 * Device (client) certificates under an instance's registered CAs (DESIGN §1, routes in §3).
 *
 * A record lives at ('devices', instanceId, sha256(DER)). States: ACTIVE, INACTIVE, REVOKED —
 * REVOKED is terminal (activate/deactivate after it → DEVICE_REVOKED). Records come from the data
 * path (`recordFirstSeen`, a certificate seen for the first time under an ACTIVE CA) or from an
 * operator (`registerManual`). State changes answer before/after for the admin audit event;
 * kicking live sessions on revoke/deactivate is the caller's job.
 */
import { PortcullisError } from '../errors'
import type { DeviceRecord, DeviceStatus } from '../store/records'
import type { Store } from '../store/store'
import { parseCertificatePem } from './certificate'
import type { ParsedCertificate } from './certificate'
import type { Change } from './ca-registry'
import { usableCaCertificate } from './chain'

export interface DeviceView {
  id: string
  caId: string
  serialNumber: string
  subject: string
  commonName?: string
  notBefore: string
  notAfter: string
  status: DeviceStatus
  registeredBy: 'auto' | 'manual'
  createdAt: string
  updatedAt: string
}

export interface DeviceDetail extends DeviceView {
  pem: string
}

export interface DeviceFilter {
  caId?: string
  status?: DeviceStatus
}

export function deviceView(record: DeviceRecord): DeviceView {
  const { pem: _pem, instanceId: _instanceId, ...view } = record
  return view
}

export function deviceDetail(record: DeviceRecord): DeviceDetail {
  return { ...deviceView(record), pem: record.pem }
}

/** How many times recordFirstSeen retries when the record vanishes between create and read. */
const FIRST_SEEN_ATTEMPTS = 3

export class DeviceRegistry {
  constructor(private readonly store: Store) {}

  /**
   * An operator registers a device certificate ahead of its first connection. It must be issued
   * directly by a CA registered on the instance, whatever that CA's status (DEVICE_NOT_UNDER_CA).
   */
  async registerManual(instanceId: string, pem: string, status: DeviceStatus = 'ACTIVE', now: Date = new Date()): Promise<Change<DeviceDetail>> {
    const device = parseCertificatePem(pem)
    if (device.isCa) throw new PortcullisError('VALIDATION_FAILED', 'a CA certificate is not a device certificate')
    const caId = await this.issuingCa(instanceId, device)
    if (caId === undefined) throw new PortcullisError('DEVICE_NOT_UNDER_CA')
    const record = newRecord(instanceId, caId, device, status, 'manual', now)
    await this.store.create('devices', instanceId, device.id, record)
    return { before: undefined, after: deviceDetail(record) }
  }

  /**
   * Data path: the record for a device certificate that passed the chain check under `caId`,
   * created with `status` when absent. Concurrent first connections end with one record: one
   * create wins, the others read it back.
   */
  async recordFirstSeen(
    instanceId: string, caId: string, device: ParsedCertificate, status: DeviceStatus, now: Date = new Date(),
  ): Promise<{ record: DeviceRecord; created: boolean }> {
    for (let attempt = 0; attempt < FIRST_SEEN_ATTEMPTS; attempt++) {
      const existing = await this.store.get('devices', instanceId, device.id)
      if (existing !== undefined) return { record: existing, created: false }
      const record = newRecord(instanceId, caId, device, status, 'auto', now)
      try {
        await this.store.create('devices', instanceId, device.id, record)
        return { record, created: true }
      } catch (err) {
        if (!(err instanceof PortcullisError && err.code === 'ALREADY_EXISTS')) throw err
      }
    }
    throw new PortcullisError('CONFLICT', `device ${device.id} was created and deleted concurrently; retry`)
  }

  async list(instanceId: string, filter: DeviceFilter = {}): Promise<DeviceView[]> {
    const records = await this.store.list('devices', instanceId)
    return records
      .filter((d) => (filter.caId === undefined || d.caId === filter.caId) && (filter.status === undefined || d.status === filter.status))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id))
      .map(deviceView)
  }

  /** The raw record (or undefined): for the data path's status check. */
  find(instanceId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    return this.store.get('devices', instanceId, deviceId)
  }

  async get(instanceId: string, deviceId: string): Promise<DeviceDetail> {
    const record = await this.store.get('devices', instanceId, deviceId)
    if (record === undefined) throw notFound(deviceId)
    return deviceDetail(record)
  }

  activate(instanceId: string, deviceId: string, now: Date = new Date()): Promise<Change<DeviceView>> {
    return this.setStatus(instanceId, deviceId, 'ACTIVE', now)
  }

  deactivate(instanceId: string, deviceId: string, now: Date = new Date()): Promise<Change<DeviceView>> {
    return this.setStatus(instanceId, deviceId, 'INACTIVE', now)
  }

  /** Terminal; revoking a REVOKED device is a no-op (before equals after). */
  revoke(instanceId: string, deviceId: string, now: Date = new Date()): Promise<Change<DeviceView>> {
    return this.setStatus(instanceId, deviceId, 'REVOKED', now)
  }

  private async setStatus(instanceId: string, deviceId: string, status: DeviceStatus, now: Date): Promise<Change<DeviceView>> {
    // The mutator may run more than once (redis retries); it only records what it saw.
    let before: DeviceRecord | undefined
    const after = await this.store.update('devices', instanceId, deviceId, (current) => {
      before = current
      if (current === undefined || current.status === status || current.status === 'REVOKED') return undefined
      return { ...current, status, updatedAt: now.toISOString() }
    })
    if (before === undefined || after === undefined) throw notFound(deviceId)
    if (before.status === 'REVOKED' && status !== 'REVOKED') throw new PortcullisError('DEVICE_REVOKED')
    return { before: deviceView(before), after: deviceView(after) }
  }

  /** The registered CA (any status) that signed the device certificate, by name, AKID and signature. */
  private async issuingCa(instanceId: string, device: ParsedCertificate): Promise<string | undefined> {
    for (const ca of await this.store.list('cas', instanceId)) {
      const cert = usableCaCertificate(ca.pem)
      if (cert !== undefined && device.x509.checkIssued(cert) && device.x509.verify(cert.publicKey)) return ca.id
    }
    return undefined
  }
}

function newRecord(
  instanceId: string, caId: string, device: ParsedCertificate, status: DeviceStatus,
  registeredBy: 'auto' | 'manual', now: Date,
): DeviceRecord {
  const at = now.toISOString()
  return {
    id: device.id,
    instanceId,
    caId,
    pem: device.pem,
    serialNumber: device.serialNumber,
    subject: device.subject,
    ...(device.commonName === undefined ? {} : { commonName: device.commonName }),
    notBefore: device.notBefore,
    notAfter: device.notAfter,
    status,
    registeredBy,
    createdAt: at,
    updatedAt: at,
  }
}

function notFound(deviceId: string): PortcullisError {
  return new PortcullisError('NOT_FOUND', `no device certificate ${deviceId} on this instance`)
}
