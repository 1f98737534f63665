/**
 * The resource an admin request acts on (DESIGN §4): `admin:` + the path after `/v1/`, with the
 * route's parameters decoded, and a trailing `/activate`, `/deactivate` or `/revoke` removed (the
 * verb is the action's, the resource is the thing). Examples:
 *
 *   POST   /v1/instances                                  → admin:instances
 *   POST   /v1/instances/prod/devices/<id>/revoke         → admin:instances/prod/devices/<id>
 *   GET    /v1/access-keys/LTAI…                          → admin:access-keys/LTAI…
 *   DELETE /v1/policies/ops/attachments/ca%3Aprod%2F<id>  → admin:policies/ops/attachments/ca:prod/<id>
 *
 * Built from the route's pattern and the parameters fastify decoded (the values the handler acts
 * on), not from the raw URL, so a doubled slash or an odd escaping cannot make the decided
 * resource differ from the acted-on one. Query parameters are not part of it: a list filter such
 * as `?instanceId=` narrows what a List action shows, it does not name another resource.
 */
const VERB_SUFFIX = /\/(activate|deactivate|revoke)$/
const V1 = '/v1/'

export function adminResource(routeUrl: string, params: unknown): string {
  const values = (params ?? {}) as Record<string, unknown>
  const path = routeUrl.startsWith(V1) ? routeUrl.slice(V1.length) : routeUrl.replace(/^\/+/, '')
  const filled = path
    .split('/')
    .map((segment) => (segment.startsWith(':') ? String(values[segment.slice(1)] ?? '') : segment))
    .join('/')
  return `admin:${filled.replace(VERB_SUFFIX, '')}`
}
