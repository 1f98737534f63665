import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { ACCOUNT_ID, ROOT_ACCOUNT_ID } from '../../accounts/account-ids'
import { assertWithinCallerTree } from '../authorization/escalation'
import { withAction } from '../authorization/route-action'
import type { AdminContext } from '../context'
import { pageQuery, paginate } from '../pagination'
import { auditedChange, parseBody, parseQuery } from '../request'

const createBody = z.strictObject({ description: z.string().max(256).optional(), accountId: z.string().regex(ACCOUNT_ID, 'an account id').optional() })
const patchBody = z.strictObject({ status: z.enum(['Active', 'Inactive']) })
const tokenBody = z.strictObject({ ttlSeconds: z.number().int().optional() })
const listQuery = z.strictObject({ ...pageQuery })
const noQuery = z.strictObject({})

/** Default STS lifetime when the body names none: one hour, as Aliyun's AssumeRole. */
export const DEFAULT_TOKEN_TTL_SECONDS = 3600

type KeyParams = { Params: { id: string } }

/**
 * AccessKeys (DESIGN §3 `POST/GET/PATCH/DELETE /v1/access-keys`) and their security tokens.
 *
 * The secret is in the `POST` answer only — the one time it leaves the gateway (DESIGN §1); a
 * security token in the token answer only. Both answers are `Cache-Control: no-store`. Audit
 * events carry public views, and for a token its id (`after.id`) and expiry, never the token
 * itself: with it and the secret, anyone could log in until it expires.
 *
 * A key belongs to an account (`accountId`, default `root`; DESIGN §4): the account must exist,
 * and a caller outside `root` may create keys only in its own account or its sub-accounts
 * (authorization/escalation.ts). Deleting a key removes its `accessKey:<id>` policy attachments.
 *
 * Ending the live sessions of a key that is disabled or deleted is the data path's reaction to
 * the store change (kick reason ACCESS_KEY_DISABLED), not this route's.
 */
export function accessKeyRoutes(ctx: AdminContext): FastifyPluginAsync {
  return async (app) => {
    app.post('/access-keys', withAction('admin:CreateAccessKey'), async (req, reply) => {
      const created = await auditedChange(ctx, req, { type: 'admin.accessKey.create' }, async () => {
        const body = parseBody(createBody, req)
        const accountId = body.accountId ?? ROOT_ACCOUNT_ID
        await assertWithinCallerTree(ctx, req, accountId, 'an AccessKey')
        const { accessKeySecret, after } = await ctx.accounts.withAccount(accountId, () => ctx.accessKeys.create({ ...body, accountId }))
        return { result: after === undefined ? undefined : { ...after, accessKeySecret }, after }
      })
      return reply.status(201).header('cache-control', 'no-store').send(created)
    })

    app.get('/access-keys', withAction('admin:ListAccessKeys'), async (req) => {
      const query = parseQuery(listQuery, req)
      return paginate(await ctx.accessKeys.list(), query, (k) => k.accessKeyId)
    })

    app.get<KeyParams>('/access-keys/:id', withAction('admin:GetAccessKey'), async (req) => {
      parseQuery(noQuery, req)
      return ctx.accessKeys.get(req.params.id)
    })

    app.patch<KeyParams>('/access-keys/:id', withAction('admin:UpdateAccessKey'), async (req) => {
      const accessKeyId = req.params.id
      return auditedChange(ctx, req, { type: 'admin.accessKey.update', target: { accessKeyId } }, async () => {
        const { status } = parseBody(patchBody, req)
        const change = await ctx.accessKeys.setStatus(accessKeyId, status)
        return { result: change.after, ...change }
      })
    })

    app.delete<KeyParams>('/access-keys/:id', withAction('admin:DeleteAccessKey'), async (req, reply) => {
      const accessKeyId = req.params.id
      await auditedChange(ctx, req, { type: 'admin.accessKey.delete', target: { accessKeyId } }, async () => {
        const { before, staticAccounts } = await ctx.accessKeys.delete(accessKeyId)
        // After the key is gone: an attach racing this delete either landed before (removed here)
        // or finds no key (policy-service.ts takes the key's lock to check).
        const detachedPolicies = await ctx.policies.detachEverywhere(`accessKey:${accessKeyId}`)
        return { result: undefined, before, after: { deletedStaticAccounts: staticAccounts, detachedPolicies } }
      })
      return reply.status(204).send()
    })

    app.post<KeyParams>('/access-keys/:id/security-tokens', withAction('admin:IssueSecurityToken'), async (req, reply) => {
      const accessKeyId = req.params.id
      const issued = await auditedChange(ctx, req, { type: 'admin.securityToken.issue', target: { accessKeyId } }, async () => {
        const { ttlSeconds } = parseBody(tokenBody, req)
        const token = await ctx.tokens.issue(accessKeyId, ttlSeconds ?? DEFAULT_TOKEN_TTL_SECONDS)
        // `id`, not `tokenId`: the audit redactor blanks every key named like a token (audit/redact.ts).
        return { result: token, after: { id: token.tokenId, expiresAt: token.expiresAt } }
      })
      return reply.header('cache-control', 'no-store').send(issued)
    })
  }
}
