import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { BLACKLIST_KINDS, blacklistAddSchema } from '../../blacklist/blacklist-entry'
import { INSTANCE_ID } from '../../instances/instance-schema'
import { withAction } from '../authorization/route-action'
import type { AdminContext } from '../context'
import { pageQuery, paginate } from '../pagination'
import { auditedChange, parseBody, parseQuery } from '../request'

const listQuery = z.strictObject({
  instanceId: z.string().min(1).optional(),
  kind: z.enum(BLACKLIST_KINDS).optional(),
  includeExpired: z.enum(['true', 'false']).optional(),
  ...pageQuery,
})
const noQuery = z.strictObject({})

type EntryParams = { Params: { id: string } }

/**
 * The account blacklist (DESIGN §1 "Account blacklist"; §3 `POST/GET /v1/blacklist`,
 * `DELETE /v1/blacklist/{entryId}`). Entries are answered with an `expired` flag; expired ones are
 * listed only with `includeExpired=true` (blacklist/blacklist-service.ts says why).
 *
 * Refusing new connections (BLACKLISTED; MQTT 5 CONNACK 0x8A) and closing the matching live
 * sessions is the data path's reaction to the store change, not this route's. The actor recorded
 * on an entry is the AccessKey that signed the request, as in its audit event.
 */
export function blacklistRoutes(ctx: AdminContext): FastifyPluginAsync {
  return async (app) => {
    app.post('/blacklist', withAction('admin:AddBlacklistEntry'), async (req, reply) => {
      const entry = await auditedChange(ctx, req, { type: 'admin.blacklist.add', ...instanceOfBody(req.body) }, async () => {
        const body = parseBody(blacklistAddSchema, req)
        // The signature hook has run on every /v1 route, so the signer is known here.
        const after = await ctx.blacklist.add(body, req.accessKeyId ?? 'unknown')
        return { result: after, after }
      })
      return reply.status(201).send(entry)
    })

    app.get('/blacklist', withAction('admin:ListBlacklist'), async (req) => {
      const { instanceId, kind, includeExpired, ...page } = parseQuery(listQuery, req)
      const entries = await ctx.blacklist.list({
        ...(instanceId !== undefined ? { instanceId } : {}),
        ...(kind !== undefined ? { kind } : {}),
        includeExpired: includeExpired === 'true',
      })
      return paginate(entries, page, (e) => e.id)
    })

    app.get<EntryParams>('/blacklist/:id', withAction('admin:GetBlacklistEntry'), async (req) => {
      parseQuery(noQuery, req)
      return ctx.blacklist.get(req.params.id)
    })

    app.delete<EntryParams>('/blacklist/:id', withAction('admin:RemoveBlacklistEntry'), async (req, reply) => {
      const entryId = req.params.id
      // Read first only to file the audit event under the entry's instance; a miss is answered below.
      const current = await ctx.blacklist.get(entryId).catch(() => undefined)
      const instanceId = current?.instanceId
      await auditedChange(ctx, req, { type: 'admin.blacklist.remove', target: { entryId }, ...(instanceId !== undefined ? { instanceId } : {}) }, async () => {
        const before = await ctx.blacklist.remove(entryId)
        return { result: undefined, before }
      })
      return reply.status(204).send()
    })
  }
}

/** The audit event's instanceId: the body's, when it is a well-formed one (even if the add fails). */
function instanceOfBody(body: unknown): { instanceId?: string } {
  const id = (body as { instanceId?: unknown } | null | undefined)?.instanceId
  return typeof id === 'string' && INSTANCE_ID.test(id) ? { instanceId: id } : {}
}
