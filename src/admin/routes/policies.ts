import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { attachmentViewSchema, policyViewSchema } from '../../accounts/view-schemas'
import { policyDocumentSchema } from '../../policy/authorization/document'
import type { AdminContext } from '../context'
import { signedRoute } from '../openapi/operation'
import { noQuery } from '../openapi/params'
import { pageQuery, pageSchema, paginate } from '../pagination'
import { auditedChange, parseBody, parseQuery } from '../request'

const listQuery = z.strictObject({ ...pageQuery })
/** The principal's shape is the service's to judge (accounts/principals.ts names what is wrong). */
const attachBody = z.strictObject({
  principal: z.string().min(1).max(300).describe('account:<id>, accessKey:<id>, instance:<id>, ca:<instanceId>/<caId> or device:<instanceId>/<deviceId>'),
})
const policyName = z.string().min(1).describe('letters, digits and _ . + = @ - (at most 128, starting with a letter or digit)')
const policyParams = z.object({ name: policyName })
const attachmentParams = z.object({ name: policyName, principal: z.string().min(1).describe('the principal, percent-encoded as one path segment (ca:prod/<id> → ca%3Aprod%2F<id>)') })
const policy = { description: 'The policy', json: policyViewSchema }

type PolicyParams = { Params: { name: string } }
type AttachmentParams = { Params: { name: string; principal: string } }

/**
 * Policies and attachments (DESIGN §4): `PUT /v1/policies/{name}` (create → 201, replace → 200,
 * `version` counting the PUTs), `GET /v1/policies[/{name}]`, `DELETE /v1/policies/{name}` (409
 * POLICY_ATTACHED while attached), `POST …/{name}/attachments {principal}` (201, or 200 with the
 * existing attachment when it was already there), `GET …/attachments`,
 * `DELETE …/attachments/{principal}` with the principal percent-encoded as one path segment
 * (`ca:prod/<id>` → `ca%3Aprod%2F<id>`).
 *
 * A change to a policy or its attachments applies to the admin API at once (the authorizer reads
 * the store on every request); the data path's reaction to the store change is its own.
 */
export function policyRoutes(ctx: AdminContext): FastifyPluginAsync {
  return async (app) => {
    app.put<PolicyParams>('/policies/:name', signedRoute('PUT', 'admin:PutPolicy', {
      tag: 'Policies', summary: 'Create or replace a policy',
      description: 'Actions are `mqtt:*`, `amqp:*` and `admin:*` names or patterns; resources are patterns with `*`, MQTT `+`/`#` and `${variables}` (docs/authorization.md). Applies at once to the admin API and to live sessions on every replica. A bad name or statement is VALIDATION_FAILED naming the place.',
      params: policyParams, body: policyDocumentSchema, responses: { 201: { description: 'Created', json: policyViewSchema }, 200: { description: 'Replaced (version counts the PUTs)', json: policyViewSchema } },
    }), async (req, reply) => {
      const { name } = req.params
      const put = await auditedChange(ctx, req, { type: 'admin.policy.put', target: { policy: name } }, async () => {
        const change = await ctx.policies.put(name, req.body)
        return { result: change, before: change.before, after: change.after, details: { created: change.created } }
      })
      return reply.status(put.created ? 201 : 200).send(put.after)
    })

    app.get('/policies', signedRoute('GET', 'admin:ListPolicies', {
      tag: 'Policies', summary: 'List policies', query: listQuery,
      responses: { 200: { description: 'A page of policies, by name', json: pageSchema(policyViewSchema, 'PolicyPage') } },
    }), async (req) => {
      const query = parseQuery(listQuery, req)
      return paginate(await ctx.policies.list(), query, (p) => p.name)
    })

    app.get<PolicyParams>('/policies/:name', signedRoute('GET', 'admin:GetPolicy', {
      tag: 'Policies', summary: 'Show a policy', params: policyParams, query: noQuery, responses: { 200: policy }, errors: ['NOT_FOUND'],
    }), async (req) => {
      parseQuery(noQuery, req)
      return ctx.policies.get(req.params.name)
    })

    app.delete<PolicyParams>('/policies/:name', signedRoute('DELETE', 'admin:DeletePolicy', {
      tag: 'Policies', summary: 'Delete a policy', description: 'Refused while it is attached to any principal (POLICY_ATTACHED).',
      params: policyParams, responses: { 204: { description: 'Deleted' } }, errors: ['NOT_FOUND', 'POLICY_ATTACHED'],
    }), async (req, reply) => {
      const { name } = req.params
      await auditedChange(ctx, req, { type: 'admin.policy.delete', target: { policy: name } }, async () => {
        const { before } = await ctx.policies.delete(name)
        return { result: undefined, before }
      })
      return reply.status(204).send()
    })

    app.post<PolicyParams>('/policies/:name/attachments', signedRoute('POST', 'admin:AttachPolicy', {
      tag: 'Policies', summary: 'Attach a policy to a principal',
      description: 'The principal must exist (NOT_FOUND), except a device, which may be granted before its first connection. Attaching twice answers the first attachment with 200.',
      params: policyParams, body: attachBody, responses: { 201: { description: 'Attached', json: attachmentViewSchema }, 200: { description: 'Already attached', json: attachmentViewSchema } },
      errors: ['NOT_FOUND'],
    }), async (req, reply) => {
      const { name } = req.params
      const principal = (req.body as { principal?: unknown } | undefined)?.principal
      const target = { policy: name, ...(typeof principal === 'string' ? { principal } : {}) }
      const attached = await auditedChange(ctx, req, { type: 'admin.policy.attach', target }, async () => {
        parseBody(attachBody, req)
        const change = await ctx.policies.attach(name, principal)
        return { result: change, after: change.attachment, details: { created: change.created } }
      })
      return reply.status(attached.created ? 201 : 200).send(attached.attachment)
    })

    app.get<PolicyParams>('/policies/:name/attachments', signedRoute('GET', 'admin:ListPolicyAttachments', {
      tag: 'Policies', summary: 'List the principals a policy is attached to', params: policyParams, query: listQuery,
      responses: { 200: { description: 'A page of attachments, by principal', json: pageSchema(attachmentViewSchema, 'PolicyAttachmentPage') } }, errors: ['NOT_FOUND'],
    }), async (req) => {
      const query = parseQuery(listQuery, req)
      return paginate(await ctx.policies.attachments(req.params.name), query, (a) => a.principal)
    })

    app.delete<AttachmentParams>('/policies/:name/attachments/:principal', signedRoute('DELETE', 'admin:DetachPolicy', {
      tag: 'Policies', summary: 'Detach a policy from a principal', params: attachmentParams, responses: { 204: { description: 'Detached' } }, errors: ['NOT_FOUND'],
    }), async (req, reply) => {
      const { name, principal } = req.params
      await auditedChange(ctx, req, { type: 'admin.policy.detach', target: { policy: name, principal } }, async () => {
        const { before } = await ctx.policies.detach(name, principal)
        return { result: undefined, before }
      })
      return reply.status(204).send()
    })
  }
}
