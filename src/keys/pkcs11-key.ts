/**
 * A master key that lives in a PKCS#11 token (DESIGN §4 `masterKey: {provider: pkcs11, module,
 * tokenLabel, pinEnv, keyLabel}`): a non-extractable AES-256 secret key. Every data key is sealed
 * and unsealed by the token (C_Encrypt / C_Decrypt with CKM_AES_GCM), so the master key's bytes
 * never enter this process; any HSM with a PKCS#11 module works (tests use SoftHSM2).
 *
 *   seal(dk)   = iv(12, random) ‖ C_Encrypt(CKM_AES_GCM{iv, aad, 128-bit tag}, dk)   (= ct ‖ tag)
 *   unseal     = C_Decrypt of the same; a tag that does not verify is INTERNAL "does not authenticate"
 *   derive     = HKDF-SHA256(seed, salt, info), seed = C_Encrypt(CKM_AES_CBC, iv 0, SEED_LABEL)
 *
 * The seed is computed once at load (it also proves the key works): keys that every replica must
 * derive alike (STS token MAC keys, TLS ticket keys) come from it. It is a function of the token
 * key, not the key itself; it sits in memory like the data keys do while they are in use.
 *
 * At load the key must be sensitive and never extractable, and allowed to encrypt and decrypt: a
 * key that could be read out of the token is refused, so "never leaves the token" is checked, not
 * hoped. A failure to reach the module, token, PIN or key is CONFIG_INVALID naming what failed
 * (never the PIN). The token session is reopened once if the token reports it lost (an HSM
 * restart, a network HSM reconnect); pkcs11js calls are synchronous, a few hundred µs on SoftHSM2.
 */
import { hkdfSync, randomBytes } from 'node:crypto'
import { PortcullisError } from '../errors'
import type { MasterKey } from './master-key'
import { GCM_IV_BYTES, GCM_TAG_BYTES, notAuthentic } from './software-key'

export interface Pkcs11KeyOptions {
  id: string
  module: string
  tokenLabel: string
  keyLabel: string
  pin: string
}

type Pkcs11Module = typeof import('pkcs11js')
type Pkcs11 = InstanceType<Pkcs11Module['PKCS11']>
type Handle = Buffer

/** 32 bytes in, two AES blocks: the derivation seed is their CBC encryption under the token key. */
const SEED_LABEL = Buffer.from('portcullis master key seed v1\0\0\0', 'latin1')
/** Token errors after which a new session is worth one retry. */
const SESSION_LOST = new Set([
  'CKR_SESSION_HANDLE_INVALID', 'CKR_SESSION_CLOSED', 'CKR_DEVICE_REMOVED', 'CKR_TOKEN_NOT_PRESENT',
  'CKR_USER_NOT_LOGGED_IN', 'CKR_DEVICE_ERROR', 'CKR_OBJECT_HANDLE_INVALID', 'CKR_KEY_HANDLE_INVALID',
])

/** One loaded module per path, initialised once, finalised when its last key closes. */
const modules = new Map<string, { lib: Pkcs11; refs: number }>()

export function openPkcs11Key(opts: Pkcs11KeyOptions): MasterKey {
  const pkcs11 = loadBinding()
  const lib = acquireModule(pkcs11, opts.module)
  let session: Session
  try {
    session = openSession(pkcs11, lib, opts)
  } catch (err) {
    releaseModule(opts.module)
    throw err
  }
  const call = <T>(fn: (s: Session) => T): T => {
    try {
      return fn(session)
    } catch (err) {
      if (!SESSION_LOST.has(codeOf(err))) throw err
      closeQuietly(lib, session.handle)
      session = openSession(pkcs11, lib, opts)
      return fn(session)
    }
  }

  const seal = (plaintext: Buffer, aad: Buffer): Buffer => {
    const iv = randomBytes(GCM_IV_BYTES)
    const sealed = call((s) => {
      lib.C_EncryptInit(s.handle, gcm(pkcs11, iv, aad), s.key)
      return lib.C_Encrypt(s.handle, plaintext, Buffer.alloc(plaintext.length + GCM_TAG_BYTES))
    })
    return Buffer.concat([iv, sealed])
  }
  const unseal = (blob: Buffer, aad: Buffer): Buffer => {
    if (blob.length < GCM_IV_BYTES + GCM_TAG_BYTES) throw notAuthentic()
    const iv = blob.subarray(0, GCM_IV_BYTES)
    try {
      return call((s) => {
        lib.C_DecryptInit(s.handle, gcm(pkcs11, iv, aad), s.key)
        return Buffer.from(lib.C_Decrypt(s.handle, blob.subarray(GCM_IV_BYTES), Buffer.alloc(blob.length)))
      })
    } catch (err) {
      if (SESSION_LOST.has(codeOf(err))) throw unreachable(opts, err)
      throw notAuthentic(err)
    }
  }

  // Proves the key seals and opens before the gateway relies on it, and fixes the seed.
  const probe = randomBytes(32)
  const aad = Buffer.from('portcullis pkcs11 self-test')
  let seed: Buffer
  try {
    if (!unseal(seal(probe, aad), aad).equals(probe)) throw new Error('the round trip changed the bytes')
    seed = call((s) => {
      lib.C_EncryptInit(s.handle, { mechanism: pkcs11.CKM_AES_CBC, parameter: Buffer.alloc(16) }, s.key)
      return Buffer.from(lib.C_Encrypt(s.handle, SEED_LABEL, Buffer.alloc(SEED_LABEL.length)))
    })
  } catch (err) {
    closeQuietly(lib, session.handle)
    releaseModule(opts.module)
    throw new PortcullisError('CONFIG_INVALID', `master key ${opts.id}: the PKCS#11 key ${JSON.stringify(opts.keyLabel)} cannot seal and open with AES-GCM and AES-CBC: ${describe(err)}`, { cause: err })
  }

  let closed = false
  return {
    id: opts.id,
    provider: 'pkcs11',
    seal,
    unseal,
    derive: (salt, info, length) => Buffer.from(hkdfSync('sha256', seed, salt, Buffer.from(info, 'utf8'), length)),
    close: () => {
      if (closed) return
      closed = true
      seed.fill(0)
      closeQuietly(lib, session.handle)
      releaseModule(opts.module)
    },
  }
}

interface Session {
  handle: Handle
  key: Handle
}

function openSession(pkcs11: Pkcs11Module, lib: Pkcs11, opts: Pkcs11KeyOptions): Session {
  const slot = findSlot(lib, opts)
  let handle: Handle
  try {
    handle = lib.C_OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
  } catch (err) {
    throw unreachable(opts, err)
  }
  try {
    try {
      lib.C_Login(handle, pkcs11.CKU_USER, opts.pin)
    } catch (err) {
      // Login state is per token and application: a second session (another key) is already in.
      if (codeOf(err) !== 'CKR_USER_ALREADY_LOGGED_IN') {
        throw new PortcullisError('CONFIG_INVALID', `master key ${opts.id}: cannot log in to token ${JSON.stringify(opts.tokenLabel)}: ${codeOf(err) || describe(err)}`, { cause: err })
      }
    }
    return { handle, key: findKey(pkcs11, lib, handle, opts) }
  } catch (err) {
    closeQuietly(lib, handle)
    throw err
  }
}

function findSlot(lib: Pkcs11, opts: Pkcs11KeyOptions): Handle {
  const labels: string[] = []
  for (const slot of lib.C_GetSlotList(true)) {
    const label = lib.C_GetTokenInfo(slot).label.trim()
    if (label === opts.tokenLabel) return slot
    labels.push(label)
  }
  throw new PortcullisError('CONFIG_INVALID', `master key ${opts.id}: no token labelled ${JSON.stringify(opts.tokenLabel)} in ${opts.module} (tokens: ${labels.length === 0 ? 'none' : labels.map((l) => JSON.stringify(l)).join(', ')})`)
}

function findKey(pkcs11: Pkcs11Module, lib: Pkcs11, session: Handle, opts: Pkcs11KeyOptions): Handle {
  lib.C_FindObjectsInit(session, [
    { type: pkcs11.CKA_CLASS, value: pkcs11.CKO_SECRET_KEY },
    { type: pkcs11.CKA_LABEL, value: opts.keyLabel },
  ])
  let found: Handle[]
  try {
    found = lib.C_FindObjects(session, 2)
  } finally {
    lib.C_FindObjectsFinal(session)
  }
  const where = `token ${JSON.stringify(opts.tokenLabel)}`
  const key = found[0]
  if (key === undefined) throw new PortcullisError('CONFIG_INVALID', `master key ${opts.id}: no secret key labelled ${JSON.stringify(opts.keyLabel)} in ${where}`)
  if (found.length > 1) throw new PortcullisError('CONFIG_INVALID', `master key ${opts.id}: more than one secret key is labelled ${JSON.stringify(opts.keyLabel)} in ${where}`)
  const [keyType, length, sensitive, extractable, encrypt, decrypt] = lib.C_GetAttributeValue(session, key, [
    { type: pkcs11.CKA_KEY_TYPE }, { type: pkcs11.CKA_VALUE_LEN }, { type: pkcs11.CKA_SENSITIVE },
    { type: pkcs11.CKA_EXTRACTABLE }, { type: pkcs11.CKA_ENCRYPT }, { type: pkcs11.CKA_DECRYPT },
  ]).map((a) => (Buffer.isBuffer(a.value) ? a.value : Buffer.alloc(0)))
  const problems: string[] = []
  if (keyType === undefined || readUlong(keyType) !== pkcs11.CKK_AES) problems.push('it is not an AES key')
  if (length === undefined || readUlong(length) !== 32) problems.push('it is not 256 bits long')
  if (sensitive?.[0] !== 1) problems.push('it is not sensitive (CKA_SENSITIVE)')
  if (extractable?.[0] !== 0) problems.push('it is extractable (CKA_EXTRACTABLE): its bytes could leave the token')
  if (encrypt?.[0] !== 1 || decrypt?.[0] !== 1) problems.push('it may not encrypt and decrypt')
  if (problems.length > 0) {
    throw new PortcullisError('CONFIG_INVALID', `master key ${opts.id}: the key ${JSON.stringify(opts.keyLabel)} in ${where} is refused: ${problems.join('; ')} (make one with: pkcs11-tool --keygen --key-type AES:32 --sensitive --label …)`)
  }
  return key
}

function gcm(pkcs11: Pkcs11Module, iv: Buffer, aad: Buffer): Parameters<Pkcs11['C_EncryptInit']>[1] {
  const parameter: import('pkcs11js').AesGCM = { type: pkcs11.CK_PARAMS_AES_GCM, iv, aad, ivBits: GCM_IV_BYTES * 8, tagBits: GCM_TAG_BYTES * 8 }
  return { mechanism: pkcs11.CKM_AES_GCM, parameter }
}

/** CK_ULONG attributes come back in the platform's byte order and width. */
function readUlong(value: Buffer): number {
  if (value.length >= 8) return Number(value.readBigUInt64LE(0))
  return value.length >= 4 ? value.readUInt32LE(0) : -1
}

function loadBinding(): Pkcs11Module {
  try {
    // Optional dependency (native, built by node-gyp at install): only this provider needs it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('pkcs11js') as Pkcs11Module
  } catch (err) {
    throw new PortcullisError('CONFIG_INVALID', `masterKey.provider pkcs11 needs the pkcs11js module, which is not installed (it builds at npm install with python3, make and a C++ compiler): ${describe(err)}`, { cause: err })
  }
}

function acquireModule(pkcs11: Pkcs11Module, path: string): Pkcs11 {
  const loaded = modules.get(path)
  if (loaded !== undefined) {
    loaded.refs++
    return loaded.lib
  }
  const lib = new pkcs11.PKCS11()
  try {
    lib.load(path)
  } catch (err) {
    throw new PortcullisError('CONFIG_INVALID', `cannot load the PKCS#11 module ${path}: ${describe(err)}`, { cause: err })
  }
  try {
    lib.C_Initialize()
  } catch (err) {
    if (codeOf(err) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') {
      throw new PortcullisError('CONFIG_INVALID', `the PKCS#11 module ${path} does not initialise: ${describe(err)}`, { cause: err })
    }
  }
  modules.set(path, { lib, refs: 1 })
  return lib
}

function releaseModule(path: string): void {
  const loaded = modules.get(path)
  if (loaded === undefined || --loaded.refs > 0) return
  modules.delete(path)
  try {
    loaded.lib.C_Finalize()
  } catch {
    // Nothing left to do with a module that will not finalise; the process is letting go of it.
  }
}

function closeQuietly(lib: Pkcs11, session: Handle): void {
  try {
    lib.C_CloseSession(session)
  } catch {
    // A session the token already lost is closed as far as we are concerned.
  }
}

function unreachable(opts: Pkcs11KeyOptions, err: unknown): PortcullisError {
  return new PortcullisError('INTERNAL', `master key ${opts.id}: the PKCS#11 token ${JSON.stringify(opts.tokenLabel)} cannot be reached: ${describe(err)}`, { cause: err })
}

function codeOf(err: unknown): string {
  const message = err instanceof Error ? err.message : ''
  return /^CKR_[A-Z_]+/.exec(message)?.[0] ?? ''
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
