import type { AuditActor, AuditInput, AuditSource } from '../audit/event'
import type { ConnId } from '../ids'
import type { ProtocolName } from '../protocols/names'
import type { Action } from '../policy/authorization/types'

/** Who an `authorization.denied` event is about: fixed for the session's life. */
export interface DeniedSession {
  readonly connId: ConnId
  readonly instanceId: string
  readonly protocol: ProtocolName
  readonly actor: AuditActor
  readonly source: AuditSource
}

interface Pending {
  readonly session: DeniedSession
  readonly action: Action
  /** Denials since the last event of this (session, action). */
  count: number
  lastResource: string
}

/**
 * `authorization.denied` audit events (DESIGN §4), aggregated per session and action so that a
 * client looping on a denied publish cannot flood the audit trail: the first denial of an action
 * in a session is recorded at once (with its resource); the ones after it are counted and
 * recorded as one event per `windowMs` (count, last resource), and whatever is still counted when
 * the session ends is recorded then. Memory is one entry per (live session, action denied).
 */
export class DenialAudit {
  private readonly pending = new Map<ConnId, Map<Action, Pending>>()
  private readonly timer: NodeJS.Timeout

  constructor(private readonly record: (input: AuditInput) => void, windowMs = 60_000) {
    this.timer = setInterval(() => this.flush(), windowMs)
    this.timer.unref()
  }

  denied(session: DeniedSession, action: Action, resource: string): void {
    let actions = this.pending.get(session.connId)
    if (actions === undefined) this.pending.set(session.connId, (actions = new Map()))
    const entry = actions.get(action)
    if (entry === undefined) {
      actions.set(action, { session, action, count: 0, lastResource: resource })
      this.emit(session, action, resource, 1, false)
      return
    }
    entry.count++
    entry.lastResource = resource
  }

  /** The session ended: what is still counted is recorded, and its entries go. */
  ended(connId: ConnId): void {
    const actions = this.pending.get(connId)
    if (actions === undefined) return
    this.pending.delete(connId)
    for (const entry of actions.values()) this.emitPending(entry)
  }

  close(): void {
    clearInterval(this.timer)
    for (const connId of [...this.pending.keys()]) this.ended(connId)
  }

  private flush(): void {
    for (const actions of this.pending.values()) for (const entry of actions.values()) this.emitPending(entry)
  }

  private emitPending(entry: Pending): void {
    if (entry.count === 0) return
    this.emit(entry.session, entry.action, entry.lastResource, entry.count, true)
    entry.count = 0
  }

  private emit(session: DeniedSession, action: Action, resource: string, count: number, aggregated: boolean): void {
    this.record({
      type: 'authorization.denied', outcome: 'failure', reason: 'NOT_AUTHORIZED',
      protocol: session.protocol, instanceId: session.instanceId, actor: session.actor, source: session.source,
      details: { connId: session.connId, action, resource, count, ...(aggregated ? { aggregated: true } : {}) },
    })
  }
}
