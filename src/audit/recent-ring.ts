import { PortcullisError } from '../errors'
import type { AuditEvent } from './event'
import { compileFilter, type AuditFilter } from './filter'

/**
 * Query of the in-memory ring (`GET /v1/audit?since&until&type&instanceId&limit`); `limit`
 * defaults to 100 and is capped at the ring's capacity.
 */
export type RecentFilter = AuditFilter

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
    const { matches } = compileFilter(filter)
    const limit = Math.min(filter.limit ?? DEFAULT_RECENT_LIMIT, this.capacity)
    const out: AuditEvent[] = []
    // Walk newest to oldest so that `limit` keeps the most recent, then reverse once.
    for (let i = 1; i <= this.size && out.length < limit; i++) {
      const event = this.slots[(this.next - i + this.capacity) % this.capacity]
      if (event === undefined) break
      if (matches(event)) out.push(event)
    }
    return out.reverse()
  }
}
