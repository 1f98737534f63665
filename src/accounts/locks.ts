/**
 * Store locks of accounts and policies, in the one order every holder of two takes them:
 * policyLock → ACCOUNTS_LOCK or accessKeyLock (src/auth/access-keys.ts). Store locks are not
 * re-entrant; nobody takes one while holding a later one.
 */

/** Account creation and deletion, and AccessKey creation under an account. */
export const ACCOUNTS_LOCK = 'accounts'

/** A policy's document and its attachments: put, delete, attach, detach. */
export const policyLock = (name: string): string => `policy:${name}`
