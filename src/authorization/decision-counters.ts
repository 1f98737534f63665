import type { Counter } from 'prom-client'
import type { ProtocolName } from '../protocols/names'
import type { Action } from '../policy/authorization/types'

/** One action's tallies, incremented in place by the hot path. */
export interface DecisionTally {
  allowed: number
  denied: number
}

/**
 * The counts behind `portcullis_authorization_decisions_total{protocol,action,result}` (DESIGN §4).
 * A decision on every PUBLISH cannot afford prom-client's label lookup (a hash of the label
 * object per call, several times the decision itself), so each session holds the tallies of its
 * actions and increments plain numbers; the counter reads them when it is scraped.
 */
export class DecisionCounters {
  private readonly tallies = new Map<string, { protocol: string; action: string; tally: DecisionTally; reported: DecisionTally }>()

  /** The tally of one (protocol, action); the same object for every caller. */
  tally(protocol: ProtocolName | 'admin', action: Action): DecisionTally {
    const key = `${protocol} ${action}`
    let entry = this.tallies.get(key)
    if (entry === undefined) {
      entry = { protocol, action, tally: { allowed: 0, denied: 0 }, reported: { allowed: 0, denied: 0 } }
      this.tallies.set(key, entry)
    }
    return entry.tally
  }

  /** Moves what was counted since the last scrape into the prom-client counter. */
  collectInto(counter: Counter<'protocol' | 'action' | 'result'>): void {
    for (const entry of this.tallies.values()) {
      const allowed = entry.tally.allowed - entry.reported.allowed
      const denied = entry.tally.denied - entry.reported.denied
      if (allowed > 0) counter.inc({ protocol: entry.protocol, action: entry.action, result: 'allow' }, allowed)
      if (denied > 0) counter.inc({ protocol: entry.protocol, action: entry.action, result: 'deny' }, denied)
      entry.reported.allowed = entry.tally.allowed
      entry.reported.denied = entry.tally.denied
    }
  }
}
