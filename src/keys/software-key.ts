/**
 * A master key held in process memory (providers env, file, generated): AES-256-GCM and HKDF
 * with node:crypto. The wrapped-key format is the envelope's (iv ‖ ciphertext ‖ tag), so a data
 * key sealed by this key and one sealed by a PKCS#11 key look alike on disk.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import { PortcullisError } from '../errors'
import type { MasterKey, MasterKeyProvider } from './master-key'

export const MASTER_KEY_BYTES = 32
export const GCM_IV_BYTES = 12
export const GCM_TAG_BYTES = 16

export function softwareKey(id: string, key: Buffer, provider: Exclude<MasterKeyProvider, 'pkcs11'>): MasterKey {
  if (key.length !== MASTER_KEY_BYTES) throw new PortcullisError('CONFIG_INVALID', `master key ${id} is not ${MASTER_KEY_BYTES} bytes`)
  const bytes = Buffer.from(key)
  return {
    id,
    provider,
    seal: (plaintext, aad) => gcmSeal(bytes, plaintext, aad),
    unseal: (blob, aad) => gcmUnseal(bytes, blob, aad),
    derive: (salt, info, length) => Buffer.from(hkdfSync('sha256', bytes, salt, Buffer.from(info, 'utf8'), length)),
    close: () => undefined,
  }
}

export function gcmSeal(key: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const iv = randomBytes(GCM_IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES })
  cipher.setAAD(aad)
  return Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
}

export function gcmUnseal(key: Buffer, blob: Buffer, aad: Buffer): Buffer {
  if (blob.length < GCM_IV_BYTES + GCM_TAG_BYTES) throw notAuthentic()
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, blob.subarray(0, GCM_IV_BYTES), { authTagLength: GCM_TAG_BYTES })
    decipher.setAAD(aad)
    decipher.setAuthTag(blob.subarray(blob.length - GCM_TAG_BYTES))
    return Buffer.concat([decipher.update(blob.subarray(GCM_IV_BYTES, blob.length - GCM_TAG_BYTES)), decipher.final()])
  } catch (err) {
    throw notAuthentic(err)
  }
}

export function notAuthentic(cause?: unknown): PortcullisError {
  return new PortcullisError('INTERNAL', 'the wrapped data key does not authenticate (tampered, moved to another record, or a wrong master key)', { cause })
}
