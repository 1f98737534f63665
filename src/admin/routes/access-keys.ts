import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { ACCOUNT_ID, ROOT_ACCOUNT_ID } from '../../accounts/account-ids'
import { MAX_TOKEN_TTL_SECONDS, MIN_TOKEN_TTL_SECONDS } from '../../auth/security-tokens'
import { accessKeyCreatedSchema, accessKeyViewSchema, issuedTokenSchema } from '../../auth/view-schemas'
import { assertWithinCallerTree } from '../authorization/escalation'
import type { AdminContext } from '../context'
import { signedRoute } from '../openapi/operation'
import { noQuery } from '../openapi/params'
import { pageQuery, pageSchema, paginate } from '../pagination'
import { auditedChange, parseBody, parseQuery } from '../request'

const createBody = z.strictObject({
  description: z.string().max(256).optional(),
  accountId: z.string().regex(ACCOUNT_ID, 'an account id').optional().describe('default root; a caller outside root may name only its own account or a sub-account of it'),
})
const patchBody = z.strictObject({ status: z.enum(['Active', 'Inactive']).describe('Inactive: the key signs nothing and its live AMQP connections close (ACCESS_KEY_DISABLED)') })
const listQuery = z.strictObject({ ...pageQuery })
const keyParams = z.object({ id: z.string().min(1).describe('the AccessKey id') })
const accessKey = { description: 'The AccessKey (never its secret)', json: accessKeyViewSchema }

/** Default STS lifetime when the body names none: one hour, as Aliyun's AssumeRole. */
export const DEFAULT_TOKEN_TTL_SECONDS = 3600
const tokenBody = z.strictObject({ ttlSeconds: z.number().int().min(MIN_TOKEN_TTL_SECONDS).max(MAX_TOKEN_TTL_SECONDS).optional().describe(`seconds; default ${DEFAULT_TOKEN_TTL_SECONDS}`) })

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
    app.post('/access-keys', signedRoute('POST', 'admin:CreateAccessKey', {
      tag: 'AccessKeys', summary: 'Create an AccessKey',
      description: 'The secret is in this answer only (Cache-Control: no-store). A missing account is NOT_FOUND; one outside the caller\'s tree is ACCESS_DENIED.',
      body: createBody, responses: { 201: { description: 'The key and its secret, shown once', json: accessKeyCreatedSchema } }, errors: ['NOT_FOUND'],
    }), async (req, reply) => {
      const created = await auditedChange(ctx, req, { type: 'admin.accessKey.create' }, async () => {
        const body = parseBody(createBody, req)
        const accountId = body.accountId ?? ROOT_ACCOUNT_ID
        await assertWithinCallerTree(ctx, req, accountId, 'an AccessKey')
        const { accessKeySecret, after } = await ctx.accounts.withAccount(accountId, () => ctx.accessKeys.create({ ...body, accountId }))
        return { result: after === undefined ? undefined : { ...after, accessKeySecret }, after }
      })
      return reply.status(201).header('cache-control', 'no-store').send(created)
    })

    app.get('/access-keys', signedRoute('GET', 'admin:ListAccessKeys', {
      tag: 'AccessKeys', summary: 'List AccessKeys', query: listQuery,
      responses: { 200: { description: 'A page of keys, by id; no secrets', json: pageSchema(accessKeyViewSchema, 'AccessKeyPage') } },
    }), async (req) => {
      const query = parseQuery(listQuery, req)
      return paginate(await ctx.accessKeys.list(), query, (k) => k.accessKeyId)
    })

    app.get<KeyParams>('/access-keys/:id', signedRoute('GET', 'admin:GetAccessKey', {
      tag: 'AccessKeys', summary: 'Show an AccessKey', params: keyParams, query: noQuery, responses: { 200: accessKey }, errors: ['NOT_FOUND'],
    }), async (req) => {
      parseQuery(noQuery, req)
      return ctx.accessKeys.get(req.params.id)
    })

    app.patch<KeyParams>('/access-keys/:id', signedRoute('PATCH', 'admin:UpdateAccessKey', {
      tag: 'AccessKeys', summary: 'Enable or disable an AccessKey', params: keyParams, body: patchBody, responses: { 200: accessKey }, errors: ['NOT_FOUND'],
    }), async (req) => {
      const accessKeyId = req.params.id
      return auditedChange(ctx, req, { type: 'admin.accessKey.update', target: { accessKeyId } }, async () => {
        const { status } = parseBody(patchBody, req)
        const change = await ctx.accessKeys.setStatus(accessKeyId, status)
        return { result: change.after, ...change }
      })
    })

    app.delete<KeyParams>('/access-keys/:id', signedRoute('DELETE', 'admin:DeleteAccessKey', {
      tag: 'AccessKeys', summary: 'Delete an AccessKey',
      description: 'Its static accounts and its policy attachments go with it; its live connections close (ACCESS_KEY_DISABLED).',
      params: keyParams, responses: { 204: { description: 'Deleted' } }, errors: ['NOT_FOUND'],
    }), async (req, reply) => {
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

    app.post<KeyParams>('/access-keys/:id/security-tokens', signedRoute('POST', 'admin:IssueSecurityToken', {
      tag: 'AccessKeys', summary: 'Issue an STS security token for an AccessKey',
      description: 'For the STS userName variant (DESIGN §1); sessions that log in with it end at its expiry (CREDENTIAL_EXPIRED). Shown once (Cache-Control: no-store).',
      params: keyParams, body: tokenBody, responses: { 200: { description: 'The token', json: issuedTokenSchema } }, errors: ['NOT_FOUND', 'ACCESS_KEY_INACTIVE'],
    }), async (req, reply) => {
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
