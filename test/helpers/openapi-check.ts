/**
 * Checks against the admin server's own /openapi.json, for the OpenAPI tests: which operation a
 * request is, whether an answer (status, media type, body) is one the document allows (ajv, JSON
 * Schema 2020-12 as OpenAPI 3.1 uses it), and whether every operation documents itself.
 */
import Ajv2020 from 'ajv/dist/2020'
import type { ValidateFunction } from 'ajv'

export interface Operation {
  operationId?: string
  summary?: string
  tags?: string[]
  security?: Array<Record<string, string[]>>
  parameters?: Array<{ in: string; name: string; required?: boolean; schema?: unknown }>
  requestBody?: { required?: boolean; content?: Record<string, { schema?: unknown }> }
  responses: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>
  'x-portcullis-action'?: string
  'x-portcullis-resource'?: string
  [key: string]: unknown
}

export interface OpenApiDocument {
  openapi: string
  info: { title: string; version: string; description?: string }
  paths: Record<string, Record<string, Operation>>
  components?: { securitySchemes?: Record<string, unknown> }
  tags?: Array<{ name: string }>
}

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const

/** Every operation: `GET /v1/instances/{id}` style keys. */
export function operations(doc: OpenApiDocument): Array<{ method: string; path: string; op: Operation }> {
  const out: Array<{ method: string; path: string; op: Operation }> = []
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of HTTP_METHODS) {
      const op = item[method]
      if (op !== undefined) out.push({ method: method.toUpperCase(), path, op })
    }
  }
  return out
}

/** fastify's `/v1/instances/:id` → OpenAPI's `/v1/instances/{id}`. */
export function openApiPath(fastifyUrl: string): string {
  return fastifyUrl.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
}

/** The template a concrete path is an instance of; literal segments win over parameters. */
export function matchPath(doc: OpenApiDocument, method: string, path: string): string | undefined {
  const segments = path.split('/')
  let best: { template: string; literals: number } | undefined
  for (const template of Object.keys(doc.paths)) {
    if (doc.paths[template]?.[method.toLowerCase()] === undefined) continue
    const parts = template.split('/')
    if (parts.length !== segments.length) continue
    let literals = 0
    const fits = parts.every((part, i) => {
      if (/^\{[^}]+\}$/.test(part)) return (segments[i] ?? '') !== ''
      literals++
      return part === segments[i]
    })
    if (fits && (best === undefined || literals > best.literals)) best = { template, literals }
  }
  return best?.template
}

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

export function newAjv(): Ajv2020 {
  // strict: false, as OpenAPI 3.1 schema objects may carry `example`, `xml` and `x-` keys.
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => ISO_TIME.test(s) && !Number.isNaN(Date.parse(s)) })
  return ajv
}

export interface ObservedResponse {
  method: string
  /** The request path, without the query. */
  path: string
  status: number
  contentType: string | undefined
  /** The body as received. */
  text: string
}

/**
 * Validates answers against the document and remembers what was exercised (operation and status),
 * so a test can say which operation it never drove.
 */
export class ResponseChecker {
  private readonly ajv = newAjv()
  private readonly compiled = new Map<unknown, ValidateFunction>()
  readonly exercised = new Map<string, Set<number>>()

  constructor(readonly doc: OpenApiDocument) {}

  /** Problems with this answer; empty when the document allows it. */
  check(r: ObservedResponse): string[] {
    const where = `${r.method} ${r.path} → ${r.status}`
    const template = matchPath(this.doc, r.method, r.path)
    if (template === undefined) return [`${where}: no operation in the document`]
    const key = `${r.method} ${template}`
    const seen = this.exercised.get(key) ?? new Set<number>()
    seen.add(r.status)
    this.exercised.set(key, seen)
    const op = this.doc.paths[template]?.[r.method.toLowerCase()] as Operation
    const response = op.responses[String(r.status)] ?? op.responses[`${String(r.status)[0]}XX`] ?? op.responses.default
    if (response === undefined) return [`${where}: status ${r.status} is not documented for ${key} (documented: ${Object.keys(op.responses).join(', ')})`]
    if (response.content === undefined) return r.text === '' ? [] : [`${where}: the document says no body, got ${r.text.slice(0, 200)}`]
    const mediaType = (r.contentType ?? '').split(';')[0]?.trim() ?? ''
    const media = response.content[mediaType]
    if (media === undefined) return [`${where}: media type ${mediaType || '(none)'} is not documented (documented: ${Object.keys(response.content).join(', ')})`]
    let body: unknown = r.text
    if (mediaType === 'application/json') {
      try {
        body = JSON.parse(r.text)
      } catch {
        return [`${where}: not JSON: ${r.text.slice(0, 200)}`]
      }
    }
    const validate = this.validator(media.schema ?? {})
    if (validate(body)) return []
    return (validate.errors ?? []).map((e) => `${where}: ${e.instancePath || '(body)'} ${e.message ?? ''} ${JSON.stringify(e.params)}; body ${JSON.stringify(body).slice(0, 300)}`)
  }

  /** Operations never driven, and the documented statuses each one never answered. */
  notExercised(): { operations: string[]; statuses: string[] } {
    const ops: string[] = []
    const statuses: string[] = []
    for (const { method, path, op } of operations(this.doc)) {
      const seen = this.exercised.get(`${method} ${path}`)
      if (seen === undefined) ops.push(`${method} ${path}`)
      for (const status of Object.keys(op.responses)) if (!seen?.has(Number(status))) statuses.push(`${method} ${path} ${status}`)
    }
    return { operations: ops, statuses }
  }

  private validator(schema: unknown): ValidateFunction {
    let fn = this.compiled.get(schema)
    if (fn === undefined) {
      fn = this.ajv.compile(schema as object)
      this.compiled.set(schema, fn)
    }
    return fn
  }
}

/**
 * What an operation lacks to document itself: a summary, an operationId, a tag, a 2xx answer,
 * schemas on its bodies, no response the generator filled in ("Default Response"); a signed one
 * (under /v1) its action, resource, the signature security and the signature and authorization
 * error codes; an unsigned one an empty security.
 */
export function undocumented(doc: OpenApiDocument, signedSchemes: string[], actions: readonly string[]): string[] {
  const problems: string[] = []
  for (const { method, path, op } of operations(doc)) {
    const at = `${method} ${path}`
    if (!op.summary) problems.push(`${at}: no summary`)
    if (!op.operationId) problems.push(`${at}: no operationId`)
    if ((op.tags ?? []).length !== 1) problems.push(`${at}: not in exactly one tag`)
    const statuses = Object.keys(op.responses)
    if (!statuses.some((s) => s.startsWith('2'))) problems.push(`${at}: no success answer`)
    for (const [status, r] of Object.entries(op.responses)) {
      if (!r.description || r.description === 'Default Response') problems.push(`${at} ${status}: no description`)
      for (const [type, media] of Object.entries(r.content ?? {})) if (media.schema === undefined) problems.push(`${at} ${status} ${type}: no schema`)
      if (status !== '204' && r.content === undefined) problems.push(`${at} ${status}: no content`)
    }
    if (op.requestBody !== undefined && op.requestBody.content?.['application/json']?.schema === undefined) problems.push(`${at}: request body without a JSON schema`)
    if (path.startsWith('/v1/')) {
      const action = op['x-portcullis-action']
      if (typeof action !== 'string' || !actions.includes(action)) problems.push(`${at}: x-portcullis-action ${String(action)} is not an admin action`)
      if (typeof op['x-portcullis-resource'] !== 'string' || !op['x-portcullis-resource'].startsWith('admin:')) problems.push(`${at}: no x-portcullis-resource`)
      const schemes = Object.keys(op.security?.[0] ?? {}).sort()
      if (op.security?.length !== 1 || schemes.join() !== [...signedSchemes].sort().join()) problems.push(`${at}: security is not the request signature (${JSON.stringify(op.security)})`)
      const codes = (status: string): string[] => {
        const schema = op.responses[status]?.content?.['application/json']?.schema as { properties?: { code?: { enum?: string[] } } } | undefined
        return schema?.properties?.code?.enum ?? []
      }
      for (const code of ['SIGNATURE_MISSING', 'SIGNATURE_INVALID', 'SIGNATURE_EXPIRED', 'NONCE_REUSED']) if (!codes('401').includes(code)) problems.push(`${at}: 401 lacks ${code}`)
      if (!codes('403').includes('ACCESS_DENIED')) problems.push(`${at}: 403 lacks ACCESS_DENIED`)
      if (!codes('400').includes('VALIDATION_FAILED')) problems.push(`${at}: 400 lacks VALIDATION_FAILED`)
      // Only methods with a body are parsed, so only they can exceed the body limit: a route
      // declared with another method than it is registered with shows here.
      if ((method === 'GET') === codes('413').includes('BODY_TOO_LARGE')) problems.push(`${at}: BODY_TOO_LARGE ${method === 'GET' ? 'documented on a GET' : 'missing'}`)
    } else if (JSON.stringify(op.security) !== '[]') {
      problems.push(`${at}: unsigned, yet its security is ${JSON.stringify(op.security)}`)
    }
  }
  return problems
}

/** The error codes an operation documents, over all its statuses. */
export function errorCodes(op: Operation): string[] {
  const codes = new Set<string>()
  for (const r of Object.values(op.responses)) {
    const schema = r.content?.['application/json']?.schema as { properties?: { code?: { enum?: string[] } } } | undefined
    for (const code of schema?.properties?.code?.enum ?? []) codes.add(code)
  }
  return [...codes].sort()
}

/**
 * The markdown table of docs/admin-api.md: every operation, its action and resource, its success
 * statuses and the error codes it gives beyond the ones every signed operation gives.
 */
export function routeTable(doc: OpenApiDocument): string {
  const ops = operations(doc)
  const signed = ops.filter(({ path }) => path.startsWith('/v1/'))
  const common = signed.map(({ op }) => errorCodes(op)).reduce((a, b) => a.filter((c) => b.includes(c)))
  const rows = ops.map(({ method, path, op }) => {
    const success = Object.keys(op.responses).filter((s) => s.startsWith('2')).join(', ')
    const own = path.startsWith('/v1/') ? errorCodes(op).filter((c) => !common.includes(c)) : errorCodes(op)
    const action = op['x-portcullis-action'] ?? '(unsigned)'
    const resource = op['x-portcullis-resource'] ?? ''
    return `| \`${method}\` | \`${path}\` | ${action === '(unsigned)' ? action : `\`${action}\``} | ${resource === '' ? '' : `\`${resource}\``} | ${success} | ${own.map((c) => `\`${c}\``).join(' ')} |`
  })
  return [
    `Every signed operation can also answer ${common.map((c) => `\`${c}\``).join(', ')}.`,
    '',
    '| method | path | action | resource | success | other error codes |',
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n')
}
