import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { auditQueryResultSchema } from '../../audit/event-schema'
import { DEFAULT_QUERY_LIMIT, followAudit, LocalAuditQuery, MAX_QUERY_LIMIT, type AuditQuery } from '../../audit/query'
import { PortcullisError } from '../../errors'
import type { AdminContext } from '../context'
import { signedRoute } from '../openapi/operation'
import { parseQuery } from '../request'
import { DEFAULT_SSE_OPTIONS, SseStream } from '../sse'

const filterFields = {
  type: z.string().min(1).max(200).optional().describe('an event type, e.g. connection.rejected or admin.ca.register'),
  instanceId: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_QUERY_LIMIT).optional().describe(`at most this many events (the most recent); default ${DEFAULT_QUERY_LIMIT}`),
}
const since = z.string().min(1).optional().describe('ISO 8601 time: events from then on')
const listQuery = z.strictObject({ since, until: z.string().min(1).optional().describe('ISO 8601 time: events before then'), ...filterFields })
/** A live stream has no `until`; `since` replays the history from then before going live. */
const streamQuery = z.strictObject({ since, ...filterFields })
const SSE_FORMAT = 'Server-sent events: `: connected` first, then per audit event `id: <event id>` and `data: <the AuditEvent as one line of JSON>` (the AuditEvent schema of GET /v1/audit), and a `: heartbeat` comment every 15 s.'
const sseBody = z.string().regex(/^: connected\n\n/).describe(SSE_FORMAT)
/** Either source may say it has no events to query (NOT_FOUND); a Redis stream source may be down. */
const AUDIT_ERRORS = ['NOT_FOUND'] as const

/**
 * `GET /v1/audit?since&until&type&instanceId&limit` → `{items}` oldest first (plus
 * `scanLimitReached: true` when a Redis source stopped at its scan cap), and
 * `GET /v1/audit/stream` as server-sent events (DESIGN §3). Both are signed like every /v1 route:
 * the signature hook runs before the handler, so a stream is opened only for a verified request,
 * and one signature opens one stream (the nonce is spent; a reconnecting client signs again).
 */
export function auditRoutes(ctx: AdminContext): FastifyPluginAsync {
  const open = new Set<SseStream>()
  let localQuery: AuditQuery | undefined
  const source = (): AuditQuery => {
    if (ctx.auditQuery !== undefined) return ctx.auditQuery
    const { audit } = ctx
    if (audit.recent === undefined || audit.subscribe === undefined) {
      throw new PortcullisError('NOT_FOUND', 'this gateway keeps no queryable audit events')
    }
    localQuery ??= new LocalAuditQuery({ recent: audit.recent.bind(audit), subscribe: audit.subscribe.bind(audit) })
    return localQuery
  }

  return async (app) => {
    // A live stream would hold server.close() open for ever: end them before the server closes.
    app.addHook('preClose', async () => {
      for (const stream of open) stream.end()
    })

    app.get('/audit', signedRoute('GET', 'admin:ListAudit', {
      tag: 'Audit', summary: 'Query the audit log',
      description: 'Matching events, oldest first: the most recent `limit` of them. With a redis-stream sink, the stream of every replica; else this process\'s recent events.',
      query: listQuery, responses: { 200: { description: 'The events', json: auditQueryResultSchema } }, errors: AUDIT_ERRORS,
    }), async (req) => source().query(parseQuery(listQuery, req)))

    app.get('/audit/stream', signedRoute('GET', 'admin:StreamAudit', {
      tag: 'Audit', summary: 'Follow the audit log live (server-sent events)',
      description: 'One signature opens one stream; a reconnecting client signs again (with `since` to replay what it missed). A reader that falls 1 MiB behind is disconnected; too many events arriving while the history is read is CONFLICT (retry).',
      query: streamQuery, responses: { 200: { description: SSE_FORMAT, media: { 'text/event-stream': sseBody } } }, errors: [...AUDIT_ERRORS, 'CONFLICT'],
    }), async (req, reply) => {
      const filter = parseQuery(streamQuery, req)
      const stream = new SseStream(reply.raw, { ...DEFAULT_SSE_OPTIONS, ...ctx.auditStream })
      // Subscribing (and reading the history) happens before the reply is taken over, so that a
      // failure still answers as JSON with its status; events that arrive meanwhile are held.
      const stop = await followAudit(source(), filter, (event) => stream.send(event.id, JSON.stringify(event)))
      open.add(stream)
      stream.onClose(() => {
        stop()
        open.delete(stream)
        req.log.info('audit stream closed')
      })
      reply.hijack()
      stream.open({ 'x-request-id': req.id })
      req.log.info({ path: '/v1/audit/stream' }, 'audit stream opened')
    })
  }
}
