import type { RouteOptions } from 'fastify'
import { PortcullisError } from '../../errors'
import { ADMIN_ACTIONS, type AdminAction } from '../../policy/authorization/types'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The admin action this route performs (DESIGN §4 `admin:<Verb><Resource>`), decided for
     * every request before the handler runs. Required on every /v1 route (requireAdminAction).
     */
    action?: AdminAction
  }
}

const KNOWN: ReadonlySet<string> = new Set(ADMIN_ACTIONS)

export function isAdminAction(value: unknown): value is AdminAction {
  return typeof value === 'string' && KNOWN.has(value)
}

/**
 * `onRoute` hook of the /v1 plugin: a route that declares no action from ADMIN_ACTIONS fails to
 * register (the server does not start), so no route can exist that the authorization step
 * would not decide. Fails closed at build time rather than letting such a route answer anyone
 * with a valid signature.
 */
export function requireAdminAction(route: RouteOptions): void {
  const action: unknown = route.config?.action
  if (!isAdminAction(action)) {
    const methods = Array.isArray(route.method) ? route.method.join(',') : route.method
    throw new PortcullisError('INTERNAL', `admin route ${methods} ${route.url} declares no admin action (config.action from ADMIN_ACTIONS)${action === undefined ? '' : `; ${String(action)} is not one`}`)
  }
}

/** Route options that declare the route's admin action: `app.get('/instances', withAction('admin:ListInstances'), …)`. */
export function withAction(action: AdminAction): { config: { action: AdminAction } } {
  return { config: { action } }
}
