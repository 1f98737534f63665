import type { FastifySchema } from 'fastify'
import type { z } from 'zod'
import type { ErrorCode } from '../../errors'
import type { AdminAction } from '../../policy/authorization/types'
import { ANY_ROUTE_ERRORS, BODY_METHOD_ERRORS, errorResponses, SIGNED_ROUTE_ERRORS, type StatusOverrides } from './error-docs'
import { jsonSchemaOf, type JsonSchema } from './json-schema'
import { SIGNED } from './signing-doc'

/**
 * How a route declares its contract: request (path parameters, query, body) and every answer it
 * can give, as zod schemas, the ones the handler and services parse with. `signedRoute` and
 * `publicRoute` turn a declaration into fastify route options: `config.action` (which the
 * authorization hook decides) and `schema`, which @fastify/swagger reads for /openapi.json.
 *
 * fastify does not validate or serialize by these schemas (server.ts sets a validator compiler
 * that accepts everything and a serializer that is JSON.stringify): zod checks requests inside the
 * handlers, after the signature and authorization hooks (fastify validation would run before
 * them and answer an unsigned caller's malformed body with 400 instead of 401), and so that every
 * failed change is audited with its reason; answers are never filtered by a schema, which would
 * drop a field silently. test/integration/openapi-conformance.test.ts checks real answers against
 * the document instead.
 */

/** The document's sections, in the order /docs shows them (document.ts describes each). */
export const TAGS = [
  'Instances', 'CA certificates', 'Device certificates', 'Connections', 'AccessKeys', 'Static accounts',
  'Blacklist', 'Audit', 'Accounts', 'Policies', 'Operations', 'Probes', 'Reference',
] as const
export type Tag = (typeof TAGS)[number]

export interface SuccessResponse {
  readonly description: string
  /** The application/json body; absent with `media` absent too: no body (204). */
  readonly json?: z.ZodType
  /** Bodies of other media types, e.g. `{'application/x-pem-file': z.string()}`. */
  readonly media?: Readonly<Record<string, z.ZodType>>
}

export interface OperationDoc {
  readonly summary: string
  readonly description?: string
  readonly tag: Tag
  readonly params?: z.ZodObject
  readonly query?: z.ZodObject
  /** The JSON body; documented as optional when the schema accepts `{}` (the handlers parse `body ?? {}`). */
  readonly body?: z.ZodType
  readonly responses: Readonly<Record<number, SuccessResponse>>
  /** The codes this route gives beyond the ones every route of its kind gives (error-docs.ts). */
  readonly errors?: readonly ErrorCode[]
  /** Members the error body of this route has beyond `{code, message, requestId}`. */
  readonly errorFields?: z.ZodRawShape
  /** Codes this route answers with another status than HTTP_STATUS's (the handler uses the same table). */
  readonly errorStatus?: StatusOverrides
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

/** Route schema: FastifySchema plus the `x-` extensions @fastify/swagger copies into the operation. */
export type DocumentedSchema = FastifySchema & { [extension: `x-${string}`]: unknown }

/** `app.post('/instances', signedRoute('POST', 'admin:CreateInstance', {...}), handler)`. */
export function signedRoute(method: Method, action: AdminAction, doc: OperationDoc): { config: { action: AdminAction }; schema: DocumentedSchema } {
  const codes: ErrorCode[] = [...SIGNED_ROUTE_ERRORS, ...(method === 'GET' ? [] : BODY_METHOD_ERRORS), ...(doc.errors ?? [])]
  return {
    config: { action },
    schema: {
      ...routeSchema(doc, codes),
      operationId: action.slice('admin:'.length),
      security: SIGNED,
      'x-portcullis-action': action,
    },
  }
}

/** An unsigned route outside /v1 (probes, the reference itself). */
export function publicRoute(doc: OperationDoc & { readonly operationId: string }): { schema: DocumentedSchema } {
  return { schema: { ...routeSchema(doc, [...ANY_ROUTE_ERRORS, ...(doc.errors ?? [])]), operationId: doc.operationId, security: [] } }
}

function routeSchema(doc: OperationDoc, codes: readonly ErrorCode[]): DocumentedSchema {
  const schema: DocumentedSchema = {
    summary: doc.summary,
    tags: [doc.tag],
    response: { ...successResponses(doc.responses), ...errorResponses(codes, doc.errorFields, doc.errorStatus) },
  }
  if (doc.description !== undefined) schema.description = doc.description
  if (doc.params !== undefined) schema.params = jsonSchemaOf(doc.params, 'input')
  if (doc.query !== undefined) schema.querystring = jsonSchemaOf(doc.query, 'input')
  if (doc.body !== undefined) {
    schema.body = jsonSchemaOf(doc.body, 'input')
    if (doc.body.safeParse({}).success) schema['x-portcullis-body-optional'] = true
  }
  return schema
}

function successResponses(responses: OperationDoc['responses']): Record<number, JsonSchema> {
  const out: Record<number, JsonSchema> = {}
  for (const [status, r] of Object.entries(responses)) {
    const media: Record<string, { schema: JsonSchema }> = {}
    if (r.json !== undefined) media['application/json'] = { schema: jsonSchemaOf(r.json, 'output') }
    for (const [type, body] of Object.entries(r.media ?? {})) media[type] = { schema: jsonSchemaOf(body, 'output') }
    // No media: `type: 'null'` is how @fastify/swagger writes a response without content.
    out[Number(status)] = Object.keys(media).length === 0 ? { description: r.description, type: 'null' } : { description: r.description, content: media }
  }
  return out
}
