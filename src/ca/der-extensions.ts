/**
 * A minimal DER reader for the certificate fields the chain check needs and node:crypto does
 * not expose: basicConstraints (cA, pathLenConstraint), keyUsage bits, extKeyUsage purposes, the
 * signature algorithm and which extensions are critical. It runs per connection on the data path, so it walks the DER in place (no ASN.1
 * object model) and reads nothing else.
 *
 *   Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
 *   TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer, validity,
 *                                 subject, subjectPublicKeyInfo, [1] issuerUID OPTIONAL,
 *                                 [2] subjectUID OPTIONAL, [3] EXPLICIT Extensions OPTIONAL }
 *   Extension ::= SEQUENCE { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }
 * (RFC 5280 §4.1, §4.2.) The input is DER that OpenSSL has already parsed, so a malformed
 * structure here means "no usable extensions" rather than an error.
 */

export interface CertExtensions {
  /** basicConstraints present. */
  hasBasicConstraints: boolean
  ca: boolean
  pathLength: number | undefined
  /** keyUsage bits as a number (bit 0 = digitalSignature … bit 5 = keyCertSign), undefined when absent. */
  keyUsage: number | undefined
  /** Dotted OIDs of the critical extensions. */
  critical: string[]
  /** extKeyUsage KeyPurposeIds (RFC 5280 §4.2.1.12), undefined when the extension is absent. */
  extKeyUsage: string[] | undefined
  /** Certificate.signatureAlgorithm OID (RFC 5280 §4.1.1.2); '' when unreadable. */
  signatureAlgorithm: string
  /** The DER after that OID inside the AlgorithmIdentifier (its parameters), empty when none. */
  signatureParams: Buffer
}

export const KEY_USAGE_KEY_CERT_SIGN = 1 << 5

export const OID_BASIC_CONSTRAINTS = '2.5.29.19'
export const OID_KEY_USAGE = '2.5.29.15'
export const OID_EXT_KEY_USAGE = '2.5.29.37'
export const OID_NAME_CONSTRAINTS = '2.5.29.30'
/**
 * Critical extensions whose meaning Portcullis applies (or which constrain nothing it relies on):
 * basicConstraints, keyUsage, extKeyUsage, subjectAltName, subjectKeyIdentifier,
 * authorityKeyIdentifier, and nameConstraints (enforced by OpenSSL's RFC 5280 path validation,
 * see openssl-verify.ts). Any other critical extension (policies, unknown ones) makes the
 * certificate unusable, as RFC 5280 §4.2 requires of extensions a verifier does not process.
 */
export const UNDERSTOOD_CRITICAL = new Set([
  OID_BASIC_CONSTRAINTS, OID_KEY_USAGE, OID_EXT_KEY_USAGE, '2.5.29.17', '2.5.29.14', '2.5.29.35',
  OID_NAME_CONSTRAINTS,
])

interface Tlv {
  tag: number
  start: number
  end: number
}

export function readExtensions(der: Buffer): CertExtensions {
  try {
    return parse(der)
  } catch {
    // Unreadable extensions: report a critical extension nobody understands, so the certificate
    // is unusable (fail closed) rather than unconstrained.
    return {
      hasBasicConstraints: false, ca: false, pathLength: undefined, keyUsage: undefined, critical: ['malformed'],
      extKeyUsage: undefined, signatureAlgorithm: '', signatureParams: Buffer.alloc(0),
    }
  }
}

/** True when every critical extension is one Portcullis understands. */
export function criticalExtensionsUnderstood(ext: CertExtensions): boolean {
  return ext.critical.every((oid) => UNDERSTOOD_CRITICAL.has(oid))
}

/** The critical extensions Portcullis does not apply (for error messages). */
export function unsupportedCritical(ext: CertExtensions): string[] {
  return ext.critical.filter((oid) => !UNDERSTOOD_CRITICAL.has(oid))
}

function parse(der: Buffer): CertExtensions {
  const result: CertExtensions = {
    hasBasicConstraints: false, ca: false, pathLength: undefined, keyUsage: undefined, critical: [],
    extKeyUsage: undefined, signatureAlgorithm: '', signatureParams: Buffer.alloc(0),
  }
  const cert = read(der, 0)
  const tbs = read(der, cert.start)
  const algorithm = read(der, tbs.end)
  const algorithmOid = read(der, algorithm.start)
  if (algorithmOid.tag === 0x06) {
    result.signatureAlgorithm = decodeOid(der.subarray(algorithmOid.start, algorithmOid.end))
    result.signatureParams = der.subarray(algorithmOid.end, algorithm.end)
  }
  for (let pos = tbs.start; pos < tbs.end;) {
    const field = read(der, pos)
    pos = field.end
    if (field.tag !== 0xa3) continue
    const list = read(der, field.start)
    for (let at = list.start; at < list.end;) {
      const extension = read(der, at)
      at = extension.end
      readExtension(der, extension, result)
    }
  }
  return result
}

function readExtension(der: Buffer, extension: Tlv, out: CertExtensions): void {
  const oidTlv = read(der, extension.start)
  const oid = decodeOid(der.subarray(oidTlv.start, oidTlv.end))
  let next = read(der, oidTlv.end)
  let critical = false
  if (next.tag === 0x01) {
    critical = der[next.start] !== 0
    next = read(der, next.end)
  }
  if (critical) out.critical.push(oid)
  if (oid === OID_BASIC_CONSTRAINTS) {
    out.hasBasicConstraints = true
    const seq = read(der, next.start)
    for (let pos = seq.start; pos < seq.end;) {
      const item = read(der, pos)
      pos = item.end
      if (item.tag === 0x01) out.ca = der[item.start] !== 0
      if (item.tag === 0x02) out.pathLength = readSmallInt(der, item)
    }
  } else if (oid === OID_KEY_USAGE) {
    const bits = read(der, next.start)
    // BIT STRING: first octet = unused bits; named bit 0 is the most significant bit.
    let value = 0
    for (let i = bits.start + 1, shift = 0; i < bits.end && shift < 16; i++, shift += 8) {
      const octet = der[i] ?? 0
      for (let b = 0; b < 8; b++) if (octet & (0x80 >> b)) value |= 1 << (shift + b)
    }
    out.keyUsage = value
  } else if (oid === OID_EXT_KEY_USAGE) {
    // ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId (OBJECT IDENTIFIER)
    const seq = read(der, next.start)
    const purposes: string[] = []
    for (let pos = seq.start; pos < seq.end;) {
      const item = read(der, pos)
      pos = item.end
      if (item.tag === 0x06) purposes.push(decodeOid(der.subarray(item.start, item.end)))
    }
    out.extKeyUsage = purposes
  }
}

function read(der: Buffer, pos: number): Tlv {
  const tag = der[pos]
  let len = der[pos + 1]
  if (tag === undefined || len === undefined) throw new RangeError('truncated DER')
  let start = pos + 2
  if (len & 0x80) {
    const n = len & 0x7f
    if (n === 0 || n > 4) throw new RangeError('unsupported DER length')
    len = 0
    for (let i = 0; i < n; i++) len = len * 256 + (der[start + i] ?? 0)
    start += n
  }
  const end = start + len
  if (end > der.length) throw new RangeError('DER length beyond input')
  return { tag, start, end }
}

function readSmallInt(der: Buffer, tlv: Tlv): number {
  if (tlv.end - tlv.start > 4 || ((der[tlv.start] ?? 0) & 0x80)) throw new RangeError('pathLen out of range')
  let value = 0
  for (let i = tlv.start; i < tlv.end; i++) value = value * 256 + (der[i] ?? 0)
  return value
}

function decodeOid(bytes: Buffer): string {
  const parts: number[] = []
  let value = 0
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f)
    if ((byte & 0x80) === 0) {
      if (parts.length === 0) parts.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80)
      else parts.push(value)
      value = 0
    }
  }
  return parts.join('.')
}
