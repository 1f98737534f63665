import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { instanceView } from '../../instances/instance-view'
import { withAction } from '../authorization/route-action'
import type { AdminContext } from '../context'
import { pageQuery, paginate } from '../pagination'
import { auditedChange, parseQuery, type ChangeSpec } from '../request'

const listQuery = z.strictObject({ ...pageQuery })
const noQuery = z.strictObject({})
const deleteQuery = z.strictObject({ force: z.enum(['true', 'false']).optional() })

/** `POST/GET /v1/instances`, `GET/PATCH/DELETE /v1/instances/{id}` (DESIGN §3). */
export function instanceRoutes(ctx: AdminContext): FastifyPluginAsync {
  return async (app) => {
    app.post('/instances', withAction('admin:CreateInstance'), async (req, reply) => {
      const body = req.body as { id?: unknown } | undefined
      const id = typeof body?.id === 'string' ? body.id : undefined
      const spec: ChangeSpec = id === undefined ? { type: 'admin.instance.create' } : { type: 'admin.instance.create', instanceId: id, target: { instanceId: id } }
      const view = await auditedChange(ctx, req, spec, async () => {
        const { after } = await ctx.instances.create(req.body)
        return { result: after, after }
      })
      return reply.status(201).send(view)
    })

    app.get('/instances', withAction('admin:ListInstances'), async (req) => {
      const query = parseQuery(listQuery, req)
      const all = (await ctx.instances.list()).map(instanceView)
      return paginate(all, query, (v) => v.id)
    })

    app.get<{ Params: { id: string } }>('/instances/:id', withAction('admin:GetInstance'), async (req) => {
      parseQuery(noQuery, req)
      return instanceView(await ctx.instances.get(req.params.id))
    })

    app.patch<{ Params: { id: string } }>('/instances/:id', withAction('admin:UpdateInstance'), async (req) => {
      const { id } = req.params
      return auditedChange(ctx, req, { type: 'admin.instance.update', instanceId: id, target: { instanceId: id } }, async () => {
        const { before, after } = await ctx.instances.patch(id, req.body)
        return { result: after, before, after }
      })
    })

    // `?force=true` deletes an instance that still holds ACTIVE CAs or devices (else 409
    // INSTANCE_IN_USE); the audit event says it was forced and what the instance held.
    app.delete<{ Params: { id: string } }>('/instances/:id', withAction('admin:DeleteInstance'), async (req, reply) => {
      const { id } = req.params
      const { force } = parseQuery(deleteQuery, req)
      await auditedChange(ctx, req, { type: 'admin.instance.delete', instanceId: id, target: { instanceId: id } }, async () => {
        const { before, held, forced } = await ctx.instances.delete(id, { force: force === 'true' })
        return { result: undefined, before, details: { forced, held: { activeCas: held.activeCas, activeDevices: held.activeDevices } } }
      })
      return reply.status(204).send()
    })
  }
}
