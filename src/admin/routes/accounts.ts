import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { ROOT_ACCOUNT_ID } from '../../accounts/account-ids'
import { assertWithinCallerTree } from '../authorization/escalation'
import { withAction } from '../authorization/route-action'
import type { AdminContext } from '../context'
import { pageQuery, paginate } from '../pagination'
import { auditedChange, parseQuery } from '../request'

const listQuery = z.strictObject({ ...pageQuery })
const noQuery = z.strictObject({})

type AccountParams = { Params: { id: string } }

/**
 * Accounts (DESIGN §4): `POST/GET /v1/accounts`, `GET/DELETE /v1/accounts/{id}`. `root` is listed
 * and shown but can be neither created nor deleted (accounts/account-service.ts). A caller outside
 * `root` may create accounts only under its own account or its sub-accounts
 * (authorization/escalation.ts); the body's fields are the service's to validate.
 */
export function accountRoutes(ctx: AdminContext): FastifyPluginAsync {
  return async (app) => {
    app.post('/accounts', withAction('admin:CreateAccount'), async (req, reply) => {
      const body = req.body as { id?: unknown; parentId?: unknown } | undefined
      const id = typeof body?.id === 'string' ? body.id : undefined
      const view = await auditedChange(ctx, req, { type: 'admin.account.create', ...(id !== undefined ? { target: { accountId: id } } : {}) }, async () => {
        const parentId = typeof body?.parentId === 'string' ? body.parentId : ROOT_ACCOUNT_ID
        await assertWithinCallerTree(ctx, req, parentId, 'an account')
        const { after } = await ctx.accounts.create(req.body)
        return { result: after, after }
      })
      return reply.status(201).send(view)
    })

    app.get('/accounts', withAction('admin:ListAccounts'), async (req) => {
      const query = parseQuery(listQuery, req)
      return paginate(await ctx.accounts.list(), query, (a) => a.id)
    })

    app.get<AccountParams>('/accounts/:id', withAction('admin:GetAccount'), async (req) => {
      parseQuery(noQuery, req)
      return ctx.accounts.get(req.params.id)
    })

    app.delete<AccountParams>('/accounts/:id', withAction('admin:DeleteAccount'), async (req, reply) => {
      const accountId = req.params.id
      await auditedChange(ctx, req, { type: 'admin.account.delete', target: { accountId } }, async () => {
        const { before, detachedPolicies } = await ctx.accounts.delete(accountId)
        return { result: undefined, before, after: { detachedPolicies } }
      })
      return reply.status(204).send()
    })
  }
}
