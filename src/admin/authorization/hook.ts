import type { FastifyRequest } from 'fastify'
import { PortcullisError } from '../../errors'
import type { AdminContext } from '../context'
import type { RefusalAudit } from '../refusal-audit'
import { requestSource } from '../request'
import type { AdminCaller } from './authorizer'
import { adminResource } from './resource'
import { isAdminAction } from './route-action'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authorization hook once the request was allowed. */
    adminCaller?: AdminCaller
  }
}

/**
 * preHandler after the signature check (auth-hook.ts): decides the route's action
 * (route-action.ts) on the request's resource (resource.ts) for the key that signed it
 * (authorizer.ts). Denied → 403 ACCESS_DENIED naming the action and resource, audited through the
 * aggregated refusal audit with the action in its details, like every other refused request.
 *
 * Fails closed: a route without an action cannot have registered, but if one ever reached here,
 * or the signer were unknown, the request is refused, not served.
 */
export function authorizationHook(ctx: AdminContext, refusals: RefusalAudit) {
  return async (req: FastifyRequest): Promise<void> => {
    const action = req.routeOptions.config.action
    const accessKeyId = req.accessKeyId
    if (!isAdminAction(action) || accessKeyId === undefined) throw new PortcullisError('INTERNAL', 'admin request reached authorization without an action or a verified signer')
    const resource = adminResource(req.routeOptions.url ?? '', req.params)
    const verdict = await ctx.authorize(accessKeyId, action, resource)
    ctx.authorizationDecisions?.(action, verdict.allowed)
    if (verdict.allowed) {
      req.adminCaller = verdict.caller
      return
    }
    refusals.refused({
      source: requestSource(req),
      reason: 'ACCESS_DENIED',
      accessKeyId,
      action,
      resource,
      method: req.method,
      path: (req.raw.url ?? req.url).split('?')[0] ?? '',
      requestId: req.id,
    })
    throw new PortcullisError('ACCESS_DENIED', `AccessKey ${accessKeyId} may not ${action} on ${resource}`)
  }
}
