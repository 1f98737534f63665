import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { withAction } from '../authorization/route-action'
import type { AdminContext } from '../context'
import { pageQuery, paginate } from '../pagination'
import { auditedChange, parseBody, parseQuery } from '../request'

const DEVICE_STATUS = z.enum(['ACTIVE', 'INACTIVE', 'REVOKED'])
const listQuery = z.strictObject({ caId: z.string().min(1).optional(), status: DEVICE_STATUS.optional(), ...pageQuery })
const showQuery = z.strictObject({ format: z.enum(['json', 'pem']).optional() })
const registerBody = z.strictObject({
  certificate: z.string().min(1).max(64 * 1024),
  status: z.enum(['ACTIVE', 'INACTIVE']).optional(),
})

type InstanceParams = { Params: { id: string } }
type DeviceParams = { Params: { id: string; deviceId: string } }

/**
 * Device certificates of an instance (DESIGN §1: list, download as PEM, activate, deactivate,
 * revoke; manual registration). Kicking the sessions of a device that stops being ACTIVE is the
 * data path's reaction to the store change, not this route's.
 */
export function deviceRoutes(ctx: AdminContext): FastifyPluginAsync {
  const instanceOf = async (req: FastifyRequest<InstanceParams>): Promise<string> => (await ctx.instances.get(req.params.id)).id

  return async (app) => {
    app.get<InstanceParams>('/instances/:id/devices', withAction('admin:ListDevices'), async (req) => {
      const { caId, status, ...page } = parseQuery(listQuery, req)
      const devices = await ctx.devices.list(await instanceOf(req), {
        ...(caId !== undefined ? { caId } : {}),
        ...(status !== undefined ? { status } : {}),
      })
      return paginate(devices, page, (d) => d.id)
    })

    app.get<DeviceParams>('/instances/:id/devices/:deviceId', withAction('admin:GetDevice'), async (req, reply) => {
      const { format } = parseQuery(showQuery, req)
      const detail = await ctx.devices.get(await instanceOf(req), req.params.deviceId)
      if (format === 'pem') {
        return reply
          .type('application/x-pem-file')
          .header('content-disposition', `attachment; filename="${detail.id}.pem"`)
          .send(detail.pem.endsWith('\n') ? detail.pem : `${detail.pem}\n`)
      }
      return detail
    })

    app.post<InstanceParams>('/instances/:id/devices', withAction('admin:RegisterDevice'), async (req, reply) => {
      const instanceId = req.params.id
      const detail = await auditedChange(ctx, req, { type: 'admin.device.register', instanceId, target: { instanceId } }, async () => {
        const body = parseBody(registerBody, req)
        await instanceOf(req)
        const { after } = await ctx.devices.registerManual(instanceId, body.certificate, body.status ?? 'ACTIVE')
        return { result: after, after }
      })
      return reply.status(201).send(detail)
    })

    const verbs = [['activate', 'admin:ActivateDevice'], ['deactivate', 'admin:DeactivateDevice'], ['revoke', 'admin:RevokeDevice']] as const
    for (const [action, adminAction] of verbs) {
      app.post<DeviceParams>(`/instances/:id/devices/:deviceId/${action}`, withAction(adminAction), async (req) => {
        const { id: instanceId, deviceId } = req.params
        return auditedChange(ctx, req, { type: `admin.device.${action}`, instanceId, target: { instanceId, deviceId } }, async () => {
          await instanceOf(req)
          const change = await ctx.devices[action](instanceId, deviceId)
          return { result: change.after, ...change }
        })
      })
    }
  }
}
