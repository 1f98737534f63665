/**
 * Envelope encryption for secrets at rest (DESIGN §1: the gateway holds the AccessKey secrets
 * "encrypted at rest"). Neither store ever sees a secret in clear.
 *
 *   data key  DK  = 32 random bytes, one per secret
 *   ciphertext, tag = AES-256-GCM(DK, iv = 12 random bytes, aad = "portcullis secret v1\0" + aad)
 *   wrappedKey      = wrapIv(12) ‖ AES-256-GCM(master key, wrapIv, aad = "portcullis dek v1\0" + keyId)(DK) ‖ wrapTag(16)
 *
 * All fields are standard Base64 in the SealedSecret record. `aad` names the record the secret
 * belongs to (e.g. the AccessKey id), so a ciphertext copied into another record does not open.
 * The wrapped key is bound to its master key id, so a rotation (`rewrap`) only re-encrypts the
 * 32-byte data key: the ciphertext itself is never touched.
 *
 * The master key seals the data key itself (keys/master-key.ts): in memory for env and file keys,
 * inside the token for a PKCS#11 key, whose bytes this module never sees.
 *
 * Any failure to open — unknown key id, malformed field, tampered byte — is PortcullisError
 * INTERNAL without the plaintext or key material in the message.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { PortcullisError } from '../errors'
import type { SealedSecret } from '../store/records'
import { decodeStrictBase64 } from './base64'
import type { MasterKey, MasterKeyring } from '../keys/master-key'

const ALGORITHM = 'aes-256-gcm'
const KEY_BYTES = 32
const IV_BYTES = 12
const TAG_BYTES = 16
const DATA_LABEL = 'portcullis secret v1\0'
const WRAP_LABEL = 'portcullis dek v1\0'

export function seal(keyring: MasterKeyring, plaintext: string, aad: string): SealedSecret {
  const dataKey = randomBytes(KEY_BYTES)
  try {
    const iv = randomBytes(IV_BYTES)
    const { ciphertext, tag } = encrypt(dataKey, iv, Buffer.from(plaintext, 'utf8'), DATA_LABEL + aad)
    return {
      keyId: keyring.current.id,
      wrappedKey: wrap(keyring.current, dataKey),
      iv: iv.toString('base64'),
      tag: tag.toString('base64'),
      ciphertext: ciphertext.toString('base64'),
    }
  } finally {
    dataKey.fill(0)
  }
}

export function open(keyring: MasterKeyring, sealed: SealedSecret, aad: string): string {
  const dataKey = unwrap(keyring, sealed)
  try {
    const iv = field(sealed.iv, 'iv', IV_BYTES)
    const tag = field(sealed.tag, 'tag', TAG_BYTES)
    const ciphertext = field(sealed.ciphertext, 'ciphertext')
    return decrypt(dataKey, iv, ciphertext, tag, DATA_LABEL + aad, 'the sealed secret').toString('utf8')
  } finally {
    dataKey.fill(0)
  }
}

/** Re-wraps the data key under the current master key; the same object when it already is. */
export function rewrap(keyring: MasterKeyring, sealed: SealedSecret): SealedSecret {
  if (sealed.keyId === keyring.current.id) return sealed
  const dataKey = unwrap(keyring, sealed)
  try {
    return { ...sealed, keyId: keyring.current.id, wrappedKey: wrap(keyring.current, dataKey) }
  } finally {
    dataKey.fill(0)
  }
}

function wrap(master: MasterKey, dataKey: Buffer): string {
  return master.seal(dataKey, Buffer.from(WRAP_LABEL + master.id, 'utf8')).toString('base64')
}

function unwrap(keyring: MasterKeyring, sealed: SealedSecret): Buffer {
  const master = keyring.byId(sealed.keyId)
  if (master === undefined) {
    throw new PortcullisError('INTERNAL', `the secret is sealed with master key ${JSON.stringify(sealed.keyId)}, which is not loaded`)
  }
  const blob = field(sealed.wrappedKey, 'wrappedKey', IV_BYTES + KEY_BYTES + TAG_BYTES)
  const dataKey = master.unseal(blob, Buffer.from(WRAP_LABEL + master.id, 'utf8'))
  if (dataKey.length !== KEY_BYTES) throw new PortcullisError('INTERNAL', 'the wrapped data key has the wrong length')
  return dataKey
}

function encrypt(key: Buffer, iv: Buffer, plaintext: Buffer, aad: string): { ciphertext: Buffer; tag: Buffer } {
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES })
  cipher.setAAD(Buffer.from(aad, 'utf8'))
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()])
  return { ciphertext, tag: cipher.getAuthTag() }
}

function decrypt(key: Buffer, iv: Buffer, ciphertext: Buffer, tag: Buffer, aad: string, what: string): Buffer {
  try {
    const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES })
    decipher.setAAD(Buffer.from(aad, 'utf8'))
    decipher.setAuthTag(tag)
    return Buffer.concat([decipher.update(ciphertext), decipher.final()])
  } catch (err) {
    throw new PortcullisError('INTERNAL', `${what} does not authenticate (tampered, moved to another record, or a wrong master key)`, { cause: err })
  }
}

function field(value: unknown, name: string, length?: number): Buffer {
  const bytes = typeof value === 'string' ? decodeStrictBase64(value) : undefined
  if (bytes === undefined || (length !== undefined && bytes.length !== length)) {
    throw new PortcullisError('INTERNAL', `the sealed secret's ${name} is malformed`)
  }
  return bytes
}
