import { randomUUID } from 'node:crypto'
import type { ConnId } from '../ids'
import type { KickReason } from '../reasons'
import type { BroadcastMessage, Store } from '../store/store'
import type { SessionRegistry, SessionView } from './session-registry'

const LIST = 'sessions.list'
const LIST_REPLY = 'sessions.list.reply'
const KICK = 'sessions.kick'
const KICK_ACK = 'sessions.kick.ack'

/**
 * Live sessions across every gateway process sharing the store: `GET /v1/connections` lists them
 * all, `DELETE /v1/connections/{id}` kicks one wherever it lives. Requests go out as store
 * broadcasts (Redis pub/sub) and the replicas answer within `replyWindowMs`; a replica that does
 * not answer in time is missing from a list, never blocking it. With the embedded store there is
 * one process, and nothing is broadcast.
 */
export class ClusterSessions {
  private readonly pending = new Map<string, (message: BroadcastMessage) => void>()
  private readonly unsubscribe: () => void

  constructor(
    private readonly store: Store,
    private readonly local: SessionRegistry,
    /** This process's id, as the store stamps it on broadcasts: its own requests are answered locally. */
    private readonly processId: string,
    private readonly replyWindowMs = 300,
  ) {
    this.unsubscribe = store.onBroadcast((message) => this.onMessage(message))
  }

  private get clustered(): boolean {
    return this.store.kind === 'redis'
  }

  async list(filter: { instanceId?: string } = {}): Promise<SessionView[]> {
    const mine = this.local.list(filter)
    if (!this.clustered) return mine
    const others: SessionView[] = []
    await this.ask(LIST, { ...filter }, (payload) => {
      if (Array.isArray(payload.items)) others.push(...(payload.items as SessionView[]))
      return false
    })
    return [...mine, ...others]
  }

  async kick(connId: ConnId, reason: KickReason): Promise<boolean> {
    if (this.local.kick(connId, reason)) return true
    if (!this.clustered) return false
    let found = false
    await this.ask(KICK, { connId, reason }, () => {
      found = true
      return true
    })
    return found
  }

  close(): void {
    this.unsubscribe()
  }

  /** Broadcasts a request and feeds replies to `onReply` until it says done or the window ends. */
  private ask(topic: string, payload: Record<string, unknown>, onReply: (payload: Record<string, unknown>) => boolean): Promise<void> {
    const requestId = randomUUID()
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer)
        this.pending.delete(requestId)
        resolve()
      }
      const timer = setTimeout(finish, this.replyWindowMs)
      this.pending.set(requestId, (message) => { if (onReply(message.payload)) finish() })
      this.store.broadcast(topic, { ...payload, requestId }).catch(finish)
    })
  }

  private onMessage(message: BroadcastMessage): void {
    const { topic, payload } = message
    const requestId = typeof payload.requestId === 'string' ? payload.requestId : undefined
    if (requestId === undefined) return
    if ((topic === LIST || topic === KICK) && message.origin === this.processId) return
    switch (topic) {
      case LIST: {
        const instanceId = typeof payload.instanceId === 'string' ? payload.instanceId : undefined
        const items = this.local.list(instanceId === undefined ? {} : { instanceId })
        void this.store.broadcast(LIST_REPLY, { requestId, items: items as unknown as Record<string, unknown>[] }).catch(() => undefined)
        return
      }
      case KICK: {
        const connId = payload.connId as ConnId
        if (this.local.kick(connId, payload.reason as KickReason)) {
          void this.store.broadcast(KICK_ACK, { requestId }).catch(() => undefined)
        }
        return
      }
      case LIST_REPLY:
      case KICK_ACK:
        this.pending.get(requestId)?.(message)
        return
      default:
        return
    }
  }
}
