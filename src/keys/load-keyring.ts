/**
 * Builds the keyring from `masterKey` (DESIGN §4) — or, when the config names none, from the
 * wave-1 sources (auth/master-key.ts: environment, key file, a generated development key).
 *
 * Order: every `previous` source's keys, then the configured source's; the last key is current.
 * A configured source that cannot be read, a token that cannot be reached, a PIN variable that is
 * unset: CONFIG_INVALID naming the source. Nothing here ever generates a key for a configured
 * source, so a missing HSM or key file cannot turn into secrets sealed under a key nobody holds.
 */
import { dedupeKeys, envMasterKey, loadMasterKey, readMasterKeyFile } from '../auth/master-key'
import type { EnvSecrets } from '../config/load'
import type { MasterKeyConfig, MasterKeySourceConfig } from '../config/schema'
import { PortcullisError } from '../errors'
import { Keyring, MASTER_KEY_ID, type MasterKey } from './master-key'
import { openPkcs11Key } from './pkcs11-key'

export interface KeyringSources {
  masterKey: MasterKeyConfig | undefined
  secrets: EnvSecrets
  /** Reads a named environment variable (the PKCS#11 PIN); the config layer hands it in. */
  readEnv: (name: string) => string | undefined
  dataDir: string
}

export async function loadKeyring(sources: KeyringSources): Promise<Keyring> {
  const { masterKey, secrets } = sources
  if (masterKey === undefined) {
    return loadMasterKey({
      ...(secrets.masterKey !== undefined ? { masterKey: secrets.masterKey } : {}),
      ...(secrets.masterKeyId !== undefined ? { masterKeyId: secrets.masterKeyId } : {}),
      ...(secrets.masterKeyFile !== undefined ? { masterKeyFile: secrets.masterKeyFile } : {}),
      dataDir: sources.dataDir,
    })
  }
  const opened: MasterKey[] = []
  try {
    for (const source of [...masterKey.previous, masterKey]) opened.push(...await keysOf(source, sources))
    const file = masterKey.provider === 'file' ? masterKey.path : undefined
    return new Keyring(dedupeKeys(opened), file)
  } catch (err) {
    for (const key of opened) key.close()
    throw err
  }
}

async function keysOf(source: MasterKeySourceConfig, sources: KeyringSources): Promise<MasterKey[]> {
  switch (source.provider) {
    case 'env': {
      const { masterKey, masterKeyId } = sources.secrets
      if (masterKey === undefined) throw new PortcullisError('CONFIG_INVALID', 'masterKey.provider is env, but PORTCULLIS_MASTER_KEY is not set')
      return [envMasterKey(masterKey, masterKeyId)]
    }
    case 'file':
      return readMasterKeyFile(source.path)
    case 'pkcs11': {
      const id = source.keyId ?? source.keyLabel
      if (!MASTER_KEY_ID.test(id)) {
        throw new PortcullisError('CONFIG_INVALID', `masterKey: the PKCS#11 key label ${JSON.stringify(source.keyLabel)} is not a valid key id; set keyId (letters, digits, _ . -)`)
      }
      const pin = sources.readEnv(source.pinEnv)
      if (pin === undefined || pin === '') {
        throw new PortcullisError('CONFIG_INVALID', `masterKey ${id}: the token PIN variable ${source.pinEnv} is not set`)
      }
      return [openPkcs11Key({ id, module: source.module, tokenLabel: source.tokenLabel, keyLabel: source.keyLabel, pin })]
    }
  }
}
