import type { AuditEvent } from '../event'

/**
 * Where audit events go (DESIGN §3: stdout/file JSON lines and Redis Streams). A sink is driven by
 * one SinkQueue (sink-queue.ts): `write` is never called again before the previous call settled,
 * so a sink needs no locking of its own, and a slow sink only fills its own bounded queue.
 */
export interface AuditSink {
  /** Stable, configuration-bounded name: the `sink` label of portcullis_audit_sink_errors_total. */
  readonly name: string
  /**
   * The `hash` of the last event the sink already holds, when it can know it (the file sink reads
   * its last line on open), so that the audit log continues that chain after a restart.
   */
  readonly chainHead?: string | undefined
  /** Writes the batch in order. Rejects when (part of) it was not written. */
  write(batch: AuditEvent[]): Promise<void>
  /** Reopens the sink's file by its path (SIGHUP after logrotate); sinks without a path have none. */
  reopen?(): Promise<void>
  close(): Promise<void>
}

/**
 * A rejection from `write` that says how many of the batch were lost (the rest were written), so
 * that the error counter counts events, not calls.
 */
export class PartialWriteError extends Error {
  constructor(readonly lost: number, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'PartialWriteError'
  }
}

/** One JSON line per event, in order: the stdout and file format. */
export function toJsonLines(batch: AuditEvent[]): string {
  let out = ''
  for (const event of batch) out += `${JSON.stringify(event)}\n`
  return out
}
