import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { withAction } from '../authorization/route-action'
import type { AdminContext } from '../context'
import { pageQuery, paginate } from '../pagination'
import { auditedChange, parseBody, parseQuery } from '../request'

const registerBody = z.strictObject({
  caCertificate: z.string().min(1).max(64 * 1024),
  verificationCertificate: z.string().min(1).max(64 * 1024),
  status: z.enum(['ACTIVE', 'INACTIVE']).optional(),
})
const listQuery = z.strictObject({ ...pageQuery })
const noQuery = z.strictObject({})

type InstanceParams = { Params: { id: string } }
type CaParams = { Params: { id: string; caId: string } }

/**
 * Registration code and CA certificates of an instance (DESIGN §1 "MQTT client certificates",
 * §3 routes). The instance is looked up first so that a wrong instance id answers 404 rather than
 * an empty list.
 */
export function caRoutes(ctx: AdminContext): FastifyPluginAsync {
  const instanceOf = async (req: FastifyRequest<InstanceParams>): Promise<string> => (await ctx.instances.get(req.params.id)).id

  return async (app) => {
    app.post<InstanceParams>('/instances/:id/registration-code', withAction('admin:CreateRegistrationCode'), async (req) => {
      const instanceId = req.params.id
      return auditedChange(ctx, req, { type: 'admin.registrationCode.issue', instanceId, target: { instanceId } }, async () => {
        await instanceOf(req)
        const issued = await ctx.codes.issue(instanceId)
        // The code itself stays out of the audit: with it and a CA key, anyone could register.
        return { result: issued, after: { expiresAt: issued.expiresAt } }
      })
    })

    app.post<InstanceParams>('/instances/:id/cas', withAction('admin:RegisterCa'), async (req, reply) => {
      const instanceId = req.params.id
      const detail = await auditedChange(ctx, req, { type: 'admin.ca.register', instanceId, target: { instanceId } }, async () => {
        const body = parseBody(registerBody, req)
        await instanceOf(req)
        const { after } = await ctx.cas.register(instanceId, {
          caCertificate: body.caCertificate,
          verificationCertificate: body.verificationCertificate,
          ...(body.status !== undefined ? { status: body.status } : {}),
        })
        return { result: after, after }
      })
      return reply.status(201).send(detail)
    })

    app.get<InstanceParams>('/instances/:id/cas', withAction('admin:ListCas'), async (req) => {
      const query = parseQuery(listQuery, req)
      return paginate(await ctx.cas.list(await instanceOf(req)), query, (ca) => ca.id)
    })

    app.get<CaParams>('/instances/:id/cas/:caId', withAction('admin:GetCa'), async (req) => {
      parseQuery(noQuery, req)
      return ctx.cas.get(await instanceOf(req), req.params.caId)
    })

    for (const [action, adminAction] of [['activate', 'admin:ActivateCa'], ['deactivate', 'admin:DeactivateCa']] as const) {
      app.post<CaParams>(`/instances/:id/cas/:caId/${action}`, withAction(adminAction), async (req) => {
        const { id: instanceId, caId } = req.params
        return auditedChange(ctx, req, { type: `admin.ca.${action}`, instanceId, target: { instanceId, caId } }, async () => {
          await instanceOf(req)
          const change = await ctx.cas[action](instanceId, caId)
          return { result: change.after, ...change }
        })
      })
    }

    app.delete<CaParams>('/instances/:id/cas/:caId', withAction('admin:DeleteCa'), async (req, reply) => {
      const { id: instanceId, caId } = req.params
      await auditedChange(ctx, req, { type: 'admin.ca.delete', instanceId, target: { instanceId, caId } }, async () => {
        await instanceOf(req)
        const { before, deletedDevices } = await ctx.cas.delete(instanceId, caId)
        return { result: undefined, before, after: { deletedDevices } }
      })
      return reply.status(204).send()
    })
  }
}
