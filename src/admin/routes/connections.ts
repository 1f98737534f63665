import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { PortcullisError } from '../../errors'
import { asConnId } from '../../ids'
import { withAction } from '../authorization/route-action'
import type { AdminContext } from '../context'
import { pageQuery, paginate } from '../pagination'
import { auditedChange, parseQuery } from '../request'

const listQuery = z.strictObject({ instanceId: z.string().min(1).optional(), ...pageQuery })

/** `GET /v1/connections[?instanceId]`, `DELETE /v1/connections/{connId}` (kick, DESIGN §3). */
export function connectionRoutes(ctx: AdminContext): FastifyPluginAsync {
  return async (app) => {
    app.get('/connections', withAction('admin:ListConnections'), async (req) => {
      const { instanceId, ...page } = parseQuery(listQuery, req)
      const sessions = await ctx.sessions.list(instanceId === undefined ? {} : { instanceId })
      return paginate(sessions, page, (s) => s.connId)
    })

    app.delete<{ Params: { connId: string } }>('/connections/:connId', withAction('admin:KickConnection'), async (req, reply) => {
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
