import { PortcullisError } from '../errors'
import type { AuditEvent } from './event'

/** Query of the in-memory ring (`GET /v1/audit?since&until&type&instanceId&limit`). */
export interface RecentFilter {
  /** Inclusive lower bound on `time` (any Date.parse-able ISO 8601 string). */
  since?: string
  /** Exclusive upper bound on `time`. */
  until?: string
  /** Exact type, or a prefix ending in `*` (`admin.*`, `connection.*`). */
  type?: string
  instanceId?: string
  /** Most recent matches to return; default 100, capped at the ring's capacity. */
  limit?: number
}

export const DEFAULT_RECENT_LIMIT = 100

/**
 * The last `capacity` events in memory, for the admin API's audit query and for `audit tail` to
 * catch up. Bounded so that a burst of connections cannot grow the heap; older events live in the
 * sinks (file, Redis stream), which are the durable record.
 */
export class RecentRing {
  private readonly slots: (AuditEvent | undefined)[]
  private next = 0
  private size = 0

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new PortcullisError('CONFIG_INVALID', `audit ring size must be a positive integer, got ${capacity}`)
    }
    this.slots = new Array<AuditEvent | undefined>(capacity)
  }

  push(event: AuditEvent): void {
    this.slots[this.next] = event
    this.next = (this.next + 1) % this.capacity
    this.size = Math.min(this.size + 1, this.capacity)
  }

  /** Matching events, oldest first: the most recent `limit` of them. */
  query(filter: RecentFilter = {}): AuditEvent[] {
    const since = parseBound('since', filter.since)
    const until = parseBound('until', filter.until)
    const limit = Math.min(filter.limit ?? DEFAULT_RECENT_LIMIT, this.capacity)
    const matchesType = typeMatcher(filter.type)
    const out: AuditEvent[] = []
    // Walk newest to oldest so that `limit` keeps the most recent, then reverse once.
    for (let i = 1; i <= this.size && out.length < limit; i++) {
      const event = this.slots[(this.next - i + this.capacity) % this.capacity]
      if (event === undefined) break
      const time = Date.parse(event.time)
      if (since !== undefined && time < since) continue
      if (until !== undefined && time >= until) continue
      if (!matchesType(event.type)) continue
      if (filter.instanceId !== undefined && event.instanceId !== filter.instanceId) continue
      out.push(event)
    }
    return out.reverse()
  }
}

function parseBound(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const ms = Date.parse(value)
  if (Number.isNaN(ms)) throw new PortcullisError('VALIDATION_FAILED', `${name} is not an ISO 8601 time: ${value}`)
  return ms
}

function typeMatcher(type: string | undefined): (candidate: string) => boolean {
  if (type === undefined) return () => true
  if (type.endsWith('*')) {
    const prefix = type.slice(0, -1)
    return (candidate) => candidate.startsWith(prefix)
  }
  return (candidate) => candidate === type
}
