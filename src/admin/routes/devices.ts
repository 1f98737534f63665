import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { deviceDetailSchema, deviceViewSchema } from '../../ca/view-schemas'
import type { AdminContext } from '../context'
import { signedRoute } from '../openapi/operation'
import { certificateId, instanceId, instanceParams } from '../openapi/params'
import { pageQuery, pageSchema, paginate } from '../pagination'
import { auditedChange, parseBody, parseQuery } from '../request'

const DEVICE_STATUS = z.enum(['ACTIVE', 'INACTIVE', 'REVOKED'])
const listQuery = z.strictObject({ caId: z.string().min(1).optional().describe('only the devices under this CA'), status: DEVICE_STATUS.optional(), ...pageQuery })
const showQuery = z.strictObject({ format: z.enum(['json', 'pem']).optional().describe('pem: the certificate file itself (application/x-pem-file)') })
const deviceParams = z.object({ id: instanceId, deviceId: certificateId })
const DESCRIBE_VERB = {
  activate: { summary: 'Activate a device certificate', description: 'A REVOKED device cannot be activated (DEVICE_REVOKED).' },
  deactivate: { summary: 'Deactivate a device certificate', description: 'Its connections are refused DEVICE_CERT_INACTIVE from now on and live ones are closed, on every replica. A REVOKED device stays REVOKED (DEVICE_REVOKED).' },
  revoke: { summary: 'Revoke a device certificate', description: 'Terminal: its connections are refused DEVICE_CERT_REVOKED and live ones closed, on every replica. Revoking a REVOKED device changes nothing.' },
} as const
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
    app.get<InstanceParams>('/instances/:id/devices', signedRoute('GET', 'admin:ListDevices', {
      tag: 'Device certificates', summary: 'List the device certificates of an instance', params: instanceParams, query: listQuery,
      responses: { 200: { description: 'A page of devices, by id', json: pageSchema(deviceViewSchema, 'DeviceCertificatePage') } }, errors: ['NOT_FOUND'],
    }), async (req) => {
      const { caId, status, ...page } = parseQuery(listQuery, req)
      const devices = await ctx.devices.list(await instanceOf(req), {
        ...(caId !== undefined ? { caId } : {}),
        ...(status !== undefined ? { status } : {}),
      })
      return paginate(devices, page, (d) => d.id)
    })

    app.get<DeviceParams>('/instances/:id/devices/:deviceId', signedRoute('GET', 'admin:GetDevice', {
      tag: 'Device certificates', summary: 'Show or download a device certificate', params: deviceParams, query: showQuery,
      responses: {
        200: { description: 'The device (JSON), or with format=pem its certificate as an attachment', json: deviceDetailSchema, media: { 'application/x-pem-file': z.string().regex(/^-----BEGIN CERTIFICATE-----/) } },
      },
      errors: ['NOT_FOUND'],
    }), async (req, reply) => {
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

    app.post<InstanceParams>('/instances/:id/devices', signedRoute('POST', 'admin:RegisterDevice', {
      tag: 'Device certificates', summary: 'Register a device certificate ahead of its first connection',
      description: 'It must be issued directly by a CA registered on the instance, whatever that CA\'s status (DEVICE_NOT_UNDER_CA).',
      params: instanceParams, body: registerBody, responses: { 201: { description: 'The registered device', json: deviceDetailSchema } },
      errors: ['NOT_FOUND', 'CERT_INVALID', 'DEVICE_NOT_UNDER_CA', 'ALREADY_EXISTS'],
    }), async (req, reply) => {
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
      app.post<DeviceParams>(`/instances/:id/devices/:deviceId/${action}`, signedRoute('POST', adminAction, {
        tag: 'Device certificates', ...DESCRIBE_VERB[action], params: deviceParams,
        responses: { 200: { description: 'The device after the change', json: deviceViewSchema } },
        errors: action === 'revoke' ? ['NOT_FOUND'] : ['NOT_FOUND', 'DEVICE_REVOKED'],
      }), async (req) => {
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
