/**
 * The master key that wraps every stored secret's data key (DESIGN §3: "from PORTCULLIS_MASTER_KEY
 * (Base64 of 32 bytes) or a key file, each with a key id").
 *
 * Sources, in order:
 *  1. `masterKey` (env PORTCULLIS_MASTER_KEY) with `masterKeyId` (PORTCULLIS_MASTER_KEY_ID; when
 *     absent the id is a fingerprint of the key, so two different keys never share an id). It is
 *     the current key. When a key file is named as well, the file's keys stay usable for opening
 *     older secrets — that is how an operator rotates with environment variables.
 *  2. `masterKeyFile` (PORTCULLIS_MASTER_KEY_FILE): the file must exist.
 *  3. Neither: `<dataDir>/master-key.json` is read, or generated on first start. This is the
 *     single-machine development default; production passes the environment variable or a mounted
 *     file (a generated key next to the data it protects guards against a leaked store dump or
 *     Redis, not against a stolen data directory).
 *
 * File format (JSON), oldest key first; the LAST key is current, the others only open old secrets:
 *
 *   { "keys": [ { "keyId": "mk-2025", "key": "<Base64 of 32 bytes>" },
 *               { "keyId": "mk-2026", "key": "<Base64 of 32 bytes>" } ] }
 *
 * A single `{ "keyId": …, "key": … }` object is accepted too. Key files must not be readable by
 * "others" (mode & 0o007): a world-readable master key is refused. Group read stays allowed,
 * because Kubernetes secret volumes with an fsGroup are mounted 0440.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { mkdir, open, readFile, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { PortcullisError } from '../errors'
import { Keyring, MASTER_KEY_ID as KEY_ID, type MasterKey, type MasterKeyProvider } from '../keys/master-key'
import { MASTER_KEY_BYTES, softwareKey } from '../keys/software-key'
import { decodeStrictBase64 } from './base64'

export type { MasterKey, MasterKeyring } from '../keys/master-key'
export { MASTER_KEY_BYTES } from '../keys/software-key'
export const MASTER_KEY_FILE = 'master-key.json'

export interface MasterKeyOptions {
  masterKey?: string
  masterKeyId?: string
  masterKeyFile?: string
  dataDir: string
}

interface KeyFileEntry { keyId: string; key: string }

export async function loadMasterKey(opts: MasterKeyOptions): Promise<Keyring> {
  if (opts.masterKey !== undefined) {
    const envKey = envMasterKey(opts.masterKey, opts.masterKeyId)
    const older = opts.masterKeyFile === undefined ? [] : await readKeyFile(resolve(opts.masterKeyFile), true)
    return keyring([...(older ?? []), envKey])
  }
  if (opts.masterKeyId !== undefined) {
    throw new PortcullisError('CONFIG_INVALID', 'PORTCULLIS_MASTER_KEY_ID is set without PORTCULLIS_MASTER_KEY')
  }
  if (opts.masterKeyFile !== undefined) {
    const file = resolve(opts.masterKeyFile)
    const keys = await readKeyFile(file, true)
    return keyring(keys ?? [], file)
  }
  const file = resolve(join(opts.dataDir, MASTER_KEY_FILE))
  const existing = await readKeyFile(file, false)
  if (existing !== undefined) return keyring(existing, file)
  return generateKeyFile(opts.dataDir, file)
}

/** The key in PORTCULLIS_MASTER_KEY; its id from PORTCULLIS_MASTER_KEY_ID or its fingerprint. */
export function envMasterKey(base64: string, keyId: string | undefined): MasterKey {
  return toMasterKey(keyId ?? fingerprintId(base64), base64, 'PORTCULLIS_MASTER_KEY', 'env')
}

/** Every key of a key file (masterKey.provider file), oldest first; the file must exist. */
export async function readMasterKeyFile(file: string): Promise<MasterKey[]> {
  const keys = await readKeyFile(resolve(file), true)
  if (keys === undefined || keys.length === 0) throw new PortcullisError('CONFIG_INVALID', `the master key file ${file} holds no key`)
  return keys
}

/** A fresh key file entry (for operators and the CLI adding a key before a rotation). */
export function newKeyFileEntry(keyId: string): KeyFileEntry {
  if (!KEY_ID.test(keyId)) throw new PortcullisError('VALIDATION_FAILED', `invalid master key id ${JSON.stringify(keyId)}`)
  return { keyId, key: randomBytes(MASTER_KEY_BYTES).toString('base64') }
}

/** The same key listed twice (a file and the environment) counts once; two keys under one id are refused. */
export function dedupeKeys(keys: readonly (MasterKey & { fingerprint?: string })[]): MasterKey[] {
  const seen = new Map<string, MasterKey & { fingerprint?: string }>()
  const out: MasterKey[] = []
  for (const k of keys) {
    const before = seen.get(k.id)
    if (before === undefined) {
      seen.set(k.id, k)
      out.push(k)
      continue
    }
    if (before.fingerprint === undefined || before.fingerprint !== k.fingerprint) {
      throw new PortcullisError('CONFIG_INVALID', `two different master keys share the id ${k.id}`)
    }
    // The later listing wins the position: it says which key is current.
    out.splice(out.indexOf(before), 1)
    out.push(before)
  }
  return out
}

function keyring(keys: MasterKey[], file?: string): Keyring {
  return new Keyring(dedupeKeys(keys), file)
}

function toMasterKey(id: string, base64: string, where: string, provider: Exclude<MasterKeyProvider, 'pkcs11'> = 'file'): MasterKey & { fingerprint: string } {
  if (!KEY_ID.test(id)) {
    throw new PortcullisError('CONFIG_INVALID', `${where}: the key id must be letters, digits, _ . - (at most 64)`)
  }
  const key = decodeStrictBase64(base64.trim())
  if (key === undefined || key.length !== MASTER_KEY_BYTES) {
    throw new PortcullisError('CONFIG_INVALID', `${where}: the master key must be standard Base64 of exactly ${MASTER_KEY_BYTES} bytes`)
  }
  // The fingerprint tells "the same key listed twice" from "two keys under one id" without keeping the bytes around.
  const fingerprint = createHmac('sha256', key).update('portcullis master key fingerprint').digest('hex')
  const master = softwareKey(id, key, provider)
  key.fill(0)
  return { ...master, fingerprint }
}

/** An id derived from the key (an HMAC, so it reveals nothing about it): stable across restarts. */
function fingerprintId(base64: string): string {
  return `mk-${createHmac('sha256', base64.trim()).update('portcullis master key id').digest('hex').slice(0, 12)}`
}

/** Undefined when the file does not exist and `required` is false. */
async function readKeyFile(file: string, required: boolean): Promise<MasterKey[] | undefined> {
  let text: string
  try {
    const info = await stat(file)
    if (process.platform !== 'win32' && (info.mode & 0o007) !== 0) {
      throw new PortcullisError('CONFIG_INVALID', `the master key file ${file} is readable by others; chmod 600 (or 640) it`)
    }
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !required) return undefined
    if (err instanceof PortcullisError) throw err
    throw new PortcullisError('CONFIG_INVALID', `cannot read the master key file ${file}: ${(err as Error).message}`, { cause: err })
  }
  return parseKeyFile(text, file)
}

function parseKeyFile(text: string, file: string): MasterKey[] {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    throw new PortcullisError('CONFIG_INVALID', `the master key file ${file} is not valid JSON`)
  }
  const entries = isObject(doc) && Array.isArray(doc.keys) ? (doc.keys as unknown[]) : [doc]
  return entries.map((entry, i) => {
    if (!isObject(entry) || typeof entry.keyId !== 'string' || typeof entry.key !== 'string') {
      throw new PortcullisError('CONFIG_INVALID', `the master key file ${file}: entry ${i} must be {"keyId", "key"}`)
    }
    return toMasterKey(entry.keyId, entry.key, `the master key file ${file}, key ${entry.keyId}`)
  })
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** Exclusive create: a second replica racing the first on one data directory reads its key. */
async function generateKeyFile(dataDir: string, file: string): Promise<Keyring> {
  const entry = newKeyFileEntry(`mk-${randomBytes(6).toString('hex')}`)
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  try {
    const handle = await open(file, 'wx', 0o600)
    try {
      await handle.writeFile(`${JSON.stringify({ keys: [entry] }, null, 2)}\n`)
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      const theirs = await readKeyFile(file, true)
      return keyring(theirs ?? [], file)
    }
    throw err
  }
  return keyring([toMasterKey(entry.keyId, entry.key, file, 'generated')], file)
}
