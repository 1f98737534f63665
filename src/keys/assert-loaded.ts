import { PortcullisError } from '../errors'
import type { Store } from '../store/store'
import type { MasterKeyring } from './master-key'
import { countByKey, sealedSecrets } from './sealed-secrets'

/**
 * At start: every master key a stored secret is sealed under must be loaded. Otherwise those
 * secrets (AccessKeys, backend passwords, server private keys) could not be opened, and the
 * gateway would refuse their logins one by one while looking healthy; it refuses to start
 * instead, naming the missing keys and what they seal, so an operator who removed a key too
 * early (before `keys rotate` finished) puts it back.
 */
export async function assertSealedKeysLoaded(store: Store, keyring: MasterKeyring): Promise<void> {
  const missing = [...countByKey(await sealedSecrets(store))].filter(([keyId]) => keyring.byId(keyId) === undefined)
  if (missing.length === 0) return
  const list = missing.map(([keyId, n]) => `${keyId} (${n} secret${n === 1 ? '' : 's'})`).join(', ')
  throw new PortcullisError('CONFIG_INVALID',
    `stored secrets are sealed under master key(s) that are not loaded: ${list}; loaded: ${keyring.ids.join(', ')}. ` +
    'Load the missing key (masterKey.previous, or the key file) and run `portcullis keys rotate` before removing it')
}
