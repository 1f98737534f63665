/**
 * AccessKeys (DESIGN §3 `POST/GET/PATCH/DELETE /v1/access-keys`): collection `accessKeys`, scope
 * GLOBAL_SCOPE, id = the AccessKey id.
 *
 * - Ids are `LTAI` + 20 base62 characters and secrets 30 base62 characters, the shape of Aliyun
 *   AccessKeys, so client libraries that check the format accept ours.
 * - The secret is shown once (the `create` answer) and stored only sealed (auth/envelope) with the
 *   AccessKey id as associated data, so a sealed secret copied to another record does not open.
 * - `secretOf` runs once per AMQP connection, so decrypted secrets are cached in memory. Every
 *   change to an AccessKey, on any replica, reaches us as a store change event and drops the
 *   entry, and entries also expire after `cacheTtlMs` in case a Redis pub/sub message was lost.
 *   A disabled or deleted key therefore stops working at once (DESIGN §1).
 * - Unknown ids are remembered too (a negative cache: at most `negativeCacheSize` ids for
 *   `negativeCacheTtlMs`), and concurrent lookups of one id share one store read, so a flood of
 *   logins naming the same made-up AccessKey costs the store one read per TTL, not one per login.
 *   Creating a key (here, or on another replica: its change event) forgets its id at once.
 * - `credentialOf` answers the secret of an Inactive key as well: the authenticator checks the
 *   HMAC first and says "disabled" only to a client that proved it holds the secret.
 * - Mutations answer `{before, after}` as public views for the admin audit event; no view ever
 *   carries the secret.
 * - Every key belongs to an account (DESIGN §4 "Accounts and authorization"), `root` by default
 *   and for records written before accounts existed. Whether the account exists is the caller's
 *   to check, under the accounts lock (AccountService.withAccount), so that the check and the
 *   write cannot race an account deletion.
 */
import { ACCOUNT_ID, accountOfKey, ROOT_ACCOUNT_ID } from '../accounts/account-ids'
import { PortcullisError } from '../errors'
import { GLOBAL_SCOPE } from '../store/records'
import type { AccessKeyRecord } from '../store/records'
import type { Store } from '../store/store'
import { ACCESS_KEY_ID } from './credentials'
import { open, rewrap, seal } from './envelope'
import type { MasterKeyring } from './master-key'
import { randomBase62 } from './random-base62'

export const ACCESS_KEY_ID_PREFIX = 'LTAI'
const ID_RANDOM_CHARS = 20
const SECRET_CHARS = 30
const MAX_DESCRIPTION = 256
const DEFAULT_CACHE_TTL_MS = 30_000
const DEFAULT_NEGATIVE_CACHE_TTL_MS = 5_000
const DEFAULT_NEGATIVE_CACHE_SIZE = 10_000

export type AccessKeyStatus = AccessKeyRecord['status']

export interface AccessKeyView {
  accessKeyId: string
  status: AccessKeyStatus
  description?: string
  accountId: string
  createdAt: string
  updatedAt: string
}

export interface AccessKeyChange {
  before?: AccessKeyView
  after?: AccessKeyView
}

export interface AccessKeyServiceOptions {
  now?: () => Date
  cacheTtlMs?: number
  negativeCacheTtlMs?: number
  negativeCacheSize?: number
}

/** An AccessKey as the authenticator needs it: its secret, and whether it may log in. */
export interface AccessKeyCredential {
  readonly status: AccessKeyStatus
  readonly secret: string
}

/** The lock that AccessKey deletion and static account creation share, so neither orphans the other. */
export const accessKeyLock = (accessKeyId: string): string => `access-key:${accessKeyId}`

/** Associated data of a sealed AccessKey secret: the record it belongs to. */
const secretAad = (accessKeyId: string): string => `accessKeys/${accessKeyId}`

export function accessKeyView(record: AccessKeyRecord): AccessKeyView {
  return {
    accessKeyId: record.id,
    status: record.status,
    ...(record.description === undefined ? {} : { description: record.description }),
    accountId: accountOfKey(record),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  }
}

interface CacheEntry { status: AccessKeyStatus; secret: string; expires: number }

export class AccessKeyService {
  private readonly cache = new Map<string, CacheEntry>()
  /** Ids the store does not hold → when that answer expires (ms). Bounded, oldest dropped first. */
  private readonly absent = new Map<string, number>()
  /** Store reads in progress, shared by concurrent lookups of one id. */
  private readonly loading = new Map<string, Promise<CacheEntry | undefined>>()
  /** Bumped by every AccessKey change: a lookup that raced a change does not cache what it read. */
  private epoch = 0
  private readonly unsubscribe: () => void
  private readonly now: () => Date
  private readonly cacheTtlMs: number
  private readonly negativeTtlMs: number
  private readonly negativeSize: number

  constructor(private readonly store: Store, private readonly keyring: MasterKeyring, opts: AccessKeyServiceOptions = {}) {
    this.now = opts.now ?? (() => new Date())
    this.cacheTtlMs = opts.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS
    this.negativeTtlMs = opts.negativeCacheTtlMs ?? DEFAULT_NEGATIVE_CACHE_TTL_MS
    this.negativeSize = opts.negativeCacheSize ?? DEFAULT_NEGATIVE_CACHE_SIZE
    this.unsubscribe = store.onChange((event) => {
      if (event.collection === 'accessKeys') this.forget(event.id)
    })
  }

  /** `input` is the request body as received: `{description?, accountId?}` (default account `root`). */
  async create(input: unknown = {}): Promise<{ accessKeyId: string; accessKeySecret: string; record: AccessKeyRecord } & AccessKeyChange> {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new PortcullisError('VALIDATION_FAILED', 'an AccessKey is created from a JSON object {description?, accountId?}')
    }
    const description = parseDescription((input as { description?: unknown }).description)
    const accountId = parseAccountId((input as { accountId?: unknown }).accountId)
    const accessKeyId = ACCESS_KEY_ID_PREFIX + randomBase62(ID_RANDOM_CHARS)
    const accessKeySecret = randomBase62(SECRET_CHARS)
    const time = this.now().toISOString()
    const record: AccessKeyRecord = {
      id: accessKeyId,
      secret: seal(this.keyring, accessKeySecret, secretAad(accessKeyId)),
      status: 'Active',
      ...(description === undefined ? {} : { description }),
      accountId,
      createdAt: time,
      updatedAt: time,
    }
    await this.store.create('accessKeys', GLOBAL_SCOPE, accessKeyId, record)
    this.forget(accessKeyId)
    return { accessKeyId, accessKeySecret, record, after: accessKeyView(record) }
  }

  async list(): Promise<AccessKeyView[]> {
    const all = await this.store.list('accessKeys', GLOBAL_SCOPE)
    return all.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id)).map(accessKeyView)
  }

  async get(accessKeyId: string): Promise<AccessKeyView> {
    const record = await this.store.get('accessKeys', GLOBAL_SCOPE, accessKeyId)
    if (record === undefined) throw new PortcullisError('NOT_FOUND', `AccessKey ${accessKeyId} does not exist`)
    return accessKeyView(record)
  }

  async setStatus(accessKeyId: string, status: unknown): Promise<AccessKeyChange> {
    if (status !== 'Active' && status !== 'Inactive') {
      throw new PortcullisError('VALIDATION_FAILED', 'status must be Active or Inactive')
    }
    let before: AccessKeyRecord | undefined
    const after = await this.store.update('accessKeys', GLOBAL_SCOPE, accessKeyId, (current) => {
      before = current
      if (current === undefined || current.status === status) return undefined
      return { ...current, status, updatedAt: this.now().toISOString() }
    })
    if (before === undefined || after === undefined) throw new PortcullisError('NOT_FOUND', `AccessKey ${accessKeyId} does not exist`)
    this.forget(accessKeyId)
    return { before: accessKeyView(before), after: accessKeyView(after) }
  }

  /**
   * Deletes the AccessKey, then its static accounts on every instance (DESIGN §1: "a static user
   * stops working when its AccessKey is disabled or deleted"). The key goes first, so from that
   * moment no login with it succeeds even while the accounts are being removed.
   */
  async delete(accessKeyId: string): Promise<AccessKeyChange & { staticAccounts: Array<{ instanceId: string; userName: string }> }> {
    return this.store.withLock(accessKeyLock(accessKeyId), async () => {
      const before = await this.store.take('accessKeys', GLOBAL_SCOPE, accessKeyId)
      if (before === undefined) throw new PortcullisError('NOT_FOUND', `AccessKey ${accessKeyId} does not exist`)
      this.forget(accessKeyId)
      const staticAccounts: Array<{ instanceId: string; userName: string }> = []
      for (const instanceId of await this.store.scopes('staticAccounts')) {
        const account = await this.store.take('staticAccounts', instanceId, accessKeyId)
        if (account !== undefined) staticAccounts.push({ instanceId, userName: account.userName })
      }
      return { before: accessKeyView(before), staticAccounts }
    })
  }

  /**
   * The decrypted secret; undefined when no such AccessKey exists. An Inactive key throws
   * PortcullisError ACCESS_KEY_INACTIVE: the caller decides whether that is worth saying.
   */
  async secretOf(accessKeyId: string): Promise<string | undefined> {
    const entry = await this.credentialOf(accessKeyId)
    if (entry === undefined) return undefined
    if (entry.status === 'Inactive') throw new PortcullisError('ACCESS_KEY_INACTIVE', `AccessKey ${accessKeyId} is disabled`)
    return entry.secret
  }

  /**
   * The secret and status, Inactive keys included; undefined when no such AccessKey exists. For
   * the authenticator only, which must check the HMAC before it may say that a key is disabled.
   */
  async credentialOf(accessKeyId: string): Promise<AccessKeyCredential | undefined> {
    if (!ACCESS_KEY_ID.test(accessKeyId)) return undefined
    const entry = this.cached(accessKeyId)
    if (entry !== undefined) return entry
    if (this.knownAbsent(accessKeyId)) return undefined
    const joined = this.loading.get(accessKeyId)
    if (joined !== undefined) return joined
    const pending: Promise<CacheEntry | undefined> = this.load(accessKeyId).finally(() => {
      if (this.loading.get(accessKeyId) === pending) this.loading.delete(accessKeyId)
    })
    this.loading.set(accessKeyId, pending)
    return pending
  }

  /** After a master key rotation: re-wraps every secret sealed under an older key. Answers how many. */
  async rewrapAll(): Promise<number> {
    let count = 0
    for (const record of await this.store.list('accessKeys', GLOBAL_SCOPE)) {
      if (record.secret.keyId === this.keyring.current.id) continue
      const written = await this.store.update('accessKeys', GLOBAL_SCOPE, record.id, (current) =>
        current === undefined || current.secret.keyId === this.keyring.current.id
          ? undefined
          : { ...current, secret: rewrap(this.keyring, current.secret) })
      if (written !== undefined && written.secret.keyId === this.keyring.current.id) count++
    }
    return count
  }

  /** Forgets every cached secret (the store says changes may have been missed). */
  dropCache(): void {
    this.epoch++
    this.cache.clear()
    this.absent.clear()
    this.loading.clear()
  }

  close(): void {
    this.unsubscribe()
    this.cache.clear()
    this.absent.clear()
  }

  private cached(accessKeyId: string): CacheEntry | undefined {
    const entry = this.cache.get(accessKeyId)
    if (entry === undefined) return undefined
    if (entry.expires > Date.now()) return entry
    this.cache.delete(accessKeyId)
    return undefined
  }

  private knownAbsent(accessKeyId: string): boolean {
    const expires = this.absent.get(accessKeyId)
    if (expires === undefined) return false
    if (expires > Date.now()) return true
    this.absent.delete(accessKeyId)
    return false
  }

  private async load(accessKeyId: string): Promise<CacheEntry | undefined> {
    const epoch = this.epoch
    const record = await this.store.get('accessKeys', GLOBAL_SCOPE, accessKeyId)
    if (record === undefined) {
      if (epoch === this.epoch) this.rememberAbsent(accessKeyId)
      return undefined
    }
    const entry: CacheEntry = {
      status: record.status,
      secret: open(this.keyring, record.secret, secretAad(record.id)),
      expires: Date.now() + this.cacheTtlMs,
    }
    if (epoch === this.epoch) this.cache.set(accessKeyId, entry)
    return entry
  }

  private rememberAbsent(accessKeyId: string): void {
    if (this.negativeTtlMs <= 0 || this.negativeSize <= 0) return
    if (!this.absent.has(accessKeyId) && this.absent.size >= this.negativeSize) {
      const oldest = this.absent.keys().next()
      if (oldest.done !== true) this.absent.delete(oldest.value)
    }
    this.absent.set(accessKeyId, Date.now() + this.negativeTtlMs)
  }

  private forget(accessKeyId: string): void {
    this.epoch++
    this.cache.delete(accessKeyId)
    this.absent.delete(accessKeyId)
    // A read in flight may have started before the change: later lookups must not join it.
    this.loading.delete(accessKeyId)
  }
}

function parseAccountId(value: unknown): string {
  if (value === undefined || value === null) return ROOT_ACCOUNT_ID
  if (typeof value !== 'string' || !ACCOUNT_ID.test(value)) throw new PortcullisError('VALIDATION_FAILED', 'accountId must be an account id')
  return value
}

function parseDescription(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string' || value.length > MAX_DESCRIPTION || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new PortcullisError('VALIDATION_FAILED', `description must be text of at most ${MAX_DESCRIPTION} characters without control characters`)
  }
  return value
}
