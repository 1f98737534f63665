import type { FastifyPluginAsync } from 'fastify'
import { z } from 'zod'
import { isPortcullisError, PortcullisError } from '../../errors'
import { withAction } from '../authorization/route-action'
import type { AdminContext } from '../context'
import { pageQuery, paginate } from '../pagination'
import { auditedChange, parseBody, parseQuery } from '../request'

/**
 * The CreateAccount fields (DESIGN §1). Only the keys are checked here (unknown keys refused, as
 * on every route); their values are the static account service's to judge, which does it
 * precisely (canonical timestamp, 40 hex digits, the userName's TYPE, instance and AccessKey).
 */
const createAccountKeys = z.strictObject({
  instanceId: z.unknown().optional(),
  accountAccessKey: z.unknown(),
  userName: z.unknown(),
  createTimestamp: z.unknown(),
  signature: z.unknown(),
  secretSign: z.unknown(),
})
const listQuery = z.strictObject({ ...pageQuery })

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
    app.post<InstanceParams>('/instances/:id/static-accounts', withAction('admin:CreateStaticAccount'), async (req, reply) => {
      const instanceId = req.params.id
      const body = req.body as { accountAccessKey?: unknown } | undefined
      const accessKeyId = typeof body?.accountAccessKey === 'string' ? body.accountAccessKey : undefined
      const target = { instanceId, ...(accessKeyId === undefined ? {} : { accessKeyId }) }
      const answer = await auditedChange(ctx, req, { type: 'admin.staticAccount.create', instanceId, target }, async () => {
        parseBody(createAccountKeys, req)
        const { after, ...created } = await ctx.staticAccounts.create(instanceId, req.body).catch(asBodyError)
        return { result: created, after }
      })
      return reply.status(201).header('cache-control', 'no-store').send(answer)
    })

    app.get<InstanceParams>('/instances/:id/static-accounts', withAction('admin:ListStaticAccounts'), async (req) => {
      const query = parseQuery(listQuery, req)
      return paginate(await ctx.staticAccounts.list(req.params.id), query, (a) => a.accessKey)
    })

    app.delete<AccountParams>('/instances/:id/static-accounts/:accessKeyId', withAction('admin:DeleteStaticAccount'), async (req, reply) => {
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
