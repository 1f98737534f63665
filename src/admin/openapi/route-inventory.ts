import type { FastifyInstance } from 'fastify'

/** One method of one route as fastify registered it (`url` in fastify's `:param` form). */
export interface RegisteredRoute {
  readonly method: string
  readonly url: string
  /** Left out of /openapi.json on purpose: `schema.hide`, or a page for a browser (isPageRoute). */
  readonly hidden: boolean
}

/** Routes under these are pages for a browser (this reference's UI, the web console), not API operations. */
export const PAGE_PREFIXES = ['/docs', '/console'] as const

export function isPageRoute(url: string): boolean {
  return PAGE_PREFIXES.some((prefix) => url === prefix || url.startsWith(`${prefix}/`))
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered on this server, HEAD excepted (fastify adds one per GET). */
    registeredRoutes(): readonly RegisteredRoute[]
  }
}

/**
 * Records every route the server registers, through a root `onRoute` hook; installed before any
 * route, so none is missed. test/unit/openapi-spec.test.ts compares this list with /openapi.json:
 * a route that is neither documented nor hidden on purpose fails it.
 */
export function recordRoutes(app: FastifyInstance): void {
  const routes: RegisteredRoute[] = []
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    const hidden = (route.schema as { hide?: unknown } | undefined)?.hide === true || isPageRoute(route.url)
    for (const method of methods) if (method !== 'HEAD') routes.push({ method, url: route.url, hidden })
  })
  app.decorate('registeredRoutes', () => [...routes])
}
