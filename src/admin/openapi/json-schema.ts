import { z } from 'zod'

/** A JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1) as plain data. */
export type JsonSchema = Record<string, unknown>

/**
 * The JSON Schema of a zod schema, for the route `schema` that @fastify/swagger turns into
 * /openapi.json. zod stays the validator (the handlers and services parse with these very
 * objects); this is their description, so the two cannot disagree.
 *
 * - `io: 'input'` for what a client sends (defaults optional, a transform described by its input),
 *   `'output'` for what the server answers (defaults present; a plain `z.object` closed with
 *   `additionalProperties: false`, since zod strips unknown keys from its output).
 * - Refinements cannot be expressed (a policy pattern's grammar, a DNS name check): the schema
 *   says "string", and the error message of a refused value names the rule.
 * - `$schema` is dropped: fastify's own ajv (draft-07) must not be asked to fetch the 2020-12
 *   meta-schema should a plain fastify compile these, and OpenAPI 3.1 implies the dialect.
 * - Reused pieces are inlined and a cycle is an error at start-up, so the document has no
 *   `$ref` that could dangle.
 */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any', reused: 'inline', cycles: 'throw' }) as JsonSchema
  delete json.$schema
  return json
}
