import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { followAudit, LocalAuditQuery, MAX_QUERY_LIMIT, type AuditQuery } from '../../audit/query'
import { PortcullisError } from '../../errors'
import { withAction } from '../authorization/route-action'
import type { AdminContext } from '../context'
import { parseQuery } from '../request'
import { DEFAULT_SSE_OPTIONS, SseStream } from '../sse'

const filterFields = {
  type: z.string().min(1).max(200).optional(),
  instanceId: z.string().min(1).max(200).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_QUERY_LIMIT).optional(),
}
const listQuery = z.strictObject({ since: z.string().min(1).optional(), until: z.string().min(1).optional(), ...filterFields })
/** A live stream has no `until`; `since` replays the history from then before going live. */
const streamQuery = z.strictObject({ since: z.string().min(1).optional(), ...filterFields })

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

    app.get('/audit', withAction('admin:ListAudit'), async (req) => source().query(parseQuery(listQuery, req)))

    app.get('/audit/stream', withAction('admin:StreamAudit'), async (req, reply) => {
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
