import type { AccessKeyRecord } from '../store/records'

/** The account that always exists and is granted everything (DESIGN §4). */
export const ROOT_ACCOUNT_ID = 'root'

/** Account ids have the shape of instance ids: safe in a store key, a URL segment and a principal. */
export const ACCOUNT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/

/**
 * The built-in account of AccessKeys written before accounts existed (their records have no
 * `accountId`). Like `root` it always exists and is never stored; unlike `root` it is granted
 * nothing but what is attached to it. Before accounts, such keys were AMQP credentials that could
 * not administer: had they become `root`'s on upgrade, a key leaked from any client would have
 * opened the whole admin API. Attach policies to `account:legacy` to grant them more.
 */
export const LEGACY_ACCOUNT_ID = 'legacy'

/** Accounts that always exist, are never stored, and cannot be created or deleted. */
export const BUILT_IN_ACCOUNT_IDS: readonly string[] = [ROOT_ACCOUNT_ID, LEGACY_ACCOUNT_ID]

/** A key's account; a key written before accounts existed has no `accountId` and is `legacy`'s. */
export function accountOfKey(record: Pick<AccessKeyRecord, 'accountId'>): string {
  return record.accountId ?? LEGACY_ACCOUNT_ID
}
