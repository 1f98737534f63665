import type { PipelineDeps } from '../deps'
import type { Proxied } from '../lifecycle/context'
import type { HandshakeGate } from '../limits/handshake-gate'
import { next, reject, type Step } from '../verdict'

type Deps = Pick<PipelineDeps, 'connectionLimits'>

/**
 * Per-source limits (limits/source-limits.ts) on the real client address, right after the PROXY
 * header and before TLS, so that a refusal costs a Map lookup and a close rather than a handshake.
 * On a listener without PROXY protocol the listener admitted the socket at accept already (on the
 * same address); this stage then has nothing to do. Refused before TLS, the client just sees the
 * connection close: it cannot be answered in its protocol yet, and that is the cheap answer.
 */
export function sourceLimits(ctx: Proxied, deps: Deps): Step<Proxied> {
  const limits = deps.connectionLimits?.sources
  if (limits === undefined || limits.admitted(ctx.socket)) return next(ctx)
  const refusal = limits.admit(ctx.socket, ctx.source.ip)
  return refusal === undefined ? next(ctx) : reject(refusal.reason, refusal.detail)
}

/**
 * A slot among `limits.maxHandshakesInFlight` (limits/handshake-gate.ts), taken after the
 * per-source checks so that one source's flood cannot queue ahead of everyone. The listener
 * gives the slot back when the connection's pipeline ends (spliced or refused).
 */
export function handshakeSlot(ctx: Proxied, deps: Deps): Step<Proxied> | Promise<Step<Proxied>> {
  const gate = deps.connectionLimits?.handshakes
  if (gate === undefined) return next(ctx)
  const slot = gate.acquire(ctx.socket)
  if (slot === true) return next(ctx)
  // At once: the queue is full, or its newcomer would not be served within the wait.
  if (slot === false) return reject('RATE_LIMITED', `${limitText(gate)}; ${gate.waiting} waiting already (at most ${gate.queueLength}, and no more than can be served within ${gate.waitMs} ms)`)
  return slot.then((admitted) => (admitted ? next(ctx) : reject('RATE_LIMITED', `${limitText(gate)} and none ended within ${gate.waitMs} ms`)))
}

function limitText(gate: HandshakeGate): string {
  const limit = gate.limit
  if (limit >= gate.max) return `${gate.max} handshakes in flight (maxHandshakesInFlight)`
  const rate = gate.completionRate
  const why = rate === 0 ? 'its starting value' : `${Math.round(rate)} completed per second on a saturated event loop`
  return `${limit} handshakes in flight (the adaptive limit under maxHandshakesInFlight ${gate.max}: ${why})`
}
