import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { PortcullisError } from '../errors'
import type { EnvSecrets } from '../config/load'
import type { KeyResolver } from './signing'

/**
 * The root AccessKey (DESIGN §3): from PORTCULLIS_ROOT_ACCESS_KEY_ID / _SECRET, else generated on
 * first start and written once to `<dataDir>/root-access-key.json` with mode 0600. "Once": the file
 * is created exclusively and never rewritten, so a restart (or a second replica racing the first)
 * keeps the key operators already hold. The secret is never logged; callers log `file` only.
 */
export const ROOT_KEY_FILE = 'root-access-key.json'

export interface RootAccessKey {
  accessKeyId: string
  accessKeySecret: string
  source: 'env' | 'file' | 'generated'
  /** Where the key lives when it came from (or went to) the data directory. */
  file?: string
}

interface RootKeyFile {
  accessKeyId: string
  accessKeySecret: string
  createdAt: string
}

export function rootKeyPath(dataDir: string): string {
  return resolve(join(dataDir, ROOT_KEY_FILE))
}

export async function loadOrCreateRootKey(opts: { dataDir: string; secrets: EnvSecrets }): Promise<RootAccessKey> {
  const { rootAccessKeyId: id, rootAccessKeySecret: secret } = opts.secrets
  if (id !== undefined || secret !== undefined) {
    if (id === undefined || secret === undefined) {
      throw new PortcullisError('CONFIG_INVALID', 'set both PORTCULLIS_ROOT_ACCESS_KEY_ID and PORTCULLIS_ROOT_ACCESS_KEY_SECRET, or neither')
    }
    return { accessKeyId: id, accessKeySecret: secret, source: 'env' }
  }
  const file = rootKeyPath(opts.dataDir)
  const existing = await readRootKeyFile(file)
  if (existing !== undefined) return { ...existing, source: 'file', file }
  const generated: RootKeyFile = {
    accessKeyId: `PCROOT${randomBytes(9).toString('hex').toUpperCase()}`,
    accessKeySecret: randomBytes(24).toString('base64url'),
    createdAt: new Date().toISOString(),
  }
  await mkdir(opts.dataDir, { recursive: true, mode: 0o700 })
  try {
    const handle = await open(file, 'wx', 0o600)
    try {
      await handle.writeFile(`${JSON.stringify(generated, null, 2)}\n`)
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch (err) {
    // Another process created it between our read and our write: theirs is the key.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      const theirs = await readRootKeyFile(file)
      if (theirs !== undefined) return { ...theirs, source: 'file', file }
    }
    throw err
  }
  return { accessKeyId: generated.accessKeyId, accessKeySecret: generated.accessKeySecret, source: 'generated', file }
}

/** Reads a root key file; undefined when it does not exist. Used by the CLI too. */
export async function readRootKeyFile(file: string): Promise<{ accessKeyId: string; accessKeySecret: string } | undefined> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new PortcullisError('CONFIG_INVALID', `${file} is not valid JSON`)
  }
  const rec = parsed as Partial<RootKeyFile> | null
  if (typeof rec?.accessKeyId !== 'string' || typeof rec.accessKeySecret !== 'string') {
    throw new PortcullisError('CONFIG_INVALID', `${file} must hold accessKeyId and accessKeySecret`)
  }
  return { accessKeyId: rec.accessKeyId, accessKeySecret: rec.accessKeySecret }
}

/** True when group or others may read the key file (the operator should chmod 600 it). */
export async function rootKeyFileTooOpen(file: string): Promise<boolean> {
  const info = await stat(file)
  return (info.mode & 0o077) !== 0
}

/** A resolver that knows the root key only (key-resolver.ts adds the stored AccessKeys). */
export function rootKeyResolver(root: Pick<RootAccessKey, 'accessKeyId' | 'accessKeySecret'>): KeyResolver {
  return async (accessKeyId) => (accessKeyId === root.accessKeyId ? { secret: root.accessKeySecret } : undefined)
}
