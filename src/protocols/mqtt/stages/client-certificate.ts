import type { PipelineDeps } from '../../../proxy/deps'
import type { Secured } from '../../../proxy/lifecycle/context'
import { next, reject, type Step } from '../../../proxy/verdict'
import { checkClientChain, presentedChain } from '../../../ca/chain'
import { cachedVerdict, remember } from '../../../proxy/verified-chains'
import type { ChainVerified } from '../phases'

/**
 * Verifies the client certificate chain against the instance's registered CAs (roots and
 * intermediates, DESIGN §1). The trust index is built once per instance and rebuilt when one of
 * its CAs changes; a chain verified once is remembered against that index, so a reconnecting
 * device costs a lookup, a new one a few signature checks, and neither a store round trip.
 */
export async function clientCertificate(ctx: Secured, deps: Pick<PipelineDeps, 'trust'>): Promise<Step<ChainVerified>> {
  const instance = ctx.instance
  if (instance === undefined) return reject('UNKNOWN_INSTANCE', 'no SNI and no default instance')
  const tls = ctx.tls
  if (tls === undefined) return reject('CLIENT_CERT_MISSING', 'listener without TLS cannot authenticate devices')
  const leaf = tls.getPeerX509Certificate()
  if (leaf === undefined) return reject('CLIENT_CERT_MISSING')
  const index = await deps.trust.forInstance(instance.id)
  const now = Date.now()
  const known = cachedVerdict(index, leaf, now)
  if (known !== undefined) return next({ ...ctx, phase: 'mqtt-chain-verified', instance, peerChain: [leaf], ca: known })
  // Most devices are issued directly by a registered CA: try the leaf alone before asking for
  // the whole presented chain, which makes Node build an object per certificate.
  let result = checkClientChain([leaf], index, new Date(now))
  if (!result.ok && result.reason === 'CLIENT_CERT_UNTRUSTED') {
    const chain = presentedChain(tls.getPeerCertificate(true))
    if (chain.length > 1) result = checkClientChain(chain, index, new Date(now))
  }
  if (!result.ok) return reject(result.reason, undefined, undefined, { certSubject: leaf.subject })
  remember(index, result)
  return next({ ...ctx, phase: 'mqtt-chain-verified', instance, peerChain: [result.leaf, ...result.intermediates], ca: result.ca })
}
