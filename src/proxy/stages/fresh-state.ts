import type { PipelineDeps } from '../deps'
import type { Secured } from '../lifecycle/context'
import { next, reject, type Step } from '../verdict'

/**
 * Admission on stale state (DESIGN §4): every decision after this point reads caches that change
 * notifications keep exact. While the store is lost for longer than `limits.maxStaleMs` (or has
 * come back but not yet been re-read) those caches may be wrong, so new connections are refused
 * BACKEND_UNAVAILABLE — answered in the client's protocol, which is why this runs after TLS.
 */
export function freshState(ctx: Secured, deps: Pick<PipelineDeps, 'freshness'>): Step<Secured> {
  if (deps.freshness.admits()) return next(ctx)
  const state = deps.freshness.state()
  return reject('BACKEND_UNAVAILABLE', `the store view is ${state.name}${'since' in state ? ` since ${new Date(state.since).toISOString()}` : ''}`)
}
