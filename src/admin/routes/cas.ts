import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { caDetailSchema, caViewSchema, registrationCodeSchema } from '../../ca/view-schemas'
import type { AdminContext } from '../context'
import { signedRoute } from '../openapi/operation'
import { certificateId, instanceId, instanceParams, noQuery } from '../openapi/params'
import { pageQuery, pageSchema, paginate } from '../pagination'
import { auditedChange, parseBody, parseQuery } from '../request'

const registerBody = z.strictObject({
  caCertificate: z.string().min(1).max(64 * 1024),
  verificationCertificate: z.string().min(1).max(64 * 1024),
  status: z.enum(['ACTIVE', 'INACTIVE']).optional(),
})
const listQuery = z.strictObject({ ...pageQuery })
const caParams = z.object({ id: instanceId, caId: certificateId })

/** What a registration can fail on (DESIGN §1): the certificates, the code, the proof, the limit. */
const REGISTRATION_ERRORS = [
  'NOT_FOUND', 'CA_NOT_A_CA', 'CERT_INVALID', 'CERT_NOT_VALID_NOW', 'REGISTRATION_CODE_INVALID', 'REGISTRATION_CODE_MISSING',
  'VERIFICATION_SIGNATURE_INVALID', 'CA_DUPLICATE', 'CA_LIMIT_EXCEEDED',
] as const

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
    app.post<InstanceParams>('/instances/:id/registration-code', signedRoute('POST', 'admin:CreateRegistrationCode', {
      tag: 'CA certificates', summary: 'Issue a registration code',
      description: 'The code replaces the previous one; it is single use and expires after 1 hour. Make a verification certificate with CN = the code, signed by the CA key, and register the CA with it.',
      params: instanceParams, responses: { 200: { description: 'The code', json: registrationCodeSchema } }, errors: ['NOT_FOUND'],
    }), async (req) => {
      const instanceId = req.params.id
      return auditedChange(ctx, req, { type: 'admin.registrationCode.issue', instanceId, target: { instanceId } }, async () => {
        await instanceOf(req)
        const issued = await ctx.codes.issue(instanceId)
        // The code itself stays out of the audit: with it and a CA key, anyone could register.
        return { result: issued, after: { expiresAt: issued.expiresAt } }
      })
    })

    app.post<InstanceParams>('/instances/:id/cas', signedRoute('POST', 'admin:RegisterCa', {
      tag: 'CA certificates', summary: 'Register a CA certificate',
      description: 'Proof of possession: the verification certificate must carry the current registration code as CN, be signed by the CA key and be within its validity, as must the CA. At most 32 CAs per instance; roots or intermediates.',
      params: instanceParams, body: registerBody, responses: { 201: { description: 'The registered CA', json: caDetailSchema } }, errors: REGISTRATION_ERRORS,
    }), async (req, reply) => {
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

    app.get<InstanceParams>('/instances/:id/cas', signedRoute('GET', 'admin:ListCas', {
      tag: 'CA certificates', summary: 'List the CA certificates of an instance', params: instanceParams, query: listQuery,
      responses: { 200: { description: 'A page of CAs, by id', json: pageSchema(caViewSchema, 'CaCertificatePage') } }, errors: ['NOT_FOUND'],
    }), async (req) => {
      const query = parseQuery(listQuery, req)
      return paginate(await ctx.cas.list(await instanceOf(req)), query, (ca) => ca.id)
    })

    app.get<CaParams>('/instances/:id/cas/:caId', signedRoute('GET', 'admin:GetCa', {
      tag: 'CA certificates', summary: 'Show a CA certificate, with its PEM', params: caParams, query: noQuery,
      responses: { 200: { description: 'The CA', json: caDetailSchema } }, errors: ['NOT_FOUND'],
    }), async (req) => {
      parseQuery(noQuery, req)
      return ctx.cas.get(await instanceOf(req), req.params.caId)
    })

    for (const [action, adminAction] of [['activate', 'admin:ActivateCa'], ['deactivate', 'admin:DeactivateCa']] as const) {
      app.post<CaParams>(`/instances/:id/cas/:caId/${action}`, signedRoute('POST', adminAction, {
        tag: 'CA certificates',
        summary: action === 'activate' ? 'Activate a CA certificate' : 'Deactivate a CA certificate',
        ...(action === 'deactivate' ? { description: 'Clients whose certificates chain to it are refused CA_INACTIVE from now on, and live ones are disconnected (CA_DEACTIVATED), on every replica.' } : {}),
        params: caParams, responses: { 200: { description: 'The CA after the change', json: caViewSchema } }, errors: ['NOT_FOUND'],
      }), async (req) => {
        const { id: instanceId, caId } = req.params
        return auditedChange(ctx, req, { type: `admin.ca.${action}`, instanceId, target: { instanceId, caId } }, async () => {
          await instanceOf(req)
          const change = await ctx.cas[action](instanceId, caId)
          return { result: change.after, ...change }
        })
      })
    }

    app.delete<CaParams>('/instances/:id/cas/:caId', signedRoute('DELETE', 'admin:DeleteCa', {
      tag: 'CA certificates', summary: 'Delete a CA certificate',
      description: 'Refused while an ACTIVE device certificate exists under it (CA_HAS_ACTIVE_DEVICES); its INACTIVE and REVOKED device records go with it.',
      params: caParams, responses: { 204: { description: 'Deleted' } }, errors: ['NOT_FOUND', 'CA_HAS_ACTIVE_DEVICES'],
    }), async (req, reply) => {
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
