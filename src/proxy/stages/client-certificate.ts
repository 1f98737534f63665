import type { Connection } from '../connection'
import type { PipelineDeps } from '../deps'
import { CONTINUE, reject, type Verdict } from '../verdict'
import { checkClientChain, presentedChain } from '../../ca/chain'

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
  if (chain.length === 0) return reject('CLIENT_CERT_MISSING')
  const index = await deps.trust.forInstance(instance.id)
  const result = checkClientChain(chain, index, new Date())
  if (!result.ok) return reject(result.reason)
  conn.peerChain = chain
  conn.ca = result.ca
  return CONTINUE
}
