/**
 * The whole client-certificate decision (DESIGN §4 "Client certificate checks"), in the order
 * that gives each refusal its most precise reason:
 *   1. chain.ts finds a path from the leaf to a registered CA (CLIENT_CERT_UNTRUSTED,
 *      CERT_EXPIRED, CA_INACTIVE when there is none; cheap — OpenSSL primitives in-process);
 *   2. profile.ts checks EKU, key strength and signature algorithms on that path
 *      (CLIENT_CERT_PROFILE: the chain verifies but breaks the profile);
 *   3. openssl-verify.ts validates the path per RFC 5280 §6 with OpenSSL, name constraints of
 *      every CA on it included (CLIENT_CERT_UNTRUSTED).
 * Steps 2 and 3 run only for a path that step 1 anchored, so a client without a registered CA
 * behind it never costs a child process.
 */
import type { X509Certificate } from 'node:crypto'
import { checkClientChain } from './chain'
import type { CaTrustIndex, ChainRefusal, ChainVerdict } from './chain'
import { opensslVerify } from './openssl-verify'
import { profileViolation } from './profile'

export type ClientChainVerdict =
  | Extract<ChainVerdict, { ok: true }>
  | { ok: false; reason: ChainRefusal; detail?: string }

export async function validateClientChain(
  presented: readonly X509Certificate[], index: CaTrustIndex, now: Date = new Date(),
): Promise<ClientChainVerdict> {
  const found = checkClientChain(presented, index, now)
  if (!found.ok) return found
  const anchor = index.certificateOf(found.ca.id)
  if (anchor === undefined) return { ok: false, reason: 'CLIENT_CERT_UNTRUSTED', detail: 'anchor vanished from the index' }
  const violation = profileViolation(found.leaf, found.intermediates, anchor)
  if (violation !== undefined) return { ok: false, reason: 'CLIENT_CERT_PROFILE', detail: violation }
  const validated = await opensslVerify(found.leaf, found.intermediates, anchor, now)
  if (!validated.ok) return { ok: false, reason: validated.reason, detail: validated.detail }
  return found
}
