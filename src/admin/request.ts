import type { FastifyRequest } from 'fastify'
import type { z } from 'zod'
import type { AuditSource } from '../audit/event'
import { isPortcullisError } from '../errors'
import { parseOrThrow } from '../instances/instance-schema'
import type { AdminContext } from './context'

declare module 'fastify' {
  interface FastifyRequest {
    /** The body bytes exactly as received: the signature hashes these, not a re-serialisation. */
    rawBody?: Buffer
    /** Set by the signature hook once the request verified. */
    accessKeyId?: string
  }
}

export function parseQuery<T>(schema: z.ZodType<T>, req: FastifyRequest): T {
  return parseOrThrow(schema, req.query ?? {}, 'query parameters')
}

export function parseBody<T>(schema: z.ZodType<T>, req: FastifyRequest): T {
  return parseOrThrow(schema, req.body ?? {}, 'request body')
}

export function requestSource(req: FastifyRequest): AuditSource {
  return { ip: req.ip, port: req.socket.remotePort ?? 0 }
}

export interface ChangeSpec {
  /** `admin.<resource>.<action>` (DESIGN §3 "Audit events"). */
  type: `admin.${string}.${string}`
  instanceId?: string
  /** Ids that say what was acted on, recorded even when the change fails. */
  target?: Record<string, string>
}

export interface ChangeOutcome<T> {
  result: T
  before?: unknown
  after?: unknown
  /** More facts for the success event (e.g. that a delete was forced, and what it removed). */
  details?: Record<string, unknown>
}

/**
 * Runs one admin change and records it (DESIGN §1 "Audit": every create/update/delete is
 * recorded): success with before/after, or failure with the error code as reason. Callers pass
 * public views only; the audit log's redaction is a second line of defence, not the first.
 */
export async function auditedChange<T>(ctx: AdminContext, req: FastifyRequest, spec: ChangeSpec, run: () => Promise<ChangeOutcome<T>>): Promise<T> {
  const base = {
    type: spec.type,
    ...(spec.instanceId !== undefined ? { instanceId: spec.instanceId } : {}),
    actor: { kind: 'accessKey' as const, ...(req.accessKeyId !== undefined ? { id: req.accessKeyId } : {}) },
    source: requestSource(req),
  }
  let outcome: ChangeOutcome<T>
  try {
    outcome = await run()
  } catch (err) {
    ctx.audit.record({
      ...base,
      outcome: 'failure',
      reason: isPortcullisError(err) ? err.code : 'INTERNAL',
      details: { ...spec.target, requestId: req.id },
    })
    throw err
  }
  ctx.audit.record({
    ...base,
    outcome: 'success',
    details: { ...outcome.details, ...spec.target, requestId: req.id, before: outcome.before ?? null, after: outcome.after ?? null },
  })
  return outcome.result
}
