import type { ChangeEvent, Store } from '../store/store'
import type { BlacklistRecord, CaRecord, DeviceRecord, StaticAccountRecord } from '../store/records'
import type { ConnId } from '../ids'
import type { Logger } from '../observability/logger'
import { BlacklistIndex } from '../policy/blacklist'
import type { SessionRegistry, SessionView } from './session-registry'
import type { SessionRules } from './session-rules'
import { blacklistSubject } from './session-subject'

const RETRY_EVERY_MS = 1_000
/** setTimeout's ceiling (about 24.8 days); a later expiry is re-armed when this one fires. */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * Applies SessionRules to live sessions, on every replica:
 * - on every change notification, the sessions the change concerns are re-evaluated against every
 *   rule (a change to a device re-checks that device's sessions; a new blacklist entry the
 *   sessions it matches; an instance change every session of the instance…) and kicked when they
 *   no longer pass;
 * - `reevaluateAll` re-checks every live session (after a store reconnect, when notifications may
 *   have been missed) and fails if any check could not be made, so that the caller retries;
 * - a session whose credential expires (an STS token) is re-checked, and so kicked, at that time;
 * - a check that could not be made is retried every second, never forgotten; a session whose
 *   re-check keeps failing for longer than `maxStaleMs` is closed (RECHECK_FAILED).
 *
 * `generation` counts the changes that could make a session fail a rule: the last stage before
 * the splice evaluates again when it moved during the evaluation, so no change can fall between
 * a connection's last check and its registration here.
 */
export class SessionRecheck {
  private changes = 0
  private readonly failing = new Map<ConnId, number>()
  private readonly expiries = new Map<ConnId, NodeJS.Timeout>()
  private retryTimer: NodeJS.Timeout | undefined
  private readonly unsubscribe: () => void

  constructor(
    store: Pick<Store, 'onChange'>,
    private readonly sessions: SessionRegistry,
    readonly rules: SessionRules,
    private readonly options: { maxStaleMs: number; logger: Pick<Logger, 'warn'> },
  ) {
    this.unsubscribe = store.onChange((event) => this.onChange(event))
  }

  get generation(): number {
    return this.changes
  }

  /** A session was registered: arm its credential's expiry. */
  started(view: SessionView): void {
    if (view.credentialExpiresAt !== undefined) this.armExpiry(view, Date.parse(view.credentialExpiresAt))
  }

  /** A session ended: forget its timers. */
  ended(connId: ConnId): void {
    const timer = this.expiries.get(connId)
    if (timer !== undefined) clearTimeout(timer)
    this.expiries.delete(connId)
    this.failing.delete(connId)
  }

  /** Every live session against every rule; rejects when any check could not be made. */
  async reevaluateAll(): Promise<void> {
    const results = await Promise.all(this.sessions.list().map((view) => this.reevaluate(view)))
    const failed = results.filter((r) => r === 'failed').length
    if (failed > 0) throw new Error(`${failed} of ${results.length} live sessions could not be re-checked`)
  }

  close(): void {
    this.unsubscribe()
    if (this.retryTimer !== undefined) clearInterval(this.retryTimer)
    for (const timer of this.expiries.values()) clearTimeout(timer)
    this.expiries.clear()
  }

  /** One session against every rule: kicked on a breach, remembered for a retry when a check failed. */
  private async reevaluate(view: SessionView): Promise<'pass' | 'kicked' | 'failed' | 'gone'> {
    if (this.sessions.get(view.connId) === undefined) return 'gone'
    try {
      const breach = await this.rules.evaluate(view)
      this.failing.delete(view.connId)
      if (breach === undefined) return 'pass'
      this.sessions.kick(view.connId, breach.kick)
      return 'kicked'
    } catch (err) {
      const since = this.failing.get(view.connId) ?? Date.now()
      this.failing.set(view.connId, since)
      this.options.logger.warn({ conn: view.connId, err }, 'session re-check failed; retrying')
      this.scheduleRetries()
      return 'failed'
    }
  }

  private onChange(event: ChangeEvent): void {
    const concerns = concernedSessions(event)
    if (concerns === undefined) return
    this.changes++
    // After every listener of this notification has run (the caches update in the same batch),
    // so that the rules read what the change made true.
    queueMicrotask(() => {
      for (const view of this.sessions.list()) if (concerns(view)) void this.reevaluate(view)
    })
  }

  private scheduleRetries(): void {
    if (this.retryTimer !== undefined) return
    this.retryTimer = setInterval(() => this.retryFailing(), RETRY_EVERY_MS)
    this.retryTimer.unref()
  }

  private retryFailing(): void {
    const now = Date.now()
    for (const [connId, since] of [...this.failing]) {
      const live = this.sessions.get(connId)
      if (live === undefined) this.failing.delete(connId)
      else if (now - since > this.options.maxStaleMs) {
        this.failing.delete(connId)
        this.sessions.kick(connId, 'RECHECK_FAILED')
      } else void this.reevaluate(live.view)
    }
    if (this.failing.size === 0 && this.retryTimer !== undefined) {
      clearInterval(this.retryTimer)
      this.retryTimer = undefined
    }
  }

  private armExpiry(view: SessionView, at: number): void {
    const timer = setTimeout(() => {
      this.expiries.delete(view.connId)
      if (Date.now() < at) this.armExpiry(view, at)
      else void this.reevaluate(view)
    }, Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS))
    timer.unref()
    this.expiries.set(view.connId, timer)
  }
}

/**
 * Which sessions a change could make fail a rule, or undefined when it cannot make any fail (a
 * device registered ACTIVE, a CA activated, a blacklist entry removed…): those do not count as
 * changes for `generation` either, so a storm of first connections does not make admissions retry.
 */
function concernedSessions(event: ChangeEvent): ((s: SessionView) => boolean) | undefined {
  switch (event.collection) {
    case 'cas':
      if (event.op === 'put' && (event.record as CaRecord).status === 'ACTIVE') return undefined
      return (s) => s.instanceId === event.scope && s.caId === event.id
    case 'devices':
      if (event.op === 'put' && (event.record as DeviceRecord).status === 'ACTIVE') return undefined
      return (s) => s.instanceId === event.scope && s.deviceId === event.id
    case 'accessKeys':
      return (s) => s.accessKeyId === event.id
    case 'staticAccounts': {
      const accessKeyId = (event.record as StaticAccountRecord).accessKeyId
      return (s) => s.instanceId === event.scope && s.accessKeyId === accessKeyId
    }
    case 'instances':
      return (s) => s.instanceId === event.id
    // Policies, attachments and accounts decide only enforced sessions, and those of enforcing
    // instances (a change of mode itself is an instance change, above).
    case 'policies':
    case 'policyAttachments':
    case 'accounts':
      return (s) => s.enforced === true
    case 'blacklist': {
      if (event.op === 'delete') return undefined
      const index = BlacklistIndex.build([event.record as BlacklistRecord])
      const now = Date.now()
      return (s) => index.match(blacklistSubject(s), now) !== undefined
    }
    default:
      return undefined
  }
}
