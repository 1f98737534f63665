import type { JsonObject } from './event'

/**
 * Defence in depth for audit details (DESIGN §3: "before/after without secrets"). Callers must not
 * put secrets into an audit event; if one slips through under a key named like a secret, it is
 * replaced here, at any depth, before the event is hashed and written.
 *
 * Matched case-insensitively anywhere in the key: password/passwd/passphrase, secret (so
 * accessKeySecret, secretSign), privateKey/private_key, token (securityToken, sessionToken),
 * authorization, masterKey. `accessKeyId` and other identifiers are kept: the audit needs them.
 */
const SECRET_KEY = /passw(or)?d|passphrase|secret|private_?key|token|authorization|master_?key/i

export const REDACTED = '[REDACTED]'

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key)
}

/**
 * Returns `value` as plain JSON with secret-named keys redacted. The JSON round trip also fixes what
 * would otherwise make the hash irreproducible from the written line: Dates become ISO strings,
 * undefined members disappear, non-finite numbers become null, bigints become decimal strings.
 * Never throws: a value JSON cannot hold (a cycle) becomes `{ "unserializable": true }`.
 */
export function toRedactedJson(value: Record<string, unknown> | undefined): JsonObject {
  if (value === undefined) return {}
  try {
    const text = JSON.stringify(value, redactingReplacer)
    const parsed: unknown = text === undefined ? {} : JSON.parse(text)
    return isJsonObject(parsed) ? parsed : {}
  } catch {
    return { unserializable: true }
  }
}

function redactingReplacer(key: string, value: unknown): unknown {
  if (key !== '' && isSecretKey(key)) return REDACTED
  if (typeof value === 'bigint') return value.toString()
  return value
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
