import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { withAction } from '../authorization/route-action'
import type { AdminContext } from '../context'
import { pageQuery, paginate } from '../pagination'
import { auditedChange, parseBody, parseQuery } from '../request'

const listQuery = z.strictObject({ ...pageQuery })
const noQuery = z.strictObject({})
/** The principal's value is the service's to judge (accounts/principals.ts names what is wrong). */
const attachBody = z.strictObject({ principal: z.unknown() })

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
    app.put<PolicyParams>('/policies/:name', withAction('admin:PutPolicy'), async (req, reply) => {
      const { name } = req.params
      const put = await auditedChange(ctx, req, { type: 'admin.policy.put', target: { policy: name } }, async () => {
        const change = await ctx.policies.put(name, req.body)
        return { result: change, before: change.before, after: change.after, details: { created: change.created } }
      })
      return reply.status(put.created ? 201 : 200).send(put.after)
    })

    app.get('/policies', withAction('admin:ListPolicies'), async (req) => {
      const query = parseQuery(listQuery, req)
      return paginate(await ctx.policies.list(), query, (p) => p.name)
    })

    app.get<PolicyParams>('/policies/:name', withAction('admin:GetPolicy'), async (req) => {
      parseQuery(noQuery, req)
      return ctx.policies.get(req.params.name)
    })

    app.delete<PolicyParams>('/policies/:name', withAction('admin:DeletePolicy'), async (req, reply) => {
      const { name } = req.params
      await auditedChange(ctx, req, { type: 'admin.policy.delete', target: { policy: name } }, async () => {
        const { before } = await ctx.policies.delete(name)
        return { result: undefined, before }
      })
      return reply.status(204).send()
    })

    app.post<PolicyParams>('/policies/:name/attachments', withAction('admin:AttachPolicy'), async (req, reply) => {
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

    app.get<PolicyParams>('/policies/:name/attachments', withAction('admin:ListPolicyAttachments'), async (req) => {
      const query = parseQuery(listQuery, req)
      return paginate(await ctx.policies.attachments(req.params.name), query, (a) => a.principal)
    })

    app.delete<AttachmentParams>('/policies/:name/attachments/:principal', withAction('admin:DetachPolicy'), async (req, reply) => {
      const { name, principal } = req.params
      await auditedChange(ctx, req, { type: 'admin.policy.detach', target: { policy: name, principal } }, async () => {
        const { before } = await ctx.policies.detach(name, principal)
        return { result: undefined, before }
      })
      return reply.status(204).send()
    })
  }
}
