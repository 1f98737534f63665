import type { AuditEvent } from './event'

/** The one field each stream entry holds (sinks/redis-stream.ts: `XADD key … * event <json>`). */
export const STREAM_FIELD = 'event'

/** A Redis stream entry as ioredis answers it: `[id, [field, value, field, value, …]]`. */
export type StreamEntry = [id: string, fields: string[]]

/**
 * The audit event held by a stream entry, or undefined for an entry that is not one (written by
 * something else, or cut short): a reader skips it rather than failing the whole answer.
 */
export function eventOfEntry([, fields]: StreamEntry): AuditEvent | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] !== STREAM_FIELD) continue
    try {
      const parsed = JSON.parse(fields[i + 1] ?? '') as Partial<AuditEvent> | null
      const ok = typeof parsed === 'object' && parsed !== null && typeof parsed.id === 'string' && typeof parsed.time === 'string' && typeof parsed.type === 'string'
      return ok ? (parsed as AuditEvent) : undefined
    } catch {
      return undefined
    }
  }
  return undefined
}

/** The millisecond part of a stream id `ms-seq`. */
export function streamIdMs(id: string): number {
  return Number(id.slice(0, id.indexOf('-')))
}
