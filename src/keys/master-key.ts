/**
 * A master key and the keyring that holds every loaded one (DESIGN §4 "Operations and keys").
 *
 * The envelope (auth/envelope.ts) never sees master key bytes: it asks a MasterKey to seal or
 * unseal a 32-byte data key, and to derive the keys that must be the same on every replica (STS
 * token MAC keys, TLS session ticket keys). A software key (env, file, generated) does that with
 * node:crypto; a PKCS#11 key asks the token, so its bytes never enter this process.
 *
 * The keyring is one object for the life of the process: a reload (or a test) may `replace` its
 * keys, and every service holding it sees the new current key on its next seal.
 */
import { PortcullisError } from '../errors'

export type MasterKeyProvider = 'env' | 'file' | 'generated' | 'pkcs11'

/** Key ids are stored in every sealed record: short, printable, no separators of our formats. */
export const MASTER_KEY_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/

export interface MasterKey {
  readonly id: string
  readonly provider: MasterKeyProvider
  /** AES-256-GCM under the master key with a fresh 96-bit IV: iv(12) ‖ ciphertext ‖ tag(16). */
  seal(plaintext: Buffer, aad: Buffer): Buffer
  /** The inverse; PortcullisError INTERNAL when the blob does not authenticate. */
  unseal(blob: Buffer, aad: Buffer): Buffer
  /** HKDF-SHA256 output bound to this master key, identical on every process that holds it. */
  derive(salt: Buffer, info: string, length: number): Buffer
  /** Lets go of a token session; software keys have nothing to release. */
  close(): void
}

export interface MasterKeyring {
  /** The key new secrets are sealed with. */
  readonly current: MasterKey
  /** Any loaded key, for opening secrets sealed before a rotation. */
  byId(id: string): MasterKey | undefined
  readonly ids: readonly string[]
  /** Where the current key came from; the composition root logs it (never the key). */
  readonly source: MasterKeyProvider
  readonly file?: string | undefined
}

/** Every loaded key, oldest first; the LAST is current. */
export class Keyring implements MasterKeyring {
  private keys: readonly MasterKey[] = []
  private index = new Map<string, MasterKey>()
  private fileName: string | undefined

  constructor(keys: readonly MasterKey[], file?: string) {
    this.replace(keys, file)
  }

  get current(): MasterKey {
    const current = this.keys[this.keys.length - 1]
    if (current === undefined) throw new PortcullisError('INTERNAL', 'the keyring holds no master key')
    return current
  }

  get ids(): readonly string[] {
    return [...this.index.keys()]
  }

  get source(): MasterKeyProvider {
    return this.current.provider
  }

  get file(): string | undefined {
    return this.fileName
  }

  byId(id: string): MasterKey | undefined {
    return this.index.get(id)
  }

  /** Swaps in another set of keys; keys no longer held are closed. */
  replace(keys: readonly MasterKey[], file?: string): void {
    if (keys.length === 0) throw new PortcullisError('CONFIG_INVALID', file === undefined ? 'no master key is configured' : `the master key file ${file} holds no key`)
    const index = new Map<string, MasterKey>()
    for (const key of keys) {
      if (index.has(key.id)) throw new PortcullisError('CONFIG_INVALID', `two master keys share the id ${key.id}`)
      index.set(key.id, key)
    }
    const dropped = this.keys.filter((k) => !keys.includes(k))
    this.keys = keys
    this.index = index
    this.fileName = file
    for (const key of dropped) key.close()
  }

  close(): void {
    for (const key of this.keys) key.close()
  }
}
