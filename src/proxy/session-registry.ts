import type { ConnId } from '../ids'
import type { KickReason } from '../reasons'
import type { ProtocolName } from '../protocols/names'

/**
 * Every live (spliced) session, findable by identity so that a rule change can close exactly the
 * sessions it affects (DESIGN §2). Lookups by a predicate scan the map: kicks are rare admin events
 * and a scan of 100k entries costs about a millisecond, which is cheaper overall than keeping one
 * index per identity field updated on every connect and close.
 */
/** Who a client is, in the terms every rule uses, whatever its protocol. */
export interface ClientIdentity {
  /** MQTT: the registered CA the certificate chains to, and the device certificate's id. */
  caId?: string
  deviceId?: string
  /** The device certificate's subject CN: the `${certCommonName}` of policies. */
  certCommonName?: string
  clientId?: string
  username?: string
  /** AMQP: the AccessKey the credentials derive from, and the static user's name. */
  accessKeyId?: string
  account?: string
  /** AMQP: the account that owns the AccessKey (DESIGN §4 "Accounts"); `root` for keys made before accounts. */
  accountId?: string
  /** AMQP: the virtual host the client opened, as it named it (its resources' prefix). */
  vhost?: string
  /** When the credential stops being valid (an STS token's expiresAt, ISO 8601): the session ends then. */
  credentialExpiresAt?: string
}

export interface SessionIdentity extends ClientIdentity {
  instanceId: string
  protocol: ProtocolName
  vpcId?: string
  sourceIp: string
  sourcePort: number
}

export interface SessionView extends SessionIdentity {
  connId: ConnId
  /** Spliced through the authorization filters (its instance enforced authorization when it started). */
  enforced?: true
  listener: string
  startedAt: string
  processId: string
}

export interface LiveSession {
  readonly view: SessionView
  /** Closes the session with a protocol-level goodbye where one exists; idempotent. */
  kick(reason: KickReason): void
}

export class SessionRegistry {
  private readonly sessions = new Map<ConnId, LiveSession>()

  add(session: LiveSession): void {
    this.sessions.set(session.view.connId, session)
  }

  remove(connId: ConnId): void {
    this.sessions.delete(connId)
  }

  get(connId: ConnId): LiveSession | undefined {
    return this.sessions.get(connId)
  }

  get size(): number {
    return this.sessions.size
  }

  list(filter: { instanceId?: string } = {}): SessionView[] {
    const out: SessionView[] = []
    for (const s of this.sessions.values()) {
      if (filter.instanceId === undefined || s.view.instanceId === filter.instanceId) out.push(s.view)
    }
    return out
  }

  /** Kicks every session the predicate selects; answers how many. */
  kickWhere(predicate: (view: SessionView) => boolean, reason: KickReason): number {
    const selected: LiveSession[] = []
    for (const s of this.sessions.values()) if (predicate(s.view)) selected.push(s)
    for (const s of selected) s.kick(reason)
    return selected.length
  }

  kick(connId: ConnId, reason: KickReason): boolean {
    const s = this.sessions.get(connId)
    if (s === undefined) return false
    s.kick(reason)
    return true
  }
}
