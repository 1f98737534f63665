/**
 * Hash routes (`#/instances/plant-1/cas`): the admin server serves the same index.html for
 * /console/ only, and a hash never reaches the server, so no fallback route is needed.
 */
export type Route =
  | { page: 'instances' }
  | { page: 'instance-new' }
  | { page: 'instance-edit'; instanceId: string }
  | { page: 'cas'; instanceId: string }
  | { page: 'ca'; instanceId: string; caId: string }
  | { page: 'static-accounts'; instanceId?: string }
  | { page: 'access-keys' }
  | { page: 'blacklist' }
  | { page: 'accounts' }
  | { page: 'policies' }
  | { page: 'connections' }
  | { page: 'audit' }
  | { page: 'metrics' }
  | { page: 'not-found'; path: string }

const SIMPLE = ['access-keys', 'blacklist', 'accounts', 'policies', 'connections', 'audit', 'metrics'] as const

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/^\/+|\/+$/g, '')
  const parts = path === '' ? [] : path.split('/').map((p) => safeDecode(p))
  const [first, second, third, fourth] = parts
  if (parts.length === 0 || (first === 'instances' && parts.length === 1)) return { page: 'instances' }
  if (first === 'instances' && second === 'new' && parts.length === 2) return { page: 'instance-new' }
  if (first === 'instances' && second !== undefined) {
    if (third === 'edit' && parts.length === 3) return { page: 'instance-edit', instanceId: second }
    if (third === 'cas' && parts.length === 3) return { page: 'cas', instanceId: second }
    if (third === 'cas' && fourth !== undefined && parts.length === 4) return { page: 'ca', instanceId: second, caId: fourth }
    if (third === 'static-accounts' && parts.length === 3) return { page: 'static-accounts', instanceId: second }
  }
  if (first === 'static-accounts' && parts.length === 1) return { page: 'static-accounts' }
  const simple = SIMPLE.find((p) => p === first)
  if (simple !== undefined && parts.length === 1) return { page: simple }
  return { page: 'not-found', path }
}

export function href(route: Route): string {
  const e = encodeURIComponent
  switch (route.page) {
    case 'instances': return '#/instances'
    case 'instance-new': return '#/instances/new'
    case 'instance-edit': return `#/instances/${e(route.instanceId)}/edit`
    case 'cas': return `#/instances/${e(route.instanceId)}/cas`
    case 'ca': return `#/instances/${e(route.instanceId)}/cas/${e(route.caId)}`
    case 'static-accounts': return route.instanceId === undefined ? '#/static-accounts' : `#/instances/${e(route.instanceId)}/static-accounts`
    case 'not-found': return `#/${route.path}`
    default: return `#/${route.page}`
  }
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part)
  } catch {
    return part
  }
}
