import type { PipelineDeps } from '../deps'
import type { Ready } from '../lifecycle/context'
import { sessionIdentity } from '../lifecycle/session-view'
import { next, reject, type Step } from '../verdict'

/**
 * The last stage before the splice: the connection is evaluated once more against every rule
 * (session-rules.ts), because the broker connect and its handshake may have taken seconds, and a
 * change made meanwhile (a blacklist entry, a revoked device, a tunnel switch, a disabled
 * AccessKey) reached only the sessions already registered. If a concerning change arrives while
 * this evaluation runs, it runs again; once one passes with nothing changed, the runner registers
 * the session in the same turn, and every later change reaches it as a live session.
 */
export async function recheckBeforeSplice<H>(ctx: Ready<H>, deps: Pick<PipelineDeps, 'freshness' | 'recheck'>): Promise<Step<Ready<H>>> {
  const subject = sessionIdentity(ctx)
  for (;;) {
    if (!deps.freshness.admits()) return reject('BACKEND_UNAVAILABLE', 'the store view went stale while the connection waited')
    if (ctx.signal.aborted) return reject('HANDSHAKE_TIMEOUT', 'deadline passed in the last re-check')
    const seen = deps.recheck.generation
    const breach = await deps.recheck.rules.evaluate(subject)
    if (breach !== undefined) return reject(breach.refusal, `changed while the connection waited: ${breach.detail}`)
    if (deps.recheck.generation === seen) return next(ctx)
  }
}
