import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible'
import type { AuditEvent } from '../../audit/event'

/**
 * Refusals that mean "this client tried to prove who it is and failed". A source that collects
 * `perMinute` of them within a minute is refused RATE_LIMITED before TLS until the minute is over:
 * guessing secrets or certificates then costs the guesser a new address per few tries, and the
 * gateway an O(1) lookup instead of a TLS handshake and an HMAC. RATE_LIMITED itself is not in
 * the list (a throttled source's attempts do not extend its own block).
 */
export const FAILED_AUTH_REASONS: ReadonlySet<string> = new Set([
  'BAD_CREDENTIALS', 'CREDENTIAL_EXPIRED', 'ACCESS_KEY_INACTIVE',
  'CLIENT_CERT_MISSING', 'CLIENT_CERT_UNTRUSTED', 'CLIENT_CERT_PROFILE', 'CERT_EXPIRED',
  'CA_INACTIVE', 'DEVICE_CERT_INACTIVE', 'DEVICE_CERT_REVOKED',
])

const WINDOW_SECONDS = 60
export const DEFAULT_MAX_BLOCKED = 100_000

/**
 * Counts failed authentications per source with rate-limiter-flexible's RateLimiterMemory (a
 * fixed one-minute window per key; per process, so each worker counts its own). The counting is
 * asynchronous and off the connection path; the check on the connection path (`blocked`) is a
 * synchronous Map lookup of the sources whose window is spent, bounded to `maxBlocked` entries.
 */
export class FailedAuthThrottle {
  private readonly limiter: RateLimiterMemory
  /** Source → ms timestamp until which it is refused. */
  private readonly until = new Map<string, number>()

  constructor(readonly perMinute: number, private readonly maxBlocked = DEFAULT_MAX_BLOCKED, private readonly now: () => number = Date.now) {
    this.limiter = new RateLimiterMemory({ points: perMinute, duration: WINDOW_SECONDS, keyPrefix: 'failed-auth' })
  }

  /** Feeds the throttle from the audit log: every refusal passes through it exactly once. */
  observe(event: AuditEvent): void {
    if (event.type !== 'connection.rejected' || event.reason === undefined || !FAILED_AUTH_REASONS.has(event.reason)) return
    const ip = event.source?.ip
    if (ip !== undefined) this.recordFailure(ip)
  }

  /** Resolves once counted (tests await it; the audit listener does not). */
  recordFailure(ip: string): Promise<void> {
    return this.limiter.consume(ip).then(
      (res) => this.settle(ip, res),
      (res: unknown) => { if (res instanceof RateLimiterRes) this.settle(ip, res) },
    )
  }

  /** True while `ip` has spent its failures of the current minute. */
  blocked(ip: string): boolean {
    const until = this.until.get(ip)
    if (until === undefined) return false
    if (until > this.now()) return true
    this.until.delete(ip)
    return false
  }

  private settle(ip: string, res: RateLimiterRes): void {
    if (res.remainingPoints > 0) return
    if (!this.until.has(ip) && this.until.size >= this.maxBlocked) {
      const oldest = this.until.keys().next()
      if (oldest.done !== true) this.until.delete(oldest.value)
    }
    this.until.set(ip, this.now() + Math.max(res.msBeforeNext, 0))
  }
}
