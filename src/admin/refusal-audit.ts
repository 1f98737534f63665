import type { AuditInput, AuditSource } from '../audit/event'
import type { ErrorCode } from '../errors'

/**
 * Audit of refused admin requests (`admin.request.refused`), aggregated so that unauthenticated
 * noise cannot displace the record: anyone who reaches the admin port can send thousands of bad
 * requests a second, and one event each would push every real event out of the recent buffer
 * (`GET /v1/audit`) and the sinks' caps.
 *
 * Per (source address, code, admin action) and interval: the first refusal is recorded at once (an
 * operator sees an attack start in real time), the rest are only counted; when the interval ends
 * one summary event carries how many more there were (`details.count`, `firstAt`, `lastAt`). So
 * one source costs at most two events per code (and, for ACCESS_DENIED, per action: a fixed list)
 * per interval, whatever its rate. The action is part of the key because a key refused one action
 * and then trying another is exactly what an operator needs to see. The table of sources is
 * capped (`maxSources`): past it, refusals from new sources fold into one overflow entry (source ip
 * `*`), so many source addresses cannot grow memory or the event count either.
 */
export interface RefusalAuditOptions {
  /** Length of one aggregation interval (default 60 s). */
  intervalMs?: number
  /** Distinct (source, code) pairs tracked per interval before the overflow entry (default 1000). */
  maxSources?: number
}

export interface RefusedRequest {
  source: AuditSource
  reason: ErrorCode
  /** The AccessKey id the request claimed (not a secret); absent when the header had none. */
  accessKeyId?: string
  /** ACCESS_DENIED: the admin action that was refused, and on which resource. */
  action?: string
  resource?: string
  method: string
  path: string
  requestId: string
}

interface Window {
  source: AuditSource
  reason: ErrorCode
  suppressed: number
  firstAt: string
  lastAt: string
  last?: RefusedRequest
  /** Distinct claimed AccessKey ids, a few of them (what was being tried). */
  keys: Set<string>
}

const DEFAULT_INTERVAL_MS = 60_000
const DEFAULT_MAX_SOURCES = 1_000
const MAX_KEYS_PER_SUMMARY = 5
const OVERFLOW: AuditSource = { ip: '*', port: 0 }

export class RefusalAudit {
  private windows = new Map<string, Window>()
  private readonly timer: NodeJS.Timeout
  private readonly maxSources: number

  constructor(private readonly record: (input: AuditInput) => unknown, opts: RefusalAuditOptions = {}) {
    this.maxSources = opts.maxSources ?? DEFAULT_MAX_SOURCES
    this.timer = setInterval(() => this.flush(), opts.intervalMs ?? DEFAULT_INTERVAL_MS)
    this.timer.unref()
  }

  refused(request: RefusedRequest): void {
    const now = new Date().toISOString()
    const key = `${request.source.ip}|${request.reason}|${request.action ?? ''}`
    const window = this.windows.get(key)
    if (window !== undefined) {
      this.count(window, request, now)
      return
    }
    if (this.windows.size >= this.maxSources) {
      const overflowKey = `*|${request.reason}`
      const overflow = this.windows.get(overflowKey)
      if (overflow !== undefined) this.count(overflow, request, now)
      else this.windows.set(overflowKey, { source: OVERFLOW, reason: request.reason, suppressed: 1, firstAt: now, lastAt: now, last: request, keys: keysOf(request) })
      return
    }
    this.windows.set(key, { source: request.source, reason: request.reason, suppressed: 0, firstAt: now, lastAt: now, keys: new Set() })
    this.record({
      type: 'admin.request.refused',
      outcome: 'failure',
      reason: request.reason,
      actor: actorOf(request.accessKeyId),
      source: request.source,
      details: { ...actionOf(request), method: request.method, path: request.path, requestId: request.requestId, count: 1 },
    })
  }

  /** Ends the interval: one summary per entry that counted refusals after its first. */
  flush(): void {
    const ended = this.windows
    this.windows = new Map()
    for (const w of ended.values()) {
      if (w.suppressed === 0 || w.last === undefined) continue
      const keys = [...w.keys]
      this.record({
        type: 'admin.request.refused',
        outcome: 'failure',
        reason: w.reason,
        actor: actorOf(keys.length === 1 ? keys[0] : undefined),
        source: w.source,
        details: {
          ...actionOf(w.last),
          aggregated: true, count: w.suppressed, firstAt: w.firstAt, lastAt: w.lastAt,
          method: w.last.method, path: w.last.path, requestId: w.last.requestId, accessKeyIds: keys,
        },
      })
    }
  }

  /** Flushes what is pending and stops the timer (the admin server's close). */
  close(): void {
    clearInterval(this.timer)
    this.flush()
  }

  private count(window: Window, request: RefusedRequest, now: string): void {
    window.suppressed++
    window.lastAt = now
    window.last = request
    if (request.accessKeyId !== undefined && window.keys.size < MAX_KEYS_PER_SUMMARY) window.keys.add(request.accessKeyId)
  }
}

function actionOf(request: RefusedRequest): { action?: string; resource?: string } {
  return {
    ...(request.action !== undefined ? { action: request.action } : {}),
    ...(request.resource !== undefined ? { resource: request.resource } : {}),
  }
}

function keysOf(request: RefusedRequest): Set<string> {
  return new Set(request.accessKeyId !== undefined ? [request.accessKeyId] : [])
}

function actorOf(accessKeyId: string | undefined): AuditInput['actor'] {
  return { kind: 'accessKey', ...(accessKeyId !== undefined ? { id: accessKeyId } : {}) }
}
