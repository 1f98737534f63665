/**
 * The client-certificate profile (DESIGN §4 "Client certificate checks"): rules a chain can break
 * although it verifies, each refused with CLIENT_CERT_PROFILE.
 *
 * - extKeyUsage of the leaf: when present it must contain id-kp-clientAuth or
 *   anyExtendedKeyUsage (RFC 5280 §4.2.1.12: "the certificate MUST only be used for one of the
 *   purposes indicated"); no extension means no restriction.
 * - keys of every certificate on the path, the anchor included (its key signs the next one): RSA
 *   (and RSA-PSS) of at least 2048 bits, ECDSA on P-256/P-384/P-521, Ed25519, Ed448. DSA, P-192
 *   and anything else are refused (NIST SP 800-131A: below 112-bit security; DSA is withdrawn
 *   from FIPS 186-5).
 * - signature algorithms of the leaf and the presented intermediates (the anchor's own
 *   signature is not relied on, RFC 5280 §6.1.1 (d)): an allow-list of SHA-2 RSA PKCS#1 v1.5,
 *   RSA-PSS with a SHA-2 hash, ECDSA with SHA-2, Ed25519, Ed448. SHA-1 and MD5 are refused
 *   (RFC 9155, SHAttered).
 * Pure and synchronous: only node:crypto's key details and the DER reader.
 */
import type { X509Certificate } from 'node:crypto'
import { readExtensions } from './der-extensions'

export const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2'
export const OID_ANY_EKU = '2.5.29.37.0'

const MIN_RSA_BITS = 2048
const CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1'])
const SIGNATURE_ALGORITHMS = new Set([
  '1.2.840.113549.1.1.11', '1.2.840.113549.1.1.12', '1.2.840.113549.1.1.13', // sha{256,384,512}WithRSAEncryption
  '1.2.840.10045.4.3.2', '1.2.840.10045.4.3.3', '1.2.840.10045.4.3.4', // ecdsa-with-SHA{256,384,512}
  '1.3.101.112', '1.3.101.113', // Ed25519, Ed448
])
const OID_RSASSA_PSS = '1.2.840.113549.1.1.10'
/** DER of id-sha256/384/512 without the last octet (2.16.840.1.101.3.4.2.{1,2,3}). */
const SHA2_OID_PREFIX = Buffer.from([0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02])

/** Why the chain breaks the profile, or undefined when it does not. `intermediates` excludes the anchor. */
export function profileViolation(
  leaf: X509Certificate, intermediates: readonly X509Certificate[], anchor: X509Certificate,
): string | undefined {
  const eku = readExtensions(leaf.raw).extKeyUsage
  if (eku !== undefined && !eku.includes(OID_CLIENT_AUTH) && !eku.includes(OID_ANY_EKU)) {
    return `extKeyUsage without clientAuth (${eku.join(', ') || 'empty'})`
  }
  for (const cert of [leaf, ...intermediates, anchor]) {
    const weak = weakKey(cert)
    if (weak !== undefined) return `${weak} in ${cert.subject ?? 'an empty subject'}`
  }
  for (const cert of [leaf, ...intermediates]) {
    const weak = weakSignature(cert)
    if (weak !== undefined) return `${weak} on ${cert.subject ?? 'an empty subject'}`
  }
  return undefined
}

function weakKey(cert: X509Certificate): string | undefined {
  let type: string | undefined
  let details: { modulusLength?: number; namedCurve?: string } | undefined
  try {
    type = cert.publicKey.asymmetricKeyType
    details = cert.publicKey.asymmetricKeyDetails
  } catch {
    return 'an unsupported public key'
  }
  switch (type) {
    case 'rsa':
    case 'rsa-pss': {
      const bits = details?.modulusLength ?? 0
      return bits >= MIN_RSA_BITS ? undefined : `an RSA key of ${bits} bits`
    }
    case 'ec':
      return CURVES.has(details?.namedCurve ?? '') ? undefined : `an EC key on ${details?.namedCurve ?? 'an unnamed curve'}`
    case 'ed25519':
    case 'ed448':
      return undefined
    default:
      return `a ${type ?? 'unknown'} key`
  }
}

function weakSignature(cert: X509Certificate): string | undefined {
  const { signatureAlgorithm: oid, signatureParams } = readExtensions(cert.raw)
  if (SIGNATURE_ALGORITHMS.has(oid)) return undefined
  if (oid === OID_RSASSA_PSS && pssUsesSha2(signatureParams)) return undefined
  return `signature algorithm ${oid || 'unreadable'} (SHA-1, MD5 or not allowed)`
}

/**
 * RSASSA-PSS-params (RFC 4055 §3.1): hashAlgorithm [0] comes first and defaults to SHA-1, so the
 * parameters must start SEQUENCE { [0] { AlgorithmIdentifier { id-sha256/384/512 …
 */
function pssUsesSha2(params: Buffer): boolean {
  // 30 LL A0 LL 30 LL <06 09 60 86 48 01 65 03 04 02 0x>
  const at = params.indexOf(SHA2_OID_PREFIX)
  const last = at === 6 ? params[at + SHA2_OID_PREFIX.length] : undefined
  return params[0] === 0x30 && params[2] === 0xa0 && (last === 1 || last === 2 || last === 3)
}
