import { createHash } from 'node:crypto'
import { canonicalJson } from './canonical-json'
import type { AuditEvent } from './event'

/**
 * The audit hash chain (DESIGN §3 "Audit events"):
 *
 *   hash = lowercase hex SHA-256( UTF-8( prev + canonicalJson(event without its `hash` member) ) )
 *
 * where `prev` is the previous event's `hash` (64 zeros for the first event) and is itself a member
 * of the hashed event. Changing, deleting, inserting or reordering an event breaks the chain at
 * that point; verify.ts names the first broken line.
 */
export function computeEventHash(event: Omit<AuditEvent, 'hash'> | Record<string, unknown>): string {
  // Events being built have no `hash` yet: copying them without it would be wasted work.
  const body = 'hash' in event ? withoutHash(event as Record<string, unknown>) : (event as Record<string, unknown>)
  // Two updates hash the same bytes as one over the concatenation, without building it.
  return createHash('sha256').update(String(body['prev']), 'utf8').update(canonicalJson(body), 'utf8').digest('hex')
}

function withoutHash(event: Record<string, unknown>): Record<string, unknown> {
  const { hash: _ignored, ...body } = event
  return body
}

/** True for a well-formed chain hash: 64 lowercase hex digits. */
export function isChainHash(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{64}$/.test(value)
}
