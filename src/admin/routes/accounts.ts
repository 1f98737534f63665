import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { ROOT_ACCOUNT_ID } from '../../accounts/account-ids'
import { createSchema as createAccountSchema } from '../../accounts/account-service'
import { accountViewSchema } from '../../accounts/view-schemas'
import { assertWithinCallerTree } from '../authorization/escalation'
import type { AdminContext } from '../context'
import { signedRoute } from '../openapi/operation'
import { noQuery } from '../openapi/params'
import { pageQuery, pageSchema, paginate } from '../pagination'
import { auditedChange, parseQuery } from '../request'

const listQuery = z.strictObject({ ...pageQuery })
const accountParams = z.object({ id: z.string().min(1).describe('the account id') })
const account = { description: 'The account', json: accountViewSchema }

type AccountParams = { Params: { id: string } }

/**
 * Accounts (DESIGN §4): `POST/GET /v1/accounts`, `GET/DELETE /v1/accounts/{id}`. `root` is listed
 * and shown but can be neither created nor deleted (accounts/account-service.ts). A caller outside
 * `root` may create accounts only under its own account or its sub-accounts
 * (authorization/escalation.ts); the body's fields are the service's to validate.
 */
export function accountRoutes(ctx: AdminContext): FastifyPluginAsync {
  return async (app) => {
    app.post('/accounts', signedRoute('POST', 'admin:CreateAccount', {
      tag: 'Accounts', summary: 'Create an account',
      description: 'Under `parentId` (default root), which must exist (NOT_FOUND); a caller outside root may create accounts only in its own tree (ACCESS_DENIED). `root` and `legacy` always exist.',
      body: createAccountSchema, responses: { 201: account }, errors: ['ALREADY_EXISTS', 'NOT_FOUND'],
    }), async (req, reply) => {
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

    app.get('/accounts', signedRoute('GET', 'admin:ListAccounts', {
      tag: 'Accounts', summary: 'List accounts', query: listQuery,
      responses: { 200: { description: 'A page of accounts, by id (root and legacy included)', json: pageSchema(accountViewSchema, 'AccountPage') } },
    }), async (req) => {
      const query = parseQuery(listQuery, req)
      return paginate(await ctx.accounts.list(), query, (a) => a.id)
    })

    app.get<AccountParams>('/accounts/:id', signedRoute('GET', 'admin:GetAccount', {
      tag: 'Accounts', summary: 'Show an account', params: accountParams, query: noQuery, responses: { 200: account }, errors: ['NOT_FOUND'],
    }), async (req) => {
      parseQuery(noQuery, req)
      return ctx.accounts.get(req.params.id)
    })

    app.delete<AccountParams>('/accounts/:id', signedRoute('DELETE', 'admin:DeleteAccount', {
      tag: 'Accounts', summary: 'Delete an account',
      description: 'Refused while it has sub-accounts or AccessKeys (ACCOUNT_IN_USE); the built-in accounts cannot be deleted (VALIDATION_FAILED). Its policy attachments go with it.',
      params: accountParams, responses: { 204: { description: 'Deleted' } }, errors: ['NOT_FOUND', 'ACCOUNT_IN_USE'],
    }), async (req, reply) => {
      const accountId = req.params.id
      await auditedChange(ctx, req, { type: 'admin.account.delete', target: { accountId } }, async () => {
        const { before, detachedPolicies } = await ctx.accounts.delete(accountId)
        return { result: undefined, before, after: { detachedPolicies } }
      })
      return reply.status(204).send()
    })
  }
}
