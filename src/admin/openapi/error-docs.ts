import { z } from 'zod'
import { ERROR_CODES, type ErrorCode } from '../../errors'
import { HTTP_STATUS } from '../errors'
import { jsonSchemaOf, type JsonSchema } from './json-schema'

/**
 * The error answers of the admin API as documented in /openapi.json: `{code, message, requestId}`
 * (DESIGN §3) with, per HTTP status, the enum of the codes a route can give under it. Statuses
 * come from HTTP_STATUS (admin/errors.ts), the one mapping the error handler uses, so the document
 * cannot put a code under another status than the server answers it with.
 */

/** Every signed /v1 route: the signature and authorization hooks, the query string, the store behind the nonce check. */
export const SIGNED_ROUTE_ERRORS = [
  'VALIDATION_FAILED', 'SIGNATURE_MISSING', 'SIGNATURE_INVALID', 'SIGNATURE_EXPIRED', 'NONCE_REUSED', 'ACCESS_DENIED',
  'STORE_UNAVAILABLE', 'STORE_READ_ONLY', 'INTERNAL',
] as const satisfies readonly ErrorCode[]

/**
 * Routes whose method carries a body (POST, PUT, PATCH, DELETE): the body limit, and a write that
 * lost a race on the store (a Redis compare-and-set or lock) answers CONFLICT.
 */
export const BODY_METHOD_ERRORS = ['BODY_TOO_LARGE', 'CONFLICT'] as const satisfies readonly ErrorCode[]

/** Any route, signed or not. */
export const ANY_ROUTE_ERRORS = ['INTERNAL'] as const satisfies readonly ErrorCode[]

/** What the status lines of the document say, before the codes. */
const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad request',
  401: 'Not authenticated: the request signature is missing, wrong, out of date or replayed',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict with the current state',
  413: 'Request body too large',
  422: 'The certificates fail the registration rules',
  500: 'Internal error',
  503: 'Unavailable: retry later',
}

export const requestIdSchema = z.string().describe('this request\'s id, also in the x-request-id header and in the audit and log lines of the request')

/** The error body, with `code` limited to `codes`; `extra` adds route-specific members. */
export function errorBodySchema(codes: readonly [ErrorCode, ...ErrorCode[]], extra: z.ZodRawShape = {}): z.ZodObject {
  return z.object({ code: z.enum(codes), message: z.string(), requestId: requestIdSchema, ...extra })
}

/** A route's own status for some codes, where it answers them otherwise than HTTP_STATUS says. */
export type StatusOverrides = Readonly<Partial<Record<ErrorCode, number>>>

/** Status → fastify response schema (JSON Schema plus `description`) for the given codes, deduplicated. */
export function errorResponses(codes: readonly ErrorCode[], extra: z.ZodRawShape = {}, overrides: StatusOverrides = {}): Record<number, JsonSchema> {
  const byStatus = new Map<number, ErrorCode[]>()
  for (const code of new Set(codes)) {
    const status = overrides[code] ?? HTTP_STATUS[code]
    byStatus.set(status, [...(byStatus.get(status) ?? []), code])
  }
  const out: Record<number, JsonSchema> = {}
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    const sorted = [...list].sort() as [ErrorCode, ...ErrorCode[]]
    out[status] = {
      // @fastify/swagger's key for a response description that is not copied into the schema.
      'x-response-description': `${STATUS_TEXT[status] ?? 'Error'}. \`code\`: ${sorted.map((c) => `\`${c}\` (${ERROR_CODES[c]})`).join('; ')}`,
      ...jsonSchemaOf(errorBodySchema(sorted, extra), 'output'),
    }
  }
  return out
}
