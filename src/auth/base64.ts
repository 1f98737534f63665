/**
 * Strict standard Base64 (RFC 4648 §4), because Buffer.from(s, 'base64') accepts anything: it
 * skips characters outside the alphabet, accepts missing padding and ignores non-zero pad bits.
 * A credential that several different strings decode to is a credential an attacker can vary
 * past a blacklist entry or an audit search, so only the canonical form is accepted.
 */
const STANDARD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** The decoded bytes, or undefined when `text` is not canonical padded standard Base64. */
export function decodeStrictBase64(text: string): Buffer | undefined {
  if (!STANDARD_BASE64.test(text)) return undefined
  const bytes = Buffer.from(text, 'base64')
  // Non-zero bits in the last character's unused part decode the same; re-encoding shows them.
  return bytes.toString('base64') === text ? bytes : undefined
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/** Strict Base64 of well-formed UTF-8, or undefined. */
export function decodeStrictBase64Utf8(text: string): string | undefined {
  const bytes = decodeStrictBase64(text)
  if (bytes === undefined) return undefined
  try {
    return utf8.decode(bytes)
  } catch {
    return undefined
  }
}
