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
  const flat = flatCopy(value)
  if (flat !== undefined) return flat
  try {
    const text = JSON.stringify(value, redactingReplacer)
    const parsed: unknown = text === undefined ? {} : JSON.parse(text)
    return isJsonObject(parsed) ? parsed : {}
  } catch {
    return { unserializable: true }
  }
}

/**
 * The same result without the JSON round trip for what the data path records on every connection:
 * a plain object whose members are all strings, booleans, finite numbers or undefined. Anything
 * else (nested objects, arrays, Dates, non-finite numbers, bigints, a `__proto__` or `toJSON`
 * member, an object with a prototype of its own) answers undefined and takes the round trip.
 */
function flatCopy(value: Record<string, unknown>): JsonObject | undefined {
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return undefined
  const out: Record<string, string | number | boolean> = {}
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue
    if (key === '__proto__' || key === 'toJSON') return undefined
    // As the replacer: a secret-named member is redacted whatever it holds, even undefined.
    if (isSecretKey(key)) {
      out[key] = REDACTED
      continue
    }
    const member = value[key]
    if (member === undefined) continue
    switch (typeof member) {
      case 'string':
      case 'boolean':
        out[key] = member
        break
      case 'number':
        if (!Number.isFinite(member)) return undefined
        // JSON has no negative zero: the round trip writes 0.
        out[key] = member === 0 ? 0 : member
        break
      default:
        return undefined
    }
  }
  return out as JsonObject
}

function redactingReplacer(key: string, value: unknown): unknown {
  if (key !== '' && isSecretKey(key)) return REDACTED
  if (typeof value === 'bigint') return value.toString()
  return value
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
