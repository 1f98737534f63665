import { X509Certificate } from 'node:crypto'
import type { PeerCertificate, DetailedPeerCertificate } from 'node:tls'
import type { Connection } from '../connection'
import type { PipelineDeps } from '../deps'
import { CONTINUE, reject, type Verdict } from '../verdict'
import { verifyClientChain } from '../../ca/chain'

/** Longest client chain we look at; a longer one is refused rather than walked. */
const MAX_CHAIN = 8

/**
 * Verifies the client certificate chain against the instance's registered CAs (roots and
 * intermediates, DESIGN §1). The trust index is built once per instance and rebuilt when one of
 * its CAs changes, so this costs a few signature checks per handshake and no store round trip.
 */
export async function clientCertificate(conn: Connection, deps: PipelineDeps): Promise<Verdict> {
  const instance = conn.instance
  if (instance === undefined) return reject('UNKNOWN_INSTANCE', 'no SNI and no default instance')
  const tls = conn.tls
  if (tls === undefined) return reject('CLIENT_CERT_MISSING', 'listener without TLS cannot authenticate devices')
  const chain = presentedChain(tls.getPeerCertificate(true))
  if (chain === undefined) return reject('CLIENT_CERT_UNTRUSTED', 'unparsable client certificate chain')
  if (chain.length === 0) return reject('CLIENT_CERT_MISSING')
  const index = await deps.trust.forInstance(instance.id)
  const result = verifyClientChain(chain, index, new Date())
  if (!result.ok) return reject(result.reason)
  conn.peerChain = chain
  conn.ca = result.ca
  return CONTINUE
}

/** The chain the client sent, leaf first, as parsed certificates; undefined when one is garbage. */
function presentedChain(peer: DetailedPeerCertificate | PeerCertificate | undefined): X509Certificate[] | undefined {
  const out: X509Certificate[] = []
  const seen = new Set<string>()
  let node = peer as DetailedPeerCertificate | undefined
  while (node !== undefined && node.raw !== undefined && out.length < MAX_CHAIN) {
    if (seen.has(node.fingerprint256)) break // OpenSSL links a self-signed root to itself
    seen.add(node.fingerprint256)
    try {
      out.push(new X509Certificate(node.raw))
    } catch {
      return undefined
    }
    node = node.issuerCertificate
  }
  return out
}
