/**
 * The CA certificates registered on an instance (DESIGN §1, routes in §3).
 *
 * Registration checks, in this order, so that no refusal consumes the registration code:
 *   1. the CA certificate parses (CERT_INVALID), is a CA (CA_NOT_A_CA: basicConstraints cA and
 *      keyCertSign where keyUsage is present), has no critical extension the chain check cannot
 *      apply (CERT_INVALID; name constraints are applied, critical or not), and is within its validity (CERT_NOT_VALID_NOW);
 *   2. the verification certificate parses, is within its validity, and its signature verifies
 *      with the CA's public key (VERIFICATION_SIGNATURE_INVALID) — proof of the CA key;
 *   3. its subject CN is the current registration code (REGISTRATION_CODE_MISSING / _INVALID),
 *      checked without consuming;
 *   4. under the instance's CA lock: not already registered (CA_DUPLICATE), fewer than 32 CAs
 *      (CA_LIMIT_EXCEEDED); then the code is consumed (atomically, single use) and the CA created.
 *
 * State-changing methods answer before/after views so the admin API can write the audit event
 * (DESIGN §3 `admin.<resource>.<action>`); auditing and kicking sessions are not done here.
 */
import { PortcullisError } from '../errors'
import type { CaRecord, CertStatus, DeviceRecord } from '../store/records'
import type { Store } from '../store/store'
import { isValidAt, parseCertificatePem } from './certificate'
import type { ParsedCertificate } from './certificate'
import { readExtensions, unsupportedCritical } from './der-extensions'
import type { RegistrationCodes } from './registration-codes'

/** DESIGN §1: "At most 32 CA certificates may be registered on one instance." */
export const MAX_CAS_PER_INSTANCE = 32

export interface RegisterCaInput {
  caCertificate: string
  verificationCertificate: string
  /** Default ACTIVE: a registered CA admits its devices until deactivated. */
  status?: CertStatus
}

export interface CaView {
  id: string
  serialNumber: string
  subject: string
  notBefore: string
  notAfter: string
  status: CertStatus
  createdAt: string
}

export interface CaDetail extends CaView {
  pem: string
}

export interface Change<T> {
  before: T | undefined
  after: T | undefined
}

export function caView(record: CaRecord): CaView {
  const { id, serialNumber, subject, notBefore, notAfter, status, createdAt } = record
  return { id, serialNumber, subject, notBefore, notAfter, status, createdAt }
}

export function caDetail(record: CaRecord): CaDetail {
  return { ...caView(record), pem: record.pem }
}

export class CaRegistry {
  constructor(
    private readonly store: Store,
    private readonly codes: RegistrationCodes,
  ) {}

  async register(instanceId: string, input: RegisterCaInput, now: Date = new Date()): Promise<Change<CaDetail>> {
    const ca = checkCaCertificate(input.caCertificate, now)
    const verification = checkVerificationCertificate(input.verificationCertificate, ca, now)
    const code = verification.commonName
    if (code === undefined) throw new PortcullisError('REGISTRATION_CODE_INVALID', 'the verification certificate has no CN')
    await this.codes.check(instanceId, code, now)

    const at = now.toISOString()
    const record: CaRecord = {
      id: ca.id,
      instanceId,
      pem: ca.pem,
      serialNumber: ca.serialNumber,
      subject: ca.subject,
      issuer: ca.issuer,
      notBefore: ca.notBefore,
      notAfter: ca.notAfter,
      status: input.status ?? 'ACTIVE',
      spkiSha256: ca.spkiSha256,
      createdAt: at,
      updatedAt: at,
    }
    await this.store.withLock(casLock(instanceId), async () => {
      if (await this.store.get('cas', instanceId, ca.id)) throw new PortcullisError('CA_DUPLICATE')
      if ((await this.store.count('cas', instanceId)) >= MAX_CAS_PER_INSTANCE) {
        throw new PortcullisError('CA_LIMIT_EXCEEDED')
      }
      await this.codes.consume(instanceId, code, now)
      await this.store.create('cas', instanceId, ca.id, record)
    })
    return { before: undefined, after: caDetail(record) }
  }

  async list(instanceId: string): Promise<CaView[]> {
    const records = await this.records(instanceId)
    return records.map(caView)
  }

  /** The raw records, all statuses: what the data path builds its CaTrustIndex from. */
  async records(instanceId: string): Promise<CaRecord[]> {
    const records = await this.store.list('cas', instanceId)
    return records.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id))
  }

  async get(instanceId: string, caId: string): Promise<CaDetail> {
    const record = await this.store.get('cas', instanceId, caId)
    if (record === undefined) throw notFound(caId)
    return caDetail(record)
  }

  activate(instanceId: string, caId: string, now: Date = new Date()): Promise<Change<CaView>> {
    return this.setStatus(instanceId, caId, 'ACTIVE', now)
  }

  /** Sessions chained to the CA must then be kicked (CA_DEACTIVATED); the caller does that. */
  deactivate(instanceId: string, caId: string, now: Date = new Date()): Promise<Change<CaView>> {
    return this.setStatus(instanceId, caId, 'INACTIVE', now)
  }

  /**
   * DESIGN §1: refused with CA_HAS_ACTIVE_DEVICES while an ACTIVE device certificate exists under
   * the CA; otherwise the CA goes, and its INACTIVE/REVOKED device records with it.
   */
  async delete(instanceId: string, caId: string): Promise<Change<CaDetail> & { deletedDevices: number }> {
    return this.store.withLock(casLock(instanceId), async () => {
      const record = await this.store.get('cas', instanceId, caId)
      if (record === undefined) throw notFound(caId)
      const devices = (await this.store.list('devices', instanceId)).filter((d) => d.caId === caId)
      const active = devices.filter((d) => d.status === 'ACTIVE').length
      if (active > 0) {
        throw new PortcullisError('CA_HAS_ACTIVE_DEVICES', `the CA certificate still has ${active} ACTIVE device certificate(s); deactivate or revoke them first`)
      }
      await this.store.delete('cas', instanceId, caId)
      // Listed again after the CA is gone: a device first seen in between is an orphan too.
      const orphans = (await this.store.list('devices', instanceId)).filter((d: DeviceRecord) => d.caId === caId)
      let deletedDevices = 0
      for (const device of orphans) {
        if (await this.store.delete('devices', instanceId, device.id)) deletedDevices += 1
      }
      return { before: caDetail(record), after: undefined, deletedDevices }
    })
  }

  private async setStatus(instanceId: string, caId: string, status: CertStatus, now: Date): Promise<Change<CaView>> {
    let before: CaRecord | undefined
    const after = await this.store.update('cas', instanceId, caId, (current) => {
      before = current
      if (current === undefined || current.status === status) return undefined
      return { ...current, status, updatedAt: now.toISOString() }
    })
    if (before === undefined || after === undefined) throw notFound(caId)
    return { before: caView(before), after: caView(after) }
  }
}

function casLock(instanceId: string): string {
  return `cas:${instanceId}`
}

function notFound(caId: string): PortcullisError {
  return new PortcullisError('NOT_FOUND', `no CA certificate ${caId} on this instance`)
}

function checkCaCertificate(pem: string, now: Date): ParsedCertificate {
  const ca = parseCertificatePem(pem)
  if (!ca.isCa) {
    throw new PortcullisError('CA_NOT_A_CA', 'the CA certificate needs basicConstraints cA=TRUE and, with keyUsage, keyCertSign')
  }
  // Name the extensions that are not applied, not every critical one (basicConstraints and
  // keyUsage are critical in most CAs and are applied). Name constraints are applied (issue 10).
  const unsupported = unsupportedCritical(readExtensions(ca.x509.raw))
  if (unsupported.length > 0) {
    throw new PortcullisError('CERT_INVALID', `the CA certificate has a critical extension Portcullis does not apply (${unsupported.join(', ')})`)
  }
  if (!isValidAt(ca, now)) {
    throw new PortcullisError('CERT_NOT_VALID_NOW', `the CA certificate is valid from ${ca.notBefore} to ${ca.notAfter}`)
  }
  return ca
}

function checkVerificationCertificate(pem: string, ca: ParsedCertificate, now: Date): ParsedCertificate {
  const verification = parseCertificatePem(pem)
  if (!isValidAt(verification, now)) {
    throw new PortcullisError('CERT_NOT_VALID_NOW', `the verification certificate is valid from ${verification.notBefore} to ${verification.notAfter}`)
  }
  if (!verification.x509.verify(ca.x509.publicKey)) throw new PortcullisError('VERIFICATION_SIGNATURE_INVALID')
  return verification
}
