import { randomUUID } from 'node:crypto'
import type { AuditEvent, AuditInput } from './event'
import { computeEventHash } from './hash-chain'
import { toRedactedJson } from './redact'

/**
 * One audit event as `AuditLog.record` writes it: id, time, the caller's fields (redacted, as
 * plain JSON), `prev` and the chain hash over them. Pure apart from the clock and the random id:
 * it records nothing, so the start-up warm-up (src/warmup/) runs it too.
 */
export function buildAuditEvent(input: AuditInput, prev: string, chainId: string | undefined): AuditEvent {
  // Members in the order every event is written (docs/audit.md), assigned one by one rather than
  // spread from conditional literals: this runs twice per connection, and each `...(x ? {x} : {})`
  // is an object built to be copied and dropped.
  const body: Record<string, unknown> = { id: randomUUID(), time: new Date().toISOString() }
  if (chainId !== undefined) body['chain'] = chainId
  body['type'] = input.type
  if (input.instanceId !== undefined) body['instanceId'] = input.instanceId
  if (input.protocol !== undefined) body['protocol'] = input.protocol
  body['outcome'] = input.outcome
  if (input.reason !== undefined) body['reason'] = input.reason
  // toRedactedJson answers a fresh object; `kind` keeps its place in it, as the spread kept it.
  const actor: Record<string, unknown> = toRedactedJson(input.actor)
  actor['kind'] = input.actor.kind
  body['actor'] = actor
  if (input.source !== undefined) body['source'] = plainSource(input.source)
  body['details'] = toRedactedJson(input.details)
  body['prev'] = prev
  // Hashed before `hash` is a member, as hash-chain.ts defines it.
  const hash = computeEventHash(body)
  body['hash'] = hash
  return body as unknown as AuditEvent
}

/** Copies the typed fields only, so extra properties of a caller's object never reach the audit. */
function plainSource(source: NonNullable<AuditInput['source']>): NonNullable<AuditEvent['source']> {
  return {
    ip: source.ip,
    port: source.port,
    ...(source.vpcId !== undefined ? { vpcId: source.vpcId } : {}),
  }
}
