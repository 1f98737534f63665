/**
 * An instance's secrets at rest (DESIGN §1: secrets "encrypted at rest"; private keys "storable
 * encrypted and decrypted at run time"): the backend password and the server certificate's
 * private key. Two forms of the one InstanceRecord type:
 *
 *   stored  backend.passwordSealed, serverCertificate.privateKeySealed (privateKey = '')
 *   opened  backend.password, serverCertificate.privateKey in clear, no *Sealed fields
 *
 * The instance service seals at the one place it writes; the data path opens once per store
 * change (InstanceDirectory), never per connection. The associated data names the instance and
 * the field, so a sealed value copied into another instance or field does not open.
 *
 * Without a keyring both functions pass secrets through unchanged: that is a store written before
 * sealing existed, or a test that does not care. A sealed record met without a keyring is an
 * error (INTERNAL), never silently a record without its password.
 */
import { PortcullisError } from '../errors'
import { open, rewrap, seal } from '../auth/envelope'
import type { MasterKeyring } from '../auth/master-key'
import type { InstanceRecord, SealedSecret } from '../store/records'

export const backendPasswordAad = (instanceId: string): string => `instance/${instanceId}/backend-password`
export const serverPrivateKeyAad = (instanceId: string): string => `instance/${instanceId}/server-private-key`

/** The stored form. `record` is the opened (or plaintext) form; it is not modified. */
export function sealInstanceSecrets(record: InstanceRecord, keyring: MasterKeyring | undefined): InstanceRecord {
  if (keyring === undefined) return record
  const out: InstanceRecord = { ...record }
  // An opened record has no sealed field; one left over from an older write is replaced, not kept.
  const { password, passwordSealed: _replaced, ...backend } = record.backend
  out.backend = password === undefined ? backend : { ...backend, passwordSealed: seal(keyring, password, backendPasswordAad(record.id)) }
  if (record.serverCertificate !== undefined) {
    const { certificate, privateKey } = record.serverCertificate
    out.serverCertificate = { certificate, privateKey: '', privateKeySealed: seal(keyring, privateKey, serverPrivateKeyAad(record.id)) }
  }
  return out
}

/**
 * A copy with the plaintext password and private key filled in and the sealed fields dropped:
 * what the data path (backend login, TLS context) and the service's own merges work on. Throws
 * PortcullisError INTERNAL when a secret does not open (wrong or missing master key, tampering).
 */
export function openInstanceSecrets(record: InstanceRecord, keyring: MasterKeyring | undefined): InstanceRecord {
  const { passwordSealed, ...backend } = record.backend
  const sealedKey = record.serverCertificate?.privateKeySealed
  if (passwordSealed === undefined && sealedKey === undefined) return record
  const out: InstanceRecord = { ...record }
  out.backend = passwordSealed === undefined ? backend : { ...backend, password: openOrThrow(keyring, passwordSealed, backendPasswordAad(record.id), record.id) }
  if (record.serverCertificate !== undefined && sealedKey !== undefined) {
    out.serverCertificate = {
      certificate: record.serverCertificate.certificate,
      privateKey: openOrThrow(keyring, sealedKey, serverPrivateKeyAad(record.id), record.id),
    }
  }
  return out
}

/** True when the stored record holds a secret in clear (written without a keyring). */
export function hasPlaintextSecrets(record: InstanceRecord): boolean {
  return record.backend.password !== undefined || (record.serverCertificate !== undefined && record.serverCertificate.privateKeySealed === undefined)
}

/** True when some sealed secret of the record is wrapped under another master key than `current`. */
export function needsRewrap(record: InstanceRecord, keyring: MasterKeyring): boolean {
  const current = keyring.current.id
  return (record.backend.passwordSealed !== undefined && record.backend.passwordSealed.keyId !== current)
    || (record.serverCertificate?.privateKeySealed !== undefined && record.serverCertificate.privateKeySealed.keyId !== current)
}

/** The stored record with every sealed data key re-wrapped under the current master key. */
export function rewrapInstanceSecrets(record: InstanceRecord, keyring: MasterKeyring): InstanceRecord {
  const out: InstanceRecord = { ...record }
  if (record.backend.passwordSealed !== undefined) out.backend = { ...record.backend, passwordSealed: rewrap(keyring, record.backend.passwordSealed) }
  const cert = record.serverCertificate
  if (cert?.privateKeySealed !== undefined) out.serverCertificate = { ...cert, privateKeySealed: rewrap(keyring, cert.privateKeySealed) }
  return out
}

function openOrThrow(keyring: MasterKeyring | undefined, sealed: SealedSecret, aad: string, instanceId: string): string {
  if (keyring === undefined) {
    throw new PortcullisError('INTERNAL', `instance ${instanceId} holds sealed secrets but no master key was given to open them`)
  }
  return open(keyring, sealed, aad)
}
