/**
 * AMQP credentials derived from an AccessKey, Aliyun-compatible (DESIGN §1). Pure functions: no
 * store, no clock, no logging.
 *
 *   userName = Base64( TYPE ":" instanceId ":" accessKeyId [ ":" securityToken ] )
 *              TYPE 0 = dynamic login (the securityToken form is STS), TYPE 2 = static user
 *   password = Base64( UPPER_HEX( HMAC-SHA1(key = ts, message = secret) ) ":" ts )
 *              ts = millisecond Unix time, decimal
 *   CreateAccount:
 *   signature  = HEX( HMAC-SHA1(key = secret, message = createTimestamp) )
 *   secretSign = HEX( HMAC-SHA1(key = createTimestamp, message = secret) )
 *
 * Parsing is strict (canonical Base64, exact field shapes, capped lengths): the input comes from
 * an unauthenticated client. A failure is data ({ok: false, detail}) whose reason is always
 * BAD_CREDENTIALS; `detail` says precisely what was wrong, for the audit log, and never contains
 * the password.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { PortcullisError } from '../errors'
import { decodeStrictBase64Utf8 } from './base64'
import { SECURITY_TOKEN } from './security-tokens'

/** Longest Base64 userName / password accepted; checked before anything is decoded. */
export const MAX_USERNAME_LENGTH = 1024
export const MAX_PASSWORD_LENGTH = 128
/**
 * Instance ids: the same shape instances/instance-schema.ts enforces (a test keeps them equal);
 * repeated here so that this pure module does not load the config schema.
 */
export const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
/** AccessKey ids: ours are `LTAI` + base62; others (the root key, `STS.`-style) fit too. */
export const ACCESS_KEY_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/
/** A millisecond timestamp: canonical decimal (no sign, no leading zero), at most 16 digits. */
export const TIMESTAMP = /^(?:0|[1-9][0-9]{0,15})$/
const HEX_SIGNATURE = /^[0-9A-Fa-f]{40}$/

export type UserNameType = 0 | 2

export type ParsedUserName =
  | { kind: 'dynamic'; type: 0; instanceId: string; accessKeyId: string }
  | { kind: 'static'; type: 2; instanceId: string; accessKeyId: string }
  | { kind: 'sts'; type: 0; instanceId: string; accessKeyId: string; securityToken: string }

export interface ParsedPassword {
  /** Upper-case hex HMAC-SHA1. */
  hexSignature: string
  ts: string
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: 'BAD_CREDENTIALS'; detail: string }

const bad = (detail: string): { ok: false; reason: 'BAD_CREDENTIALS'; detail: string } => ({ ok: false, reason: 'BAD_CREDENTIALS', detail })

export interface UserNameParts {
  type: UserNameType
  instanceId: string
  accessKeyId: string
  securityToken?: string
}

export function encodeUserName(parts: UserNameParts): string {
  if (!INSTANCE_ID.test(parts.instanceId)) throw new PortcullisError('VALIDATION_FAILED', 'invalid instanceId for a userName')
  if (!ACCESS_KEY_ID.test(parts.accessKeyId)) throw new PortcullisError('VALIDATION_FAILED', 'invalid accessKeyId for a userName')
  const fields: string[] = [String(parts.type), parts.instanceId, parts.accessKeyId]
  if (parts.securityToken !== undefined) {
    if (parts.type !== 0) throw new PortcullisError('VALIDATION_FAILED', 'a security token goes with TYPE 0 only')
    if (!SECURITY_TOKEN.test(parts.securityToken)) throw new PortcullisError('VALIDATION_FAILED', 'invalid security token')
    fields.push(parts.securityToken)
  }
  return Buffer.from(fields.join(':'), 'utf8').toString('base64')
}

export function parseUserName(b64: string): Parsed<ParsedUserName> {
  if (b64.length === 0) return bad('userName is empty')
  if (b64.length > MAX_USERNAME_LENGTH) return bad(`userName is longer than ${MAX_USERNAME_LENGTH} characters`)
  const text = decodeStrictBase64Utf8(b64)
  if (text === undefined) return bad('userName is not canonical Base64 of UTF-8')
  const fields = text.split(':')
  if (fields.length < 3 || fields.length > 4) return bad(`userName holds ${fields.length} fields, not 3 (TYPE:instance:AccessKey) or 4 (with a security token)`)
  const [type, instanceId = '', accessKeyId = '', securityToken] = fields
  if (type !== '0' && type !== '2') return bad('userName TYPE is neither 0 (dynamic) nor 2 (static)')
  if (!INSTANCE_ID.test(instanceId)) return bad('userName instanceId is malformed')
  if (!ACCESS_KEY_ID.test(accessKeyId)) return bad('userName accessKeyId is malformed')
  if (securityToken !== undefined) {
    if (type !== '0') return bad('a security token is only valid with TYPE 0')
    if (!SECURITY_TOKEN.test(securityToken)) return bad('userName security token is malformed')
    return { ok: true, value: { kind: 'sts', type: 0, instanceId, accessKeyId, securityToken } }
  }
  return type === '0'
    ? { ok: true, value: { kind: 'dynamic', type: 0, instanceId, accessKeyId } }
    : { ok: true, value: { kind: 'static', type: 2, instanceId, accessKeyId } }
}

export function passwordFor(secret: string, ts: string): string {
  if (!TIMESTAMP.test(ts)) throw new PortcullisError('VALIDATION_FAILED', 'the timestamp must be decimal milliseconds')
  return Buffer.from(`${hmacSha1Hex(ts, secret)}:${ts}`, 'utf8').toString('base64')
}

export function parsePassword(b64: string): Parsed<ParsedPassword> {
  if (b64.length === 0) return bad('password is empty')
  if (b64.length > MAX_PASSWORD_LENGTH) return bad(`password is longer than ${MAX_PASSWORD_LENGTH} characters`)
  const text = decodeStrictBase64Utf8(b64)
  if (text === undefined) return bad('password is not canonical Base64 of UTF-8')
  const fields = text.split(':')
  if (fields.length !== 2) return bad('password is not HEX_SIGNATURE:timestamp')
  const [hex = '', ts = ''] = fields
  if (!HEX_SIGNATURE.test(hex)) return bad('password signature is not 40 hex digits')
  if (!TIMESTAMP.test(ts)) return bad('password timestamp is not decimal milliseconds')
  return { ok: true, value: { hexSignature: hex.toUpperCase(), ts } }
}

/** CreateAccount `signature`: HMAC-SHA1 keyed by the secret over the createTimestamp. */
export function signatureFor(secret: string, createTimestamp: string): string {
  return hmacSha1Hex(secret, createTimestamp)
}

/** CreateAccount `secretSign`: HMAC-SHA1 keyed by the createTimestamp over the secret. */
export function secretSignFor(secret: string, createTimestamp: string): string {
  return hmacSha1Hex(createTimestamp, secret)
}

/** Upper-case hex HMAC-SHA1 of `message` under `key` (both UTF-8). */
export function hmacSha1Hex(key: string, message: string): string {
  return createHmac('sha1', key).update(message, 'utf8').digest('hex').toUpperCase()
}

/**
 * Case-insensitive constant-time equality of two hex strings (timingSafeEqual needs equal lengths;
 * only the length, which is public — 40 for SHA-1 — can leak).
 */
export function hexEqual(a: string, b: string): boolean {
  const x = Buffer.from(a.toUpperCase(), 'utf8')
  const y = Buffer.from(b.toUpperCase(), 'utf8')
  return x.length === y.length && timingSafeEqual(x, y)
}

export interface DerivedCredentials {
  userName: string
  password: string
}

/**
 * What a client (or `portcullis derive-credentials`, DESIGN §3) sends: a dynamic login at `ts`
 * (the current time), or the static user's credentials at its fixed createTimestamp.
 */
export function deriveCredentials(input: {
  instanceId: string
  accessKeyId: string
  accessKeySecret: string
  ts: string
  kind: 'dynamic' | 'static'
  securityToken?: string
}): DerivedCredentials {
  const type: UserNameType = input.kind === 'static' ? 2 : 0
  const userName = encodeUserName({
    type,
    instanceId: input.instanceId,
    accessKeyId: input.accessKeyId,
    ...(input.securityToken === undefined ? {} : { securityToken: input.securityToken }),
  })
  return { userName, password: passwordFor(input.accessKeySecret, input.ts) }
}
