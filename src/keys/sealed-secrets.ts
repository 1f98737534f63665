/**
 * Where sealed secrets live in the store, and how each record is re-wrapped: the one list that
 * `keys status` counts and `keys rotate` walks. A collection that starts holding a SealedSecret
 * must be added here, or rotation would leave it under the old key (and `keys status` would show
 * that key still in use, which is how a missed one is noticed).
 *
 *   accessKeys  secret                                           (static passwords derive from it)
 *   instances   backend.passwordSealed, serverCertificate.privateKeySealed
 */
import { rewrap } from '../auth/envelope'
import { rewrapInstanceSecrets } from '../instances/instance-secrets'
import { GLOBAL_SCOPE, type AccessKeyRecord, type InstanceRecord, type SealedSecret } from '../store/records'
import type { Store } from '../store/store'
import type { MasterKeyring } from './master-key'

export interface SealedRef {
  collection: 'accessKeys' | 'instances'
  id: string
}

/** The key ids of every sealed secret in the store, one entry per secret. */
export async function sealedSecrets(store: Store): Promise<Array<SealedRef & { keyId: string }>> {
  const out: Array<SealedRef & { keyId: string }> = []
  for (const record of await store.list('accessKeys', GLOBAL_SCOPE)) {
    out.push({ collection: 'accessKeys', id: record.id, keyId: record.secret.keyId })
  }
  for (const record of await store.list('instances', GLOBAL_SCOPE)) {
    for (const sealed of instanceSealed(record)) out.push({ collection: 'instances', id: record.id, keyId: sealed.keyId })
  }
  return out
}

/** Secrets per master key id. */
export function countByKey(secrets: ReadonlyArray<{ keyId: string }>): Map<string, number> {
  const counts = new Map<string, number>()
  for (const { keyId } of secrets) counts.set(keyId, (counts.get(keyId) ?? 0) + 1)
  return counts
}

/**
 * Re-wraps one record's secrets under the current key, compare-and-set (a concurrent write wins
 * and is looked at again). Answers how many secrets were re-wrapped (0: already current or gone).
 * Throws when a secret does not open (its key is not loaded, or it was tampered with).
 */
export async function rewrapRecord(store: Store, keyring: MasterKeyring, ref: SealedRef): Promise<number> {
  const target = keyring.current.id
  let count = 0
  if (ref.collection === 'accessKeys') {
    await store.update('accessKeys', GLOBAL_SCOPE, ref.id, (current: AccessKeyRecord | undefined) => {
      count = 0
      if (current === undefined || current.secret.keyId === target) return undefined
      count = 1
      return { ...current, secret: rewrap(keyring, current.secret) }
    })
    return count
  }
  await store.update('instances', GLOBAL_SCOPE, ref.id, (current: InstanceRecord | undefined) => {
    count = 0
    if (current === undefined) return undefined
    count = instanceSealed(current).filter((s) => s.keyId !== target).length
    return count === 0 ? undefined : rewrapInstanceSecrets(current, keyring)
  })
  return count
}

function instanceSealed(record: InstanceRecord): SealedSecret[] {
  const out: SealedSecret[] = []
  if (record.backend.passwordSealed !== undefined) out.push(record.backend.passwordSealed)
  if (record.serverCertificate?.privateKeySealed !== undefined) out.push(record.serverCertificate.privateKeySealed)
  return out
}
