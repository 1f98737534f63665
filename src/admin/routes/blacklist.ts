import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { BLACKLIST_KINDS, blacklistAddSchema } from '../../blacklist/blacklist-entry'
import { blacklistEntryViewSchema } from '../../blacklist/entry-view-schema'
import { INSTANCE_ID } from '../../instances/instance-schema'
import type { AdminContext } from '../context'
import { signedRoute } from '../openapi/operation'
import { noQuery } from '../openapi/params'
import { pageQuery, pageSchema, paginate } from '../pagination'
import { auditedChange, parseBody, parseQuery } from '../request'

const listQuery = z.strictObject({
  instanceId: z.string().min(1).optional(),
  kind: z.enum(BLACKLIST_KINDS).optional(),
  includeExpired: z.enum(['true', 'false']).optional().describe('true: list entries whose expiresAt has passed too'),
  ...pageQuery,
})
const entryParams = z.object({ id: z.string().min(1).describe('the entry id') })
const entry = { description: 'The entry', json: blacklistEntryViewSchema }

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
    app.post('/blacklist', signedRoute('POST', 'admin:AddBlacklistEntry', {
      tag: 'Blacklist', summary: 'Add a blacklist entry',
      description: 'New connections that match are refused BLACKLISTED and live ones are closed, on every replica. The value is stored in canonical form (an ip as Node prints it, a certFingerprint as 64 lowercase hex digits); the same target still in force is ALREADY_EXISTS; an unknown instanceId NOT_FOUND.',
      body: blacklistAddSchema, responses: { 201: { description: 'The entry', json: blacklistEntryViewSchema } }, errors: ['NOT_FOUND', 'ALREADY_EXISTS'],
    }), async (req, reply) => {
      const entry = await auditedChange(ctx, req, { type: 'admin.blacklist.add', ...instanceOfBody(req.body) }, async () => {
        const body = parseBody(blacklistAddSchema, req)
        // The signature hook has run on every /v1 route, so the signer is known here.
        const after = await ctx.blacklist.add(body, req.accessKeyId ?? 'unknown')
        return { result: after, after }
      })
      return reply.status(201).send(entry)
    })

    app.get('/blacklist', signedRoute('GET', 'admin:ListBlacklist', {
      tag: 'Blacklist', summary: 'List blacklist entries', query: listQuery,
      responses: { 200: { description: 'A page of entries, by id', json: pageSchema(blacklistEntryViewSchema, 'BlacklistPage') } },
    }), async (req) => {
      const { instanceId, kind, includeExpired, ...page } = parseQuery(listQuery, req)
      const entries = await ctx.blacklist.list({
        ...(instanceId !== undefined ? { instanceId } : {}),
        ...(kind !== undefined ? { kind } : {}),
        includeExpired: includeExpired === 'true',
      })
      return paginate(entries, page, (e) => e.id)
    })

    app.get<EntryParams>('/blacklist/:id', signedRoute('GET', 'admin:GetBlacklistEntry', {
      tag: 'Blacklist', summary: 'Show a blacklist entry', params: entryParams, query: noQuery, responses: { 200: entry }, errors: ['NOT_FOUND'],
    }), async (req) => {
      parseQuery(noQuery, req)
      return ctx.blacklist.get(req.params.id)
    })

    app.delete<EntryParams>('/blacklist/:id', signedRoute('DELETE', 'admin:RemoveBlacklistEntry', {
      tag: 'Blacklist', summary: 'Remove a blacklist entry', params: entryParams, responses: { 204: { description: 'Removed' } }, errors: ['NOT_FOUND'],
    }), async (req, reply) => {
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
