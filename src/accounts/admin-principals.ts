import { GLOBAL_SCOPE } from '../store/records'
import type { Store } from '../store/store'
import { accountOfKey } from './account-ids'

/** Who signed an admin request, as the authorizer decides it. */
export interface AdminKeyPrincipals {
  readonly accessKeyId: string
  readonly accountId: string
  /** `accessKey:<id>` and `account:<its account>`: whose attachments decide (DESIGN §4). */
  readonly principals: readonly [`accessKey:${string}`, `account:${string}`]
}

/**
 * The principals of a stored AccessKey, read from the store now; undefined when the key is not
 * (or no longer) stored, which the authorizer treats as "granted nothing".
 */
export async function principalsOfAdminKey(store: Store, accessKeyId: string): Promise<AdminKeyPrincipals | undefined> {
  const record = await store.get('accessKeys', GLOBAL_SCOPE, accessKeyId)
  if (record === undefined) return undefined
  const accountId = accountOfKey(record)
  return { accessKeyId, accountId, principals: [`accessKey:${accessKeyId}`, `account:${accountId}`] }
}
