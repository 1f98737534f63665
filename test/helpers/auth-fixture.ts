import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AccessKeyService } from '../../src/auth/access-keys'
import { loadMasterKey, type MasterKeyring } from '../../src/auth/master-key'
import { EmbeddedStore } from '../../src/store/embedded'
// tap declares its Test type in a global `tap` namespace; this import loads it.
import type {} from 'tap'

export interface AuthStore {
  /** The temp directory: the store lives in `data/`, the master key file (if any) at the top. */
  dir: string
  store: EmbeddedStore
  keyring: MasterKeyring
  keys: AccessKeyService
}

export interface AuthStoreOptions {
  /** Prefix of the temp directory, so a leftover names the test file that made it. */
  tmpPrefix: string
  /** Id of the fresh random master key; left out, loadMasterKey picks its default. */
  masterKeyId?: string
}

/**
 * An embedded store in a temp directory, a fresh random master key and the AccessKey service over
 * them; the service, the store and the directory are closed and removed when the test ends.
 */
export async function authStore(t: tap.Test, opts: AuthStoreOptions): Promise<AuthStore> {
  const dir = await mkdtemp(join(tmpdir(), opts.tmpPrefix))
  const store = await EmbeddedStore.open({ dataDir: join(dir, 'data') })
  const masterKey = randomBytes(32).toString('base64')
  const keyring = await loadMasterKey(opts.masterKeyId === undefined ? { masterKey, dataDir: dir } : { masterKey, masterKeyId: opts.masterKeyId, dataDir: dir })
  const keys = new AccessKeyService(store, keyring)
  t.teardown(async () => {
    keys.close()
    await store.close()
    await rm(dir, { recursive: true, force: true })
  })
  return { dir, store, keyring, keys }
}
