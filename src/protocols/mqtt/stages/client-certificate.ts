import type { X509Certificate } from 'node:crypto'
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
 * The presented certificates are read once, with getPeerX509Certificate(): the leaf, linked to
 * whatever else the client sent. Where the client sent its leaf alone (the usual device) that is
 * a reference to OpenSSL's own copy and one digest for the fingerprint: 14 µs, against 61 for
 * getPeerCertificate(false), which builds a JS object of every field that nothing here reads
 * (medians, warm, P-256, Node 20; the two together, as this stage did before, 71). An intermediate
 * sent along is copied by Node (167 µs with one), which the cache-miss path needs anyway.
 * getPeerCertificate(true) must never be called after it: Node moves the presented chain into the
 * X509Certificate, and the object form would come back without its issuers.
 */
export function clientCertificate(ctx: Secured, deps: CertificateDeps): Step<ChainVerified> | Promise<Step<ChainVerified>> {
  const instance = ctx.instance
  if (instance === undefined) return reject('UNKNOWN_INSTANCE', 'no SNI and no default instance')
  const tls = ctx.tls
  if (tls === undefined) return reject('CLIENT_CERT_MISSING', 'listener without TLS cannot authenticate devices')
  const leaf = tls.getPeerX509Certificate()
  if (leaf === undefined) return reject('CLIENT_CERT_MISSING')
  // A reconnecting device under a built index is decided without a promise hop.
  const index = deps.trust.cached?.(instance.id)
  if (index !== undefined) return verify(ctx, deps, instance, leaf, index)
  return deps.trust.forInstance(instance.id).then((built) => verify(ctx, deps, instance, leaf, built))
}

function verify(
  ctx: Secured, deps: CertificateDeps, instance: InstanceRecord, leaf: X509Certificate, index: CaTrustIndex,
): Step<ChainVerified> | Promise<Step<ChainVerified>> {
  const now = Date.now()
  const known = cachedVerdict(index, leaf.fingerprint256, now)
  if (known !== undefined) return next({ ...ctx, phase: 'mqtt-chain-verified', instance, peerChain: [leaf], ca: known })
  return verifyPresented(ctx, deps, instance, leaf, index, now)
}

async function verifyPresented(
  ctx: Secured, deps: CertificateDeps, instance: InstanceRecord, leaf: X509Certificate, index: CaTrustIndex, now: number,
): Promise<Step<ChainVerified>> {
  const chain = presentedChain(leaf)
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
