import type { Config } from '../../config/schema'
import type { RefusalReason } from '../../reasons'
import { FailedAuthThrottle } from './failed-auth'
import { HandshakeGate } from './handshake-gate'
import { SourceCounter } from './source-counter'
import { TokenBuckets } from './token-buckets'

export interface SourceRefusal {
  readonly reason: Extract<RefusalReason, 'RATE_LIMITED' | 'CONNECTION_LIMIT'>
  readonly detail: string
}

/**
 * The per-source limits of DESIGN §4, checked once per connection on its real address (the PROXY
 * header's, or the socket's on a listener without PROXY protocol), before any TLS work:
 *
 *   failed authentications this minute ≥ failedAuthPerSource.perMinute  → RATE_LIMITED
 *   connect rate over connectRatePerSource (token bucket)                 → RATE_LIMITED
 *   open connections ≥ maxConnectionsPerSource                            → CONNECTION_LIMIT
 *
 * Each check is a Map lookup; a limit that is not configured costs nothing. An admitted
 * connection is remembered by its raw socket until `release(socket)` (the listener calls it on
 * 'close'), so a connection is counted once whichever place admitted it.
 */
export class SourceLimits {
  private readonly held = new Map<object, string>()

  constructor(
    private readonly parts: {
      readonly rate?: TokenBuckets
      readonly concurrent?: SourceCounter
      readonly failedAuth?: FailedAuthThrottle
    },
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether `socket` was admitted already (on a listener without PROXY protocol, at accept). */
  admitted(socket: object): boolean {
    return this.held.has(socket)
  }

  /** Admits `socket` from `ip`, or answers why not (nothing is counted for a refusal). */
  admit(socket: object, ip: string): SourceRefusal | undefined {
    const { rate, concurrent, failedAuth } = this.parts
    if (failedAuth?.blocked(ip) === true) {
      return { reason: 'RATE_LIMITED', detail: `${ip} failed to authenticate ${failedAuth.perMinute} times within a minute` }
    }
    if (rate !== undefined && !rate.take(ip, this.now())) {
      return { reason: 'RATE_LIMITED', detail: `${ip} is over connectRatePerSource` }
    }
    if (concurrent !== undefined) {
      if (!concurrent.tryAcquire(ip)) return { reason: 'CONNECTION_LIMIT', detail: `${ip} already has ${concurrent.limit} connections open (maxConnectionsPerSource)` }
      this.held.set(socket, ip)
    }
    return undefined
  }

  release(socket: object): void {
    const ip = this.held.get(socket)
    if (ip === undefined) return
    this.held.delete(socket)
    this.parts.concurrent?.release(ip)
  }
}

/** What the data path holds of the abuse limits (PipelineDeps `connectionLimits`). */
export interface ConnectionLimits {
  readonly sources: SourceLimits
  readonly handshakes: HandshakeGate
  /** Present when `failedAuthPerSource` is set: fed from the audit log by the composition root. */
  readonly failedAuth?: FailedAuthThrottle
}

/**
 * An admitted handshake should take at most this share of handshakeTimeoutMs when the core is the
 * bottleneck: the margin covers the client's round trips, the variance of processor sharing and a
 * limit that lags the load by a sample or two.
 */
const ADMISSION_TARGET_SHARE = 0.25

/**
 * The queue's wait, at most half the handshake deadline: the deadline runs from accept, and a
 * connection let through at the end of its wait still needs its share (ADMISSION_TARGET_SHARE)
 * and a margin to finish the handshake in time.
 */
function queueWaitMs(limits: Config['limits']): number {
  return Math.min(limits.handshakeQueueWaitMs, Math.floor(limits.handshakeTimeoutMs / 2))
}

export function connectionLimitsFrom(limits: Config['limits']): ConnectionLimits {
  const failedAuth = limits.failedAuthPerSource !== undefined ? new FailedAuthThrottle(limits.failedAuthPerSource.perMinute) : undefined
  const sources = new SourceLimits({
    ...(limits.connectRatePerSource !== undefined ? { rate: new TokenBuckets(limits.connectRatePerSource) } : {}),
    ...(limits.maxConnectionsPerSource !== undefined ? { concurrent: new SourceCounter(limits.maxConnectionsPerSource) } : {}),
    ...(failedAuth !== undefined ? { failedAuth } : {}),
  })
  return {
    sources,
    handshakes: new HandshakeGate(
      limits.maxHandshakesInFlight, limits.handshakeQueueLength, queueWaitMs(limits),
      limits.handshakeAdmission === 'adaptive' ? { targetMs: limits.handshakeTimeoutMs * ADMISSION_TARGET_SHARE } : undefined,
    ),
    ...(failedAuth !== undefined ? { failedAuth } : {}),
  }
}
