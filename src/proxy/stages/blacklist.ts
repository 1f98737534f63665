import type { PipelineDeps } from '../deps'
import type { Admitted, Identified, Proxied } from '../lifecycle/context'
import { next, reject, type Step } from '../verdict'
import { blacklistSubject } from '../session-subject'

type Deps = Pick<PipelineDeps, 'blacklist'>

/**
 * The blacklist (DESIGN §1), checked twice: right after the PROXY header, where only the address
 * is known, so that a banned address does not even get a TLS handshake; and once the identity is
 * complete (certificate, clientId, username, AccessKey, account). The index is in memory and kept
 * current by change notifications (blacklist-cache.ts): no store round trip here.
 */
export function blacklistAddress(ctx: Proxied, deps: Deps): Step<Proxied> {
  const entry = deps.blacklist.current().match({ ip: ctx.source.ip }, Date.now())
  return entry === undefined ? next(ctx) : reject('BLACKLISTED', `blacklist entry ${entry.id} (${entry.kind})`)
}

export function blacklistIdentity<H>(ctx: Identified<H>, deps: Deps): Step<Admitted<H>> {
  const subject = blacklistSubject({ ...ctx.identity, instanceId: ctx.instance.id, sourceIp: ctx.source.ip })
  const entry = deps.blacklist.current().match(subject, Date.now())
  return entry === undefined ? next({ ...ctx, phase: 'admitted' }) : reject('BLACKLISTED', `blacklist entry ${entry.id} (${entry.kind})`)
}
