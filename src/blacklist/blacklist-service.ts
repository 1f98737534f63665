import { randomBytes } from 'node:crypto'
import { PortcullisError } from '../errors'
import { parseOrThrow } from '../instances/instance-schema'
import { GLOBAL_SCOPE, type BlacklistRecord } from '../store/records'
import type { Store } from '../store/store'
import {
  blacklistAddSchema, canonicalExpiry, canonicalValue, entryView, isExpired,
  type BlacklistAddInput, type BlacklistEntryView, type BlacklistKind,
} from './blacklist-entry'

/**
 * The account blacklist's management side (DESIGN §1 "Account blacklist", §3 `/v1/blacklist`).
 *
 * Every entry lives in collection `blacklist` under GLOBAL_SCOPE, whatever instance it names: the
 * entry's own `instanceId` scopes it, and the data path (proxy/blacklist-cache.ts) loads the whole
 * list from that one scope and reloads it on every change event. Refusing new connections and
 * closing live sessions is the data path's reaction to those events; this service only writes.
 *
 * Choices:
 * - A duplicate — same kind, same normalised value, same instanceId (or both global), and still
 *   in force — is refused with ALREADY_EXISTS naming the entry that exists, rather than answered
 *   with it: the caller's reason and expiry would otherwise be silently dropped. An expired entry
 *   is no duplicate; a global entry and an instance-scoped one for the same value are distinct.
 * - `list` leaves out expired entries unless `includeExpired` (they no longer apply, DESIGN §1
 *   "an expired entry stops applying by itself"); every view carries `expired` all the same.
 * - `purgeExpired` deletes entries expired for more than PURGE_AFTER_MS, so an operator can still
 *   see for a day which bans lapsed before the housekeeping forgets them.
 */
export const PURGE_AFTER_MS = 24 * 60 * 60 * 1000
/** A store lock, so that two replicas cannot both pass the duplicate check for the same entry. */
const LOCK = 'blacklist'
const MAX_ACTOR_LENGTH = 256

export interface BlacklistFilter {
  /** Entries scoped to exactly this instance (global entries have no instanceId). */
  instanceId?: string
  kind?: BlacklistKind
  includeExpired?: boolean
}

export class BlacklistService {
  constructor(
    private readonly store: Store,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Validates, normalises and stores a new entry; `actor` is who added it (the signing AccessKey id). */
  async add(input: BlacklistAddInput, actor: string): Promise<BlacklistEntryView> {
    const body = parseOrThrow(blacklistAddSchema, input, 'blacklist entry')
    if (actor.length === 0 || actor.length > MAX_ACTOR_LENGTH) throw new PortcullisError('VALIDATION_FAILED', 'actor must be a non-empty id')
    const nowMs = this.now().getTime()
    const value = canonicalValue(body.kind, body.value)
    const expiresAt = body.expiresAt === undefined ? undefined : canonicalExpiry(body.expiresAt, nowMs)
    if (body.instanceId !== undefined && (await this.store.get('instances', GLOBAL_SCOPE, body.instanceId)) === undefined) {
      throw new PortcullisError('NOT_FOUND', `instance ${body.instanceId} does not exist`)
    }
    const record: BlacklistRecord = {
      id: `bl-${randomBytes(8).toString('hex')}`,
      kind: body.kind,
      value,
      ...(body.instanceId !== undefined ? { instanceId: body.instanceId } : {}),
      ...(body.reason !== undefined && body.reason !== '' ? { reason: body.reason } : {}),
      actor,
      ...(expiresAt !== undefined ? { expiresAt } : {}),
      createdAt: new Date(nowMs).toISOString(),
    }
    return this.store.withLock(LOCK, async () => {
      const existing = (await this.store.list('blacklist', GLOBAL_SCOPE)).find((r) => sameTarget(r, record) && !isExpired(r, nowMs))
      if (existing !== undefined) {
        throw new PortcullisError('ALREADY_EXISTS', `${record.kind} ${record.value} is already blacklisted ${scopeText(record)} by entry ${existing.id}`)
      }
      await this.store.create('blacklist', GLOBAL_SCOPE, record.id, record)
      return entryView(record, nowMs)
    })
  }

  /** Entries sorted by id (the admin API's page key), filtered as asked. */
  async list(filter: BlacklistFilter = {}): Promise<BlacklistEntryView[]> {
    const nowMs = this.now().getTime()
    return (await this.store.list('blacklist', GLOBAL_SCOPE))
      .filter((r) => filter.instanceId === undefined || r.instanceId === filter.instanceId)
      .filter((r) => filter.kind === undefined || r.kind === filter.kind)
      .map((r) => entryView(r, nowMs))
      .filter((v) => filter.includeExpired === true || !v.expired)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  /** One entry, expired or not. */
  async get(id: string): Promise<BlacklistEntryView> {
    const record = await this.store.get('blacklist', GLOBAL_SCOPE, id)
    if (record === undefined) throw notFound(id)
    return entryView(record, this.now().getTime())
  }

  /** Deletes the entry and answers it as it was; connections it refused may come back. */
  async remove(id: string): Promise<BlacklistEntryView> {
    const before = await this.store.take('blacklist', GLOBAL_SCOPE, id)
    if (before === undefined) throw notFound(id)
    return entryView(before, this.now().getTime())
  }

  /**
   * Housekeeping for the composition root to run periodically: deletes the entries expired for
   * more than PURGE_AFTER_MS and answers them. Matching never depends on it (expiry is checked at
   * match time); it only keeps the list from growing without end.
   */
  async purgeExpired(): Promise<BlacklistEntryView[]> {
    const nowMs = this.now().getTime()
    const purged: BlacklistEntryView[] = []
    for (const record of await this.store.list('blacklist', GLOBAL_SCOPE)) {
      if (record.expiresAt === undefined || Date.parse(record.expiresAt) > nowMs - PURGE_AFTER_MS) continue
      if (await this.store.delete('blacklist', GLOBAL_SCOPE, record.id)) purged.push(entryView(record, nowMs))
    }
    return purged
  }
}

function sameTarget(a: BlacklistRecord, b: BlacklistRecord): boolean {
  return a.kind === b.kind && a.value === b.value && a.instanceId === b.instanceId
}

function scopeText(record: BlacklistRecord): string {
  return record.instanceId === undefined ? 'globally' : `on instance ${record.instanceId}`
}

function notFound(id: string): PortcullisError {
  return new PortcullisError('NOT_FOUND', `blacklist entry ${id} does not exist`)
}
