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
 * Event types that anyone can cause without credentials, in volume: refused admin requests. They
 * are already aggregated per source (admin/refusal-audit.ts); keeping them in a lane of their own
 * makes sure that even many sources cannot push real events (admin changes, connection decisions)
 * out of the ring.
 */
export const NOISE_TYPES: readonly string[] = ['admin.request.refused']

export interface RecentRingOptions {
  /** Types kept in the separate, smaller lane (default NOISE_TYPES). */
  laneTypes?: readonly string[]
  /** Capacity of that lane (default a tenth of the ring's, at least 1). */
  laneCapacity?: number
}

/**
 * The last `capacity` events in memory (plus the noise lane), for the admin API's audit query and
 * for `audit tail` to catch up. Bounded so that a burst of connections cannot grow the heap; older
 * events live in the sinks (file, Redis stream), which are the durable record. A query sees both
 * lanes merged in recording order.
 */
export class RecentRing {
  private readonly main: Lane
  private readonly noise: Lane
  private readonly laneTypes: ReadonlySet<string>
  private seq = 0

  constructor(readonly capacity: number, opts: RecentRingOptions = {}) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new PortcullisError('CONFIG_INVALID', `audit ring size must be a positive integer, got ${capacity}`)
    }
    this.main = new Lane(capacity)
    this.noise = new Lane(opts.laneCapacity ?? Math.max(1, Math.ceil(capacity / 10)))
    this.laneTypes = new Set(opts.laneTypes ?? NOISE_TYPES)
  }

  push(event: AuditEvent): void {
    ;(this.laneTypes.has(event.type) ? this.noise : this.main).push(this.seq++, event)
  }

  /** Matching events, oldest first: the most recent `limit` of them. */
  query(filter: RecentFilter = {}): AuditEvent[] {
    const { matches } = compileFilter(filter)
    const limit = Math.min(filter.limit ?? DEFAULT_RECENT_LIMIT, this.capacity)
    const out: AuditEvent[] = []
    // Walk both lanes newest to oldest, taking the newer head each time, then reverse once.
    const a = this.main.newestFirst()
    const b = this.noise.newestFirst()
    let x = a.next()
    let y = b.next()
    while (out.length < limit && (!x.done || !y.done)) {
      let slot: Slot
      if (y.done || (!x.done && x.value.seq > y.value.seq)) {
        slot = x.value as Slot
        x = a.next()
      } else {
        slot = y.value
        y = b.next()
      }
      if (matches(slot.event)) out.push(slot.event)
    }
    return out.reverse()
  }
}

interface Slot {
  seq: number
  event: AuditEvent
}

/** A fixed-size circular buffer; the oldest slot is overwritten. */
class Lane {
  private readonly slots: (Slot | undefined)[]
  private next = 0
  private size = 0

  constructor(private readonly capacity: number) {
    this.slots = new Array<Slot | undefined>(capacity)
  }

  push(seq: number, event: AuditEvent): void {
    this.slots[this.next] = { seq, event }
    this.next = (this.next + 1) % this.capacity
    this.size = Math.min(this.size + 1, this.capacity)
  }

  *newestFirst(): Generator<Slot> {
    for (let i = 1; i <= this.size; i++) {
      const slot = this.slots[(this.next - i + this.capacity) % this.capacity]
      if (slot === undefined) return
      yield slot
    }
  }
}
