import type { PipelineDeps } from '../deps'
import type { Ready } from '../lifecycle/context'
import { sessionIdentity } from '../lifecycle/session-view'
import { next, reject, type Rejection, type Step } from '../verdict'
import type { Breach } from '../session-rules'
import type { SessionIdentity } from '../session-registry'

/**
 * The last stage before the splice: the connection is evaluated once more against every rule
 * (session-rules.ts), because the broker connect and its handshake may have taken seconds, and a
 * change made meanwhile (a blacklist entry, a revoked device, a tunnel switch, a disabled
 * AccessKey) reached only the sessions already registered. If a concerning change arrives while
 * this evaluation runs, it runs again; once one passes with nothing changed, the runner registers
 * the session in the same turn, and every later change reaches it as a live session.
 */
export function recheckBeforeSplice<H>(ctx: Ready<H>, deps: Pick<PipelineDeps, 'freshness' | 'recheck'>): Step<Ready<H>> | Promise<Step<Ready<H>>> {
  const subject = sessionIdentity(ctx)
  for (;;) {
    const gate = gateRefusal(ctx, deps)
    if (gate !== undefined) return gate
    const seen = deps.recheck.generation
    const breach = evaluate(deps.recheck.rules, subject)
    // The caches answered (the usual case): decided in this turn, no promise hop.
    if (!(breach instanceof Promise)) {
      const verdict = outcome(ctx, deps, breach, seen)
      if (verdict !== undefined) return verdict
      continue
    }
    return breach.then((b) => outcome(ctx, deps, b, seen) ?? recheckAsync(ctx, deps, subject))
  }
}

async function recheckAsync<H>(ctx: Ready<H>, deps: Pick<PipelineDeps, 'freshness' | 'recheck'>, subject: SessionIdentity): Promise<Step<Ready<H>>> {
  for (;;) {
    const gate = gateRefusal(ctx, deps)
    if (gate !== undefined) return gate
    const seen = deps.recheck.generation
    const verdict = outcome(ctx, deps, await evaluate(deps.recheck.rules, subject), seen)
    if (verdict !== undefined) return verdict
  }
}

function gateRefusal(ctx: Ready<unknown>, deps: Pick<PipelineDeps, 'freshness'>): Rejection | undefined {
  if (!deps.freshness.admits()) return reject('BACKEND_UNAVAILABLE', 'the store view went stale while the connection waited')
  if (ctx.signal.aborted) return reject('HANDSHAKE_TIMEOUT', 'deadline passed in the last re-check')
  return undefined
}

/** The verdict of one evaluation, or undefined when a concerning change landed meanwhile: evaluate again. */
function outcome<H>(ctx: Ready<H>, deps: Pick<PipelineDeps, 'recheck'>, breach: Breach | undefined, seen: number): Step<Ready<H>> | undefined {
  if (breach !== undefined) return reject(breach.refusal, `changed while the connection waited: ${breach.detail}`)
  return deps.recheck.generation === seen ? next(ctx) : undefined
}

type Rules = Pick<PipelineDeps['recheck']['rules'], 'evaluate'> & Partial<Pick<PipelineDeps['recheck']['rules'], 'evaluateNow'>>

function evaluate(rules: Rules, subject: SessionIdentity): Breach | undefined | Promise<Breach | undefined> {
  return rules.evaluateNow !== undefined ? rules.evaluateNow(subject) : rules.evaluate(subject)
}
