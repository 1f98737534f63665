import { z } from 'zod'
import { PROTOCOL_NAMES } from '../protocols/names'

/**
 * An AuditEvent (event.ts) as `GET /v1/audit` and `GET /v1/audit/stream` answer it, and the query
 * answer around it (query.ts AuditQueryResult): the response schemas in /openapi.json. `details`
 * and the actor's other fields depend on the event type (docs/audit.md).
 * src/admin/openapi/view-checks.ts checks at compile time that each describes its type.
 */
const hash = z.string().regex(/^[0-9a-f]{64}$/)

export const auditEventSchema = z.object({
  id: z.string(),
  time: z.iso.datetime(),
  chain: z.string().optional().describe('the writing process\'s chain, when several processes share one sink'),
  type: z.string().describe('connection.accepted|rejected|closed, session.kicked, authorization.denied, tls.certificate.rotated, audit.gap, admin.<resource>.<action>'),
  instanceId: z.string().optional(),
  protocol: z.enum(PROTOCOL_NAMES).optional(),
  outcome: z.enum(['success', 'failure']),
  reason: z.string().optional().describe('a reason code (docs/reason-codes.md), a close cause or an admin error code'),
  actor: z.looseObject({ kind: z.enum(['accessKey', 'system', 'client']) }),
  source: z.object({ ip: z.string(), port: z.number().int(), vpcId: z.string().optional() }).optional(),
  details: z.record(z.string(), z.unknown()),
  prev: hash.describe('hash of the previous event of the chain (64 zeros for the first)'),
  hash: hash.describe('SHA-256 over prev and the canonical event'),
}).meta({ title: 'AuditEvent' })

export const auditQueryResultSchema = z.object({
  items: z.array(auditEventSchema).describe('oldest first'),
  scanLimitReached: z.boolean().optional().describe('a Redis stream source stopped at its scan cap: narrow the query'),
}).meta({ title: 'AuditEvents' })
