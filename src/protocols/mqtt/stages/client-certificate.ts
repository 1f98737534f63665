import type { PeerCertificate, TLSSocket } from 'node:tls'
import type { TrustIndexCache } from '../../../proxy/trust-cache'
import type { CaTrustIndex } from '../../../ca/chain'
import type { InstanceRecord } from '../../../store/records'
import type { Secured } from '../../../proxy/lifecycle/context'
import { next, reject, type Step } from '../../../proxy/verdict'
import { presentedChain } from '../../../ca/chain'
import { validateClientChain } from '../../../ca/validate'
import { cachedRefusal, cachedVerdict, chainKey, remember, rememberRefusal } from '../../../proxy/verified-chains'
import type { ChainVerified } from '../phases'
import type { ChainVerdictSharing } from '../../../proxy/chain-verdict-sharing'

type CertificateDeps = {
  trust: Pick<TrustIndexCache, 'forInstance'> & Partial<Pick<TrustIndexCache, 'cached'>>
  /** Tells the other processes of the store about a chain validated here (absent: nobody to tell). */
  chainVerdicts?: Pick<ChainVerdictSharing, 'share'>
}

/**
 * Verifies the client certificate chain against the instance's registered CAs (roots and
 * intermediates, DESIGN §1) and the client profile (DESIGN §4). The trust index is built once per
 * instance and rebuilt when one of its CAs changes; a chain verified once is remembered against
 * that index, so a reconnecting device costs a lookup, and neither a store round trip nor path
 * validation again — on the other processes of a Redis store too, which are told of the verdict
 * (chain-verdict-sharing.ts) so that a device back on another worker is not validated again.
 *
 * Reading the presented chain costs: getPeerCertificate(true) builds a JS object per certificate
 * (about 240 µs for leaf + intermediate, measured warm on Node 20), and on Node 20 it must come
 * before getPeerX509Certificate(), which otherwise leaves it without issuerCertificate (every
 * presented intermediate was lost, issue 10). So the cache is asked first with the leaf's
 * fingerprint from getPeerCertificate(false) (about 13 µs, and it keeps the chain readable); only a
 * chain not verified before pays for the whole presented chain.
 */
export function clientCertificate(ctx: Secured, deps: CertificateDeps): Step<ChainVerified> | Promise<Step<ChainVerified>> {
  const instance = ctx.instance
  if (instance === undefined) return reject('UNKNOWN_INSTANCE', 'no SNI and no default instance')
  const tls = ctx.tls
  if (tls === undefined) return reject('CLIENT_CERT_MISSING', 'listener without TLS cannot authenticate devices')
  const presentedLeaf = tls.getPeerCertificate(false) as Partial<PeerCertificate> | undefined
  if (presentedLeaf?.raw === undefined || presentedLeaf.fingerprint256 === undefined) return reject('CLIENT_CERT_MISSING')
  const fingerprint = presentedLeaf.fingerprint256
  // A reconnecting device under a built index is decided without a promise hop.
  const index = deps.trust.cached?.(instance.id)
  if (index !== undefined) return verify(ctx, deps, instance, tls, fingerprint, index)
  return deps.trust.forInstance(instance.id).then((built) => verify(ctx, deps, instance, tls, fingerprint, built))
}

function verify(
  ctx: Secured, deps: CertificateDeps, instance: InstanceRecord, tls: TLSSocket, fingerprint: string, index: CaTrustIndex,
): Step<ChainVerified> | Promise<Step<ChainVerified>> {
  const now = Date.now()
  const known = cachedVerdict(index, fingerprint, now)
  const cachedLeaf = known === undefined ? undefined : tls.getPeerX509Certificate()
  if (known !== undefined && cachedLeaf !== undefined) return next({ ...ctx, phase: 'mqtt-chain-verified', instance, peerChain: [cachedLeaf], ca: known })
  return verifyPresented(ctx, deps, instance, tls, index, now)
}

async function verifyPresented(
  ctx: Secured, deps: CertificateDeps, instance: InstanceRecord, tls: TLSSocket, index: CaTrustIndex, now: number,
): Promise<Step<ChainVerified>> {
  const chain = presentedChain(tls.getPeerCertificate(true))
  const leaf = chain[0]
  if (leaf === undefined) return reject('CLIENT_CERT_MISSING')
  const key = chainKey(chain)
  const refused = cachedRefusal(index, key, now)
  if (refused !== undefined) return reject(refused.reason, refused.detail, undefined, { certSubject: leaf.subject })
  const result = await validateClientChain(chain, index, new Date(now))
  if (!result.ok) {
    // Only refusals that cost a validation are remembered; the others are cheap to repeat.
    if (result.detail !== undefined) rememberRefusal(index, key, result.reason, result.detail, now)
    return reject(result.reason, result.detail, undefined, { certSubject: leaf.subject })
  }
  const verified = remember(index, result)
  deps.chainVerdicts?.share(instance.id, index, verified)
  return next({ ...ctx, phase: 'mqtt-chain-verified', instance, peerChain: [result.leaf, ...result.intermediates], ca: result.ca })
}
