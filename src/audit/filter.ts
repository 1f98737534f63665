import { PortcullisError } from '../errors'
import type { AuditEvent } from './event'

/** `GET /v1/audit?since&until&type&instanceId&limit` (DESIGN §3), for every audit source. */
export interface AuditFilter {
  /** Inclusive lower bound on `time` (any Date.parse-able ISO 8601 string). */
  since?: string | undefined
  /** Exclusive upper bound on `time`. */
  until?: string | undefined
  /** Exact type, or a prefix ending in `*` (`admin.*`, `connection.*`). */
  type?: string | undefined
  instanceId?: string | undefined
  /** Most recent matches to return. */
  limit?: number | undefined
}

export interface CompiledFilter {
  sinceMs?: number
  untilMs?: number
  /** True when the event passes every bound and match of the filter. */
  matches(event: AuditEvent): boolean
}

/** Validates the time bounds once (VALIDATION_FAILED names the bad one) and builds the predicate. */
export function compileFilter(filter: AuditFilter): CompiledFilter {
  const sinceMs = parseBound('since', filter.since)
  const untilMs = parseBound('until', filter.until)
  const matchesType = typeMatcher(filter.type)
  const { instanceId } = filter
  return {
    ...(sinceMs !== undefined ? { sinceMs } : {}),
    ...(untilMs !== undefined ? { untilMs } : {}),
    matches(event) {
      if (sinceMs !== undefined || untilMs !== undefined) {
        const time = Date.parse(event.time)
        if (sinceMs !== undefined && !(time >= sinceMs)) return false
        if (untilMs !== undefined && !(time < untilMs)) return false
      }
      if (!matchesType(event.type)) return false
      return instanceId === undefined || event.instanceId === instanceId
    },
  }
}

export function parseBound(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  const ms = Date.parse(value)
  if (Number.isNaN(ms)) throw new PortcullisError('VALIDATION_FAILED', `${name} is not an ISO 8601 time: ${value}`)
  return ms
}

export function typeMatcher(type: string | undefined): (candidate: string) => boolean {
  if (type === undefined) return () => true
  if (type.endsWith('*')) {
    const prefix = type.slice(0, -1)
    return (candidate) => candidate.startsWith(prefix)
  }
  return (candidate) => candidate === type
}
