import type { ErrorCode } from '../errors'
import type { CloseCause, Reason } from '../reasons'
import type { Protocol } from '../store/records'

/**
 * Audit event types (DESIGN §3 "Audit events"). Admin events are `admin.<resource>.<action>`,
 * e.g. `admin.ca.register`, `admin.accessKey.disable`: every create/update/delete and every
 * grant/revoke on a resource is one of them (DESIGN §1 "Audit").
 */
export type AuditEventType =
  | 'connection.accepted'
  | 'connection.rejected'
  | 'connection.closed'
  | 'session.kicked'
  | 'authorization.denied'
  | 'tls.certificate.rotated'
  | 'keys.rotation.resumed'
  | 'keys.rotation.completed'
  | 'keys.rotation.failed'
  | typeof AUDIT_GAP_TYPE
  | `admin.${string}.${string}`

/**
 * Written by a sink's queue where that sink lost events (disk full, file gone, queue full), in the
 * place of the lost ones (docs/audit.md "Gaps"): its `prev` is the hash the sink holds before the
 * gap, `details.resumeFrom` the hash of the last lost event, which the next event there continues.
 */
export const AUDIT_GAP_TYPE = 'audit.gap'

/** `details` of an `audit.gap` event. */
export interface AuditGapDetails {
  [key: string]: JsonValue
  sink: string
  /** Events this sink never got (at least 1). */
  lost: number
  /** `hash` of the last lost event: the next event of the chain in this sink has it as `prev`. */
  resumeFrom: string
}

/** What an audit `reason` may hold: a refusal/kick code, a close cause, or an admin error code. */
export type AuditReason = Reason | CloseCause | ErrorCode

/** A JSON value: audit events are written as JSON lines and hashed in canonical JSON. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }
export type JsonObject = { [key: string]: JsonValue }

/** Who caused the event: an admin AccessKey, the gateway itself, or a connecting client. */
export interface AuditActor {
  kind: 'accessKey' | 'system' | 'client'
  id?: string
  [key: string]: unknown
}

/** Where a connection came from; `vpcId` from the PROXY header TLVs or the `networks` map. */
export interface AuditSource {
  ip: string
  port: number
  vpcId?: string
}

/** What a caller hands to `AuditLog.record`; the log adds id, time, prev and hash. */
export interface AuditInput {
  type: AuditEventType
  instanceId?: string
  protocol?: Protocol
  outcome: 'success' | 'failure'
  reason?: AuditReason
  actor: AuditActor
  source?: AuditSource
  /**
   * Free-form facts (bytes each way and duration for `connection.closed`; before/after for admin
   * events). Secrets must not be passed; keys named like secrets are redacted anyway (redact.ts).
   */
  details?: Record<string, unknown>
}

/** One link of the hash chain, as written to every sink (JSON, one event per line). */
export interface AuditEvent {
  /** Random UUID v4. */
  id: string
  /** ISO 8601 UTC, millisecond precision. */
  time: string
  /**
   * Which hash chain the event belongs to, when the writing AuditLog was given a `chainId` (the
   * gateway's process id): several processes writing one Redis stream (or one file) interleave
   * their chains, and `audit verify` follows each chain on its own. Absent = the one unnamed chain.
   */
  chain?: string
  type: AuditEventType
  instanceId?: string
  protocol?: Protocol
  outcome: 'success' | 'failure'
  reason?: AuditReason
  actor: { kind: AuditActor['kind'] } & JsonObject
  source?: AuditSource
  details: JsonObject
  /** `hash` of the previous event of the chain; GENESIS_PREV for the first. */
  prev: string
  /** See hash-chain.ts. */
  hash: string
}

/** `prev` of the first event of a chain: 64 zeros. */
export const GENESIS_PREV = '0'.repeat(64)
