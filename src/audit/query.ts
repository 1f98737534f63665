import type { Logger } from 'pino'
import { PortcullisError } from '../errors'
import type { AuditEvent } from './event'
import { typeMatcher, type AuditFilter } from './filter'
import { RedisAuditQuery } from './redis-query'
import { streamPlace, type AuditStoreConfig } from './redis-stream-place'
import type { AuditSinkSpec } from './sinks'

export type { AuditFilter } from './filter'

/** DESIGN §3 `GET /v1/audit?…&limit`: 100 unless asked, never more than 1000 in one answer. */
export const DEFAULT_QUERY_LIMIT = 100
export const MAX_QUERY_LIMIT = 1000

export interface AuditQueryResult {
  /** Matching events, oldest first: the most recent `limit` of them. */
  items: AuditEvent[]
  /**
   * True when the source stopped reading at its scan cap before finding `limit` matches: older
   * matches may exist. Narrow the time range (`since`/`until`) to reach them.
   */
  scanLimitReached?: boolean
}

/** What a live tail filters on: time bounds make no sense for events that have not happened yet. */
export type LiveFilter = Pick<AuditFilter, 'type' | 'instanceId'>

/**
 * Where `GET /v1/audit` and `GET /v1/audit/stream` read audit events from (DESIGN §3): this
 * process's in-memory ring (LocalAuditQuery), or the Redis stream that every replica writes to
 * (RedisAuditQuery), so that one replica answers for all of them.
 */
export interface AuditQuery {
  readonly source: 'local' | 'redis-stream'
  /** Throws VALIDATION_FAILED on a bad bound or limit, STORE_UNAVAILABLE when the source is down. */
  query(filter: AuditFilter): Promise<AuditQueryResult>
  /**
   * Calls `listener` with every matching event recorded once the promise resolved, until the
   * resolved function is called. The listener must not throw and must not block (the SSE route
   * writes and returns). Rejects STORE_UNAVAILABLE when the source is down.
   */
  live(filter: LiveFilter, listener: (event: AuditEvent) => void): Promise<() => void>
  close(): Promise<void>
}

/** The part of AuditLog a LocalAuditQuery reads. */
export interface LocalAuditSource {
  recent(filter: AuditFilter): AuditEvent[]
  subscribe(listener: (event: AuditEvent) => void): () => void
}

/** The limit a query asks for, checked: a positive integer up to MAX_QUERY_LIMIT. */
export function queryLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_QUERY_LIMIT
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_QUERY_LIMIT) {
    throw new PortcullisError('VALIDATION_FAILED', `limit must be an integer from 1 to ${MAX_QUERY_LIMIT}, got ${limit}`)
  }
  return limit
}

/** A predicate for live events (type and instance only). */
export function liveMatcher(filter: LiveFilter): (event: AuditEvent) => boolean {
  const matchesType = typeMatcher(filter.type)
  return (event) => matchesType(event.type) && (filter.instanceId === undefined || event.instanceId === filter.instanceId)
}

/**
 * The embedded case: one gateway process, whose AuditLog keeps the recent events in a bounded ring
 * (config `audit.recentEvents`). Older events are in the file or stdout sinks, not queryable here.
 */
export class LocalAuditQuery implements AuditQuery {
  readonly source = 'local' as const

  constructor(private readonly log: LocalAuditSource) {}

  async query(filter: AuditFilter): Promise<AuditQueryResult> {
    return { items: this.log.recent({ ...filter, limit: queryLimit(filter.limit) }) }
  }

  async live(filter: LiveFilter, listener: (event: AuditEvent) => void): Promise<() => void> {
    const matches = liveMatcher(filter)
    return this.log.subscribe((event) => {
      if (matches(event)) listener(event)
    })
  }

  async close(): Promise<void> {
    // The ring belongs to the AuditLog, which closes itself.
  }
}

/**
 * A live tail that starts with the history from `filter.since` (for `audit tail --since`), with no
 * event lost or repeated at the seam: it subscribes first and holds live events while the history
 * is read, then hands over the history, then the held events it did not contain, then goes live.
 * Without `since` it is `live` alone. Throws what `query` throws (before any event is delivered).
 */
export async function followAudit(
  source: AuditQuery,
  filter: AuditFilter,
  listener: (event: AuditEvent) => void,
): Promise<() => void> {
  const live: LiveFilter = {
    ...(filter.type !== undefined ? { type: filter.type } : {}),
    ...(filter.instanceId !== undefined ? { instanceId: filter.instanceId } : {}),
  }
  if (filter.since === undefined) return source.live(live, listener)
  // Held for the length of one bounded query only; a burst beyond the cap is the slow-reader case
  // the SSE stream handles by disconnecting, so hold at most MAX_QUERY_LIMIT × 10 here.
  let held: AuditEvent[] | undefined = []
  let overflow = false
  const stop = await source.live(live, (event) => {
    if (held === undefined) return listener(event)
    if (held.length < MAX_QUERY_LIMIT * 10) held.push(event)
    else overflow = true
  })
  try {
    const { items } = await source.query({ ...live, since: filter.since, limit: queryLimit(filter.limit) })
    const seen = new Set(items.map((event) => event.id))
    for (const event of items) listener(event)
    for (const event of held) if (!seen.has(event.id)) listener(event)
    held = undefined
    if (overflow) throw new PortcullisError('CONFLICT', 'too many audit events arrived while the history was read; retry')
    return stop
  } catch (err) {
    stop()
    throw err
  }
}

export interface AuditQueryWiring {
  /** This process's audit log: the source when no redis-stream sink is configured. */
  audit: LocalAuditSource
  /** config `audit.sinks`. */
  sinks: readonly AuditSinkSpec[]
  /** config `store`: a redis-stream sink without `url` writes to a Redis store of any topology. */
  store?: AuditStoreConfig | undefined
  /** Or only the store's Redis URL (embedding, tests). */
  redisUrl?: string | undefined
  logger?: Logger
}

/**
 * Picks the source for the admin API: the first redis-stream sink when one is configured (the
 * place its sink writes to, redis-stream-place.ts), so that every replica answers for all; else
 * the local ring.
 */
export function createAuditQuery(wiring: AuditQueryWiring): AuditQuery {
  const stream = wiring.sinks.find((spec) => spec.kind === 'redis-stream')
  const place = stream?.kind === 'redis-stream' ? streamPlace(stream, wiring.store, wiring.redisUrl) : undefined
  if (place === undefined) return new LocalAuditQuery(wiring.audit)
  return new RedisAuditQuery({
    target: place.target, key: place.key,
    ...(wiring.logger !== undefined ? { logger: wiring.logger } : {}),
  })
}
