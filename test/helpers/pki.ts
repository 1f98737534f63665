/**
 * Certificate fixtures for the CA tests: a temporary embedded store, CA records built from
 * generated certificates, and the registration dance (code → verification certificate → register).
 */
import { X509Certificate } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseCertificatePem } from '../../src/ca/certificate'
import { createVerificationCertificate } from '../../src/ca/pki'
import type { KeyAndCert } from '../../src/ca/pki'
import type { CaRegistry } from '../../src/ca/ca-registry'
import type { RegistrationCodes } from '../../src/ca/registration-codes'
import { EmbeddedStore } from '../../src/store/embedded'
import type { CaRecord, CertStatus } from '../../src/store/records'
import type { Store } from '../../src/store/store'
import type { Test } from './services'

export const DAY_MS = 24 * 60 * 60 * 1000

/** An embedded store in a fresh temporary directory, closed and deleted when `t` ends. */
export async function tempStore(t: Test): Promise<Store> {
  const dataDir = await mkdtemp(join(tmpdir(), 'portcullis-ca-'))
  const store = await EmbeddedStore.open({ dataDir })
  t.teardown(async () => {
    await store.close()
    await rm(dataDir, { recursive: true, force: true })
  })
  return store
}

/** A CA record as the registry would store it, without going through registration. */
export function caRecord(ca: KeyAndCert | string, status: CertStatus = 'ACTIVE', instanceId = 'inst-1'): CaRecord {
  const parsed = parseCertificatePem(typeof ca === 'string' ? ca : ca.cert)
  const at = new Date().toISOString()
  return {
    id: parsed.id, instanceId, pem: parsed.pem, serialNumber: parsed.serialNumber, subject: parsed.subject,
    issuer: parsed.issuer, notBefore: parsed.notBefore, notAfter: parsed.notAfter, status,
    spkiSha256: parsed.spkiSha256, createdAt: at, updatedAt: at,
  }
}

export function x509Of(...items: Array<KeyAndCert | string>): X509Certificate[] {
  return items.map((item) => new X509Certificate(typeof item === 'string' ? item : item.cert))
}

/** Issues a code, signs a verification certificate with the CA key, and registers the CA. */
export async function registerCa(
  codes: RegistrationCodes, registry: CaRegistry, instanceId: string, ca: KeyAndCert,
  status?: CertStatus,
): ReturnType<CaRegistry['register']> {
  const { registrationCode } = await codes.issue(instanceId)
  const verification = await createVerificationCertificate({ registrationCode, ca })
  return registry.register(instanceId, {
    caCertificate: ca.cert,
    verificationCertificate: verification.cert,
    ...(status === undefined ? {} : { status }),
  })
}
