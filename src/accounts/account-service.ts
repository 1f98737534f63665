/**
 * Accounts (DESIGN §4 "Accounts and authorization"): collection `accounts`, scope GLOBAL_SCOPE,
 * id = the account id. AccessKeys belong to an account; the policies attached to the account (and
 * to the key itself) say what the key may do on the admin API.
 *
 * - `root` always exists and is never stored: `get`/`list` synthesise it (no parent, the epoch as
 *   its times). It cannot be created or deleted, and its keys are granted everything. `legacy`
 *   (the keys written before accounts existed, account-ids.ts) is synthesised the same way, under
 *   `root`, and is granted only what is attached to it.
 * - An account without `parentId` sits directly under `root`; a sub-account names a parent that
 *   exists when it is created. Accounts are never re-parented, so the tree has no cycles.
 * - Deleting an account is refused (ACCOUNT_IN_USE) while it has sub-accounts or AccessKeys; its
 *   `account:<id>` policy attachments go with it.
 *
 * Every write that must see another one runs under ACCOUNTS_LOCK: account create and delete, and
 * AccessKey creation under an account (`withAccount`), so a key is never created in an account
 * that is being deleted, nor an account deleted that just got a key.
 */
import { z } from 'zod'
import { PortcullisError } from '../errors'
import { parseOrThrow } from '../instances/instance-schema'
import { GLOBAL_SCOPE, type AccountRecord } from '../store/records'
import type { Store } from '../store/store'
import { ACCOUNT_ID, accountOfKey, LEGACY_ACCOUNT_ID, ROOT_ACCOUNT_ID } from './account-ids'
import { ACCOUNTS_LOCK } from './locks'
import { removeAttachmentsOf } from './attachments'

const MAX_DISPLAY_NAME = 256
/** A walk up the tree stops here: deeper than any real hierarchy, and it bounds a corrupt store. */
const MAX_DEPTH = 64
const EPOCH = new Date(0).toISOString()

export const createSchema = z.strictObject({
  id: z.string().regex(ACCOUNT_ID, 'letters, digits, _ . - (at most 64, starting with a letter or digit)'),
  displayName: z.string().min(1).max(MAX_DISPLAY_NAME).regex(/^[^\u0000-\u001f\u007f]*$/, 'no control characters').optional(),
  parentId: z.string().regex(ACCOUNT_ID, 'an account id').optional(),
})

export interface AccountView {
  id: string
  displayName?: string
  parentId?: string
  createdAt: string
  updatedAt: string
}

export interface AccountChange {
  before?: AccountView
  after?: AccountView
}

export interface AccountServiceOptions {
  now?: () => Date
}

const ROOT_RECORD: AccountRecord = { id: ROOT_ACCOUNT_ID, displayName: 'root', createdAt: EPOCH, updatedAt: EPOCH }
const LEGACY_RECORD: AccountRecord = { id: LEGACY_ACCOUNT_ID, displayName: 'AccessKeys created before accounts existed', createdAt: EPOCH, updatedAt: EPOCH }
const BUILT_IN = new Map([[ROOT_ACCOUNT_ID, ROOT_RECORD], [LEGACY_ACCOUNT_ID, LEGACY_RECORD]])

export function accountView(record: AccountRecord): AccountView {
  return {
    id: record.id,
    ...(record.displayName !== undefined ? { displayName: record.displayName } : {}),
    ...(record.parentId !== undefined ? { parentId: record.parentId } : {}),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  }
}

export class AccountService {
  private readonly now: () => Date

  constructor(private readonly store: Store, opts: AccountServiceOptions = {}) {
    this.now = opts.now ?? (() => new Date())
  }

  /** `input` is the request body as received: `{id, displayName?, parentId?}`. */
  async create(input: unknown): Promise<AccountChange & { record: AccountRecord }> {
    const body = parseOrThrow(createSchema, input, 'account')
    if (BUILT_IN.has(body.id)) throw new PortcullisError('ALREADY_EXISTS', `the ${body.id} account always exists; it cannot be created`)
    return this.store.withLock(ACCOUNTS_LOCK, async () => {
      if (body.parentId !== undefined && (await this.find(body.parentId)) === undefined) {
        throw new PortcullisError('NOT_FOUND', `parentId: account ${body.parentId} does not exist`)
      }
      const time = this.now().toISOString()
      // A parent of `root` is the same as none: both mean "directly under root".
      const parentId = body.parentId === ROOT_ACCOUNT_ID ? undefined : body.parentId
      const record: AccountRecord = {
        id: body.id,
        ...(body.displayName !== undefined ? { displayName: body.displayName } : {}),
        ...(parentId !== undefined ? { parentId } : {}),
        createdAt: time,
        updatedAt: time,
      }
      try {
        await this.store.create('accounts', GLOBAL_SCOPE, record.id, record)
      } catch (err) {
        if (err instanceof PortcullisError && err.code === 'ALREADY_EXISTS') throw new PortcullisError('ALREADY_EXISTS', `account ${record.id} already exists`)
        throw err
      }
      return { record, after: accountView(record) }
    })
  }

  /** Every account, the built-in `root` and `legacy` first, then by id. */
  async list(): Promise<AccountView[]> {
    const stored = await this.store.list('accounts', GLOBAL_SCOPE)
    stored.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    return [ROOT_RECORD, LEGACY_RECORD, ...stored].map(accountView)
  }

  async get(id: string): Promise<AccountView> {
    const record = await this.find(id)
    if (record === undefined) throw new PortcullisError('NOT_FOUND', `account ${id} does not exist`)
    return accountView(record)
  }

  /** The record, the built-in ones included; undefined when there is no such account. */
  async find(id: string): Promise<AccountRecord | undefined> {
    const builtIn = BUILT_IN.get(id)
    if (builtIn !== undefined) return builtIn
    if (!ACCOUNT_ID.test(id)) return undefined
    return this.store.get('accounts', GLOBAL_SCOPE, id)
  }

  /**
   * Deletes the account and its `account:<id>` attachments. Refused for `root`, and with
   * ACCOUNT_IN_USE while it has sub-accounts or AccessKeys (deleting those first is a decision the
   * operator makes one by one, not one this call makes for them).
   */
  async delete(id: string): Promise<AccountChange & { detachedPolicies: string[] }> {
    if (BUILT_IN.has(id)) throw new PortcullisError('VALIDATION_FAILED', `the ${id} account always exists and cannot be deleted`)
    return this.store.withLock(ACCOUNTS_LOCK, async () => {
      const record = await this.find(id)
      if (record === undefined) throw new PortcullisError('NOT_FOUND', `account ${id} does not exist`)
      const children = (await this.store.list('accounts', GLOBAL_SCOPE)).filter((a) => a.parentId === id).map((a) => a.id)
      const keys = (await this.store.list('accessKeys', GLOBAL_SCOPE)).filter((k) => accountOfKey(k) === id).map((k) => k.id)
      if (children.length > 0 || keys.length > 0) {
        const held = [
          ...(children.length > 0 ? [`${children.length} sub-account(s) (${sample(children)})`] : []),
          ...(keys.length > 0 ? [`${keys.length} AccessKey(s) (${sample(keys)})`] : []),
        ]
        throw new PortcullisError('ACCOUNT_IN_USE', `account ${id} still has ${held.join(' and ')}; delete them first`)
      }
      await this.store.delete('accounts', GLOBAL_SCOPE, id)
      const detachedPolicies = await removeAttachmentsOf(this.store, `account:${id}`)
      return { before: accountView(record), detachedPolicies }
    })
  }

  /**
   * Runs `fn` while `accountId` is known to exist and cannot be deleted: how an AccessKey is
   * created in an account (NOT_FOUND naming `accountId` otherwise).
   */
  async withAccount<T>(accountId: string, fn: () => Promise<T>): Promise<T> {
    return this.store.withLock(ACCOUNTS_LOCK, async () => {
      if ((await this.find(accountId)) === undefined) throw new PortcullisError('NOT_FOUND', `accountId: account ${accountId} does not exist`)
      return fn()
    })
  }

  /**
   * True when `accountId` is `ancestorId` or one of its descendants (every account is under
   * `root`). A missing account, or a chain longer than MAX_DEPTH, answers false: fail closed.
   */
  async isWithin(accountId: string, ancestorId: string): Promise<boolean> {
    if (ancestorId === ROOT_ACCOUNT_ID) return (await this.find(accountId)) !== undefined
    let current: string | undefined = accountId
    for (let depth = 0; current !== undefined && depth < MAX_DEPTH; depth++) {
      if (current === ancestorId) return true
      if (current === ROOT_ACCOUNT_ID) return false
      const record: AccountRecord | undefined = await this.find(current)
      if (record === undefined) return false
      current = record.parentId ?? ROOT_ACCOUNT_ID
    }
    return false
  }
}

function sample(ids: string[]): string {
  return ids.length <= 3 ? ids.join(', ') : `${ids.slice(0, 3).join(', ')}, …`
}
