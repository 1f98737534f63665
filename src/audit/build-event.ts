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
  const body: Omit<AuditEvent, 'hash'> = {
    id: randomUUID(),
    time: new Date().toISOString(),
    ...(chainId !== undefined ? { chain: chainId } : {}),
    type: input.type,
    ...(input.instanceId !== undefined ? { instanceId: input.instanceId } : {}),
    ...(input.protocol !== undefined ? { protocol: input.protocol } : {}),
    outcome: input.outcome,
    ...(input.reason !== undefined ? { reason: input.reason } : {}),
    actor: { ...toRedactedJson(input.actor), kind: input.actor.kind },
    ...(input.source !== undefined ? { source: plainSource(input.source) } : {}),
    details: toRedactedJson(input.details),
    prev,
  }
  return { ...body, hash: computeEventHash(body) }
}

/** Copies the typed fields only, so extra properties of a caller's object never reach the audit. */
function plainSource(source: NonNullable<AuditInput['source']>): NonNullable<AuditEvent['source']> {
  return {
    ip: source.ip,
    port: source.port,
    ...(source.vpcId !== undefined ? { vpcId: source.vpcId } : {}),
  }
}
