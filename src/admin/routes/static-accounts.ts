import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { INSTANCE_ID, TIMESTAMP } from '../../auth/credentials'
import { createAccountAnswerSchema, staticAccountViewSchema } from '../../auth/view-schemas'
import { isPortcullisError, PortcullisError } from '../../errors'
import type { AdminContext } from '../context'
import { signedRoute } from '../openapi/operation'
import { instanceId, instanceParams } from '../openapi/params'
import { pageQuery, pageSchema, paginate } from '../pagination'
import { auditedChange, parseBody, parseQuery } from '../request'

const HEX_40 = /^[0-9A-Fa-f]{40}$/

/**
 * The CreateAccount fields (DESIGN §1), their shapes as the static account service checks them
 * (auth/static-accounts.ts parseCreateAccount, which runs again behind this): what depends on
 * more than one field (the userName's TYPE, instance and AccessKey; the two HMAC proofs) is the
 * service's to judge.
 */
const createAccountBody = z.strictObject({
  instanceId: z.string().regex(INSTANCE_ID, 'an instance id').optional().describe('if given, the instance of the path'),
  accountAccessKey: z.string().min(1).max(128).describe('the AccessKey id'),
  userName: z.string().min(1).max(1024).describe('Base64("2:" + instanceId + ":" + accountAccessKey)'),
  createTimestamp: z.union([z.string().regex(TIMESTAMP, 'decimal milliseconds'), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)])
    .describe('ms since the epoch (a number, or its decimal string); fixes the password for good'),
  signature: z.string().regex(HEX_40, '40 hex digits (HMAC-SHA1)').describe('HEX(HMAC-SHA1(key = accessKeySecret, message = createTimestamp)), any case'),
  secretSign: z.string().regex(HEX_40, '40 hex digits (HMAC-SHA1)').describe('HEX(HMAC-SHA1(key = createTimestamp, message = accessKeySecret)), any case'),
})
const listQuery = z.strictObject({ ...pageQuery })
const accountParams = z.object({ id: instanceId, accessKeyId: z.string().min(1).describe('the AccessKey of the static account') })

type InstanceParams = { Params: { id: string } }
type AccountParams = { Params: { id: string; accessKeyId: string } }

/**
 * Static AMQP users (DESIGN §3 `POST/GET …/static-accounts`, `DELETE …/{accessKeyId}`). Refused
 * unless the instance exists (404) and is AMQP (400): the service checks both.
 *
 * The password is in the create answer only (`Cache-Control: no-store`); it is not stored, so a
 * list has none to show. The audit event names the instance, AccessKey and userName — never the
 * password, signature or secretSign.
 */
export function staticAccountRoutes(ctx: AdminContext): FastifyPluginAsync {
  return async (app) => {
    app.post<InstanceParams>('/instances/:id/static-accounts', signedRoute('POST', 'admin:CreateStaticAccount', {
      tag: 'Static accounts', summary: 'CreateAccount: a static AMQP username and password',
      description: 'Proves knowledge of the AccessKey secret twice (signature, secretSign). One static user per AccessKey and instance (STATIC_ACCOUNT_EXISTS); the password is in this answer only (Cache-Control: no-store) and is not stored. A non-AMQP instance, a wrong userName or a proof that does not verify is VALIDATION_FAILED; a disabled AccessKey ACCESS_KEY_INACTIVE.',
      params: instanceParams, body: createAccountBody,
      responses: { 201: { description: 'The userName and password, shown once', json: createAccountAnswerSchema } },
      errors: ['NOT_FOUND', 'STATIC_ACCOUNT_EXISTS', 'ACCESS_KEY_INACTIVE'],
    }), async (req, reply) => {
      const instanceId = req.params.id
      const body = req.body as { accountAccessKey?: unknown } | undefined
      const accessKeyId = typeof body?.accountAccessKey === 'string' ? body.accountAccessKey : undefined
      const target = { instanceId, ...(accessKeyId === undefined ? {} : { accessKeyId }) }
      const answer = await auditedChange(ctx, req, { type: 'admin.staticAccount.create', instanceId, target }, async () => {
        parseBody(createAccountBody, req)
        const { after, ...created } = await ctx.staticAccounts.create(instanceId, req.body).catch(asBodyError)
        return { result: created, after }
      })
      return reply.status(201).header('cache-control', 'no-store').send(answer)
    })

    app.get<InstanceParams>('/instances/:id/static-accounts', signedRoute('GET', 'admin:ListStaticAccounts', {
      tag: 'Static accounts', summary: 'List the static accounts of an AMQP instance', params: instanceParams, query: listQuery,
      responses: { 200: { description: 'A page of static accounts, by AccessKey; no passwords', json: pageSchema(staticAccountViewSchema, 'StaticAccountPage') } },
      errors: ['NOT_FOUND'],
    }), async (req) => {
      const query = parseQuery(listQuery, req)
      return paginate(await ctx.staticAccounts.list(req.params.id), query, (a) => a.accessKey)
    })

    app.delete<AccountParams>('/instances/:id/static-accounts/:accessKeyId', signedRoute('DELETE', 'admin:DeleteStaticAccount', {
      tag: 'Static accounts', summary: 'Delete a static account', description: 'Logins with it fail from now on and its live connections close (STATIC_ACCOUNT_DELETED).',
      params: accountParams, responses: { 204: { description: 'Deleted' } }, errors: ['NOT_FOUND'],
    }), async (req, reply) => {
      const { id: instanceId, accessKeyId } = req.params
      await auditedChange(ctx, req, { type: 'admin.staticAccount.delete', instanceId, target: { instanceId, accessKeyId } }, async () => {
        const { before } = await ctx.staticAccounts.delete(instanceId, accessKeyId)
        return { result: undefined, before }
      })
      return reply.status(204).send()
    })
  }
}

/**
 * A CreateAccount `signature`/`secretSign` that does not verify is a bad request body, not a
 * failed admin request signature: answering SIGNATURE_INVALID (401) would tell the client to
 * re-sign a request that was signed correctly. The message still says which proof failed.
 */
function asBodyError(err: unknown): never {
  if (isPortcullisError(err, 'SIGNATURE_INVALID')) throw new PortcullisError('VALIDATION_FAILED', err.message, { cause: err })
  throw err
}
