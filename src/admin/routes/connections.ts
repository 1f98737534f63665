import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { PortcullisError } from '../../errors'
import { asConnId } from '../../ids'
import { sessionViewSchema } from '../../proxy/session-view-schema'
import type { AdminContext } from '../context'
import { signedRoute } from '../openapi/operation'
import { pageQuery, pageSchema, paginate } from '../pagination'
import { auditedChange, parseQuery } from '../request'

const listQuery = z.strictObject({ instanceId: z.string().min(1).optional().describe('only the sessions of this instance'), ...pageQuery })
const connParams = z.object({ connId: z.string().min(1).describe('the connId of a live session (GET /v1/connections)') })

/** `GET /v1/connections[?instanceId]`, `DELETE /v1/connections/{connId}` (kick, DESIGN §3). */
export function connectionRoutes(ctx: AdminContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/connections', signedRoute('GET', 'admin:ListConnections', {
      tag: 'Connections', summary: 'List live sessions', description: 'The sessions of every replica and worker, by connId.', query: listQuery,
      responses: { 200: { description: 'A page of sessions', json: pageSchema(sessionViewSchema, 'ConnectionPage') } },
    }), async (req) => {
      const { instanceId, ...page } = parseQuery(listQuery, req)
      const sessions = await ctx.sessions.list(instanceId === undefined ? {} : { instanceId })
      return paginate(sessions, page, (s) => s.connId)
    })

    app.delete<{ Params: { connId: string } }>('/connections/:connId', signedRoute('DELETE', 'admin:KickConnection', {
      tag: 'Connections', summary: 'Kick a live session',
      description: 'The session gets its protocol\'s goodbye (MQTT 5 DISCONNECT, AMQP Connection.Close) and is closed, on whichever replica holds it; audited as session.kicked with reason ADMIN_KICK.',
      params: connParams, responses: { 204: { description: 'Told to close' } }, errors: ['NOT_FOUND'],
    }), async (req, reply) => {
      const { connId } = req.params
      await auditedChange(ctx, req, { type: 'admin.connection.kick', target: { connId } }, async () => {
        // The session registry writes the `session.kicked` event with reason ADMIN_KICK.
        if (!(await ctx.sessions.kick(asConnId(connId), 'ADMIN_KICK'))) {
          throw new PortcullisError('NOT_FOUND', `connection ${connId} is not live`)
        }
        return { result: undefined }
      })
      return reply.status(204).send()
    })
  }
}
