import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { createInstanceSchema, patchInstanceSchema } from '../../instances/instance-schema'
import { instanceView } from '../../instances/instance-view'
import { instanceViewSchema } from '../../instances/instance-view-schema'
import type { AdminContext } from '../context'
import { signedRoute } from '../openapi/operation'
import { instanceParams, noQuery } from '../openapi/params'
import { pageQuery, pageSchema, paginate } from '../pagination'
import { auditedChange, parseQuery, type ChangeSpec } from '../request'

const listQuery = z.strictObject({ ...pageQuery })
const deleteQuery = z.strictObject({ force: z.enum(['true', 'false']).optional().describe('true: delete even while ACTIVE CAs or devices remain') })
const instance = { description: 'The instance (secrets replaced by flags)', json: instanceViewSchema }

/** Body errors the instance service gives: a bad field, a server certificate that does not parse. */
const bodyErrors = ['VALIDATION_FAILED', 'CERT_INVALID'] as const

/** `POST/GET /v1/instances`, `GET/PATCH/DELETE /v1/instances/{id}` (DESIGN §3). */
export function instanceRoutes(ctx: AdminContext): FastifyPluginAsync {
  return async (app) => {
    app.post('/instances', signedRoute('POST', 'admin:CreateInstance', {
      tag: 'Instances', summary: 'Create an instance',
      description: 'A hostname already served by another instance, or an existing id, is ALREADY_EXISTS. The backend password and server private key are stored sealed.',
      body: createInstanceSchema, responses: { 201: instance }, errors: [...bodyErrors, 'ALREADY_EXISTS'],
    }), async (req, reply) => {
      const body = req.body as { id?: unknown } | undefined
      const id = typeof body?.id === 'string' ? body.id : undefined
      const spec: ChangeSpec = id === undefined ? { type: 'admin.instance.create' } : { type: 'admin.instance.create', instanceId: id, target: { instanceId: id } }
      const view = await auditedChange(ctx, req, spec, async () => {
        const { after } = await ctx.instances.create(req.body)
        return { result: after, after }
      })
      return reply.status(201).send(view)
    })

    app.get('/instances', signedRoute('GET', 'admin:ListInstances', {
      tag: 'Instances', summary: 'List instances', query: listQuery,
      responses: { 200: { description: 'A page of instances, by id', json: pageSchema(instanceViewSchema, 'InstancePage') } },
    }), async (req) => {
      const query = parseQuery(listQuery, req)
      const all = (await ctx.instances.list()).map(instanceView)
      return paginate(all, query, (v) => v.id)
    })

    app.get<{ Params: { id: string } }>('/instances/:id', signedRoute('GET', 'admin:GetInstance', {
      tag: 'Instances', summary: 'Show an instance', params: instanceParams, query: noQuery, responses: { 200: instance }, errors: ['NOT_FOUND'],
    }), async (req) => {
      parseQuery(noQuery, req)
      return instanceView(await ctx.instances.get(req.params.id))
    })

    app.patch<{ Params: { id: string } }>('/instances/:id', signedRoute('PATCH', 'admin:UpdateInstance', {
      tag: 'Instances', summary: 'Change an instance',
      description: 'JSON merge patch for `backend` and `options` (a `null` member removes it); `hostnames` replaces the list; `vpcId: null` and `serverCertificate: null` remove them. A new server certificate applies to new handshakes at once.',
      params: instanceParams, body: patchInstanceSchema, responses: { 200: instance }, errors: [...bodyErrors, 'NOT_FOUND', 'ALREADY_EXISTS'],
    }), async (req) => {
      const { id } = req.params
      return auditedChange(ctx, req, { type: 'admin.instance.update', instanceId: id, target: { instanceId: id } }, async () => {
        const { before, after } = await ctx.instances.patch(id, req.body)
        return { result: after, before, after }
      })
    })

    // `?force=true` deletes an instance that still holds ACTIVE CAs or devices (else 409
    // INSTANCE_IN_USE); the audit event says it was forced and what the instance held.
    app.delete<{ Params: { id: string } }>('/instances/:id', signedRoute('DELETE', 'admin:DeleteInstance', {
      tag: 'Instances', summary: 'Delete an instance', params: instanceParams, query: deleteQuery,
      responses: { 204: { description: 'Deleted, with its CAs, devices and static accounts' } }, errors: ['NOT_FOUND', 'INSTANCE_IN_USE'],
    }), async (req, reply) => {
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
