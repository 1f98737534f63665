import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { isPortcullisError, PortcullisError, type ErrorCode } from '../errors'

/**
 * Admin request signing (DESIGN §3 "Admin API"):
 *
 *   Authorization: PORTCULLIS-HMAC-SHA1 <AccessKeyId>:<Base64 HMAC-SHA1(secret, canonical)>
 *   canonical = METHOD \n PATH \n SORTED_QUERY \n HEX_SHA256(body) \n x-portcullis-date \n x-portcullis-nonce
 *
 * SORTED_QUERY: every query parameter decoded, then re-encoded per RFC 3986 (unreserved characters
 * `A-Z a-z 0-9 - . _ ~` kept, everything else %XX with upper-case hex), as `name=value`, sorted by
 * name (then value), joined by `&`; empty when there is none. Decoding before re-encoding makes
 * the signature independent of how a client chose to escape its URL. `+` in a query is a space
 * (application/x-www-form-urlencoded, which is what URLSearchParams and fastify do).
 *
 * The same functions serve the client (signRequest: CLI, tests) and the server (verifyRequest), so
 * the canonical form cannot drift between them.
 */
export const AUTH_SCHEME = 'PORTCULLIS-HMAC-SHA1'
export const DATE_HEADER = 'x-portcullis-date'
export const NONCE_HEADER = 'x-portcullis-nonce'
/** DESIGN §3: the date must be within 15 minutes of the server's clock. */
export const MAX_CLOCK_SKEW_MS = 15 * 60_000
/** A nonce is remembered for longer than the whole date window (±15 min), so no replay fits. */
export const NONCE_TTL_MS = 30 * 60_000

const DATE_FORMAT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/
const NONCE_FORMAT = /^[A-Za-z0-9_-]{8,128}$/
const ACCESS_KEY_ID_FORMAT = /^[A-Za-z0-9_.-]{1,128}$/
const SHA1_BYTES = 20

/** RFC 3986 §2.3: only unreserved characters stay literal. encodeURIComponent leaves !'()* too. */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

function decodeQueryPart(part: string): string {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '))
  } catch {
    throw new PortcullisError('VALIDATION_FAILED', 'the query string holds a malformed percent-encoding')
  }
}

/** The SORTED_QUERY line from a raw query string (without the leading `?`). */
export function canonicalQuery(rawQuery: string): string {
  if (rawQuery === '') return ''
  const pairs: Array<[string, string]> = []
  for (const piece of rawQuery.split('&')) {
    if (piece === '') continue
    const eq = piece.indexOf('=')
    const name = eq < 0 ? piece : piece.slice(0, eq)
    const value = eq < 0 ? '' : piece.slice(eq + 1)
    pairs.push([percentEncode(decodeQueryPart(name)), percentEncode(decodeQueryPart(value))])
  }
  pairs.sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
  return pairs.map(([n, v]) => `${n}=${v}`).join('&')
}

export function sha256Hex(body: Buffer | string): string {
  return createHash('sha256').update(body).digest('hex')
}

export interface CanonicalParts {
  method: string
  /** The request target as sent: path plus optional `?query`. */
  url: string
  body: Buffer | string
  date: string
  nonce: string
}

export function splitUrl(url: string): { path: string; query: string } {
  const q = url.indexOf('?')
  return q < 0 ? { path: url, query: '' } : { path: url.slice(0, q), query: url.slice(q + 1) }
}

export function canonicalString(parts: CanonicalParts): string {
  const { path, query } = splitUrl(parts.url)
  return [parts.method.toUpperCase(), path, canonicalQuery(query), sha256Hex(parts.body), parts.date, parts.nonce].join('\n')
}

export function computeSignature(secret: string, canonical: string): string {
  return createHmac('sha1', secret).update(canonical, 'utf8').digest('base64')
}

/** ISO 8601 UTC without milliseconds, the form DESIGN §3 shows (`2026-11-24T08:00:00Z`). */
export function formatSigningDate(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`
}

export interface SignRequestInput {
  method: string
  url: string
  body?: Buffer | string
  accessKeyId: string
  accessKeySecret: string
  now?: Date
  nonce?: string
}

/** Headers that sign one request. Send the body bytes exactly as hashed here. */
export function signRequest(input: SignRequestInput): Record<string, string> {
  const date = formatSigningDate(input.now ?? new Date())
  const nonce = input.nonce ?? randomBytes(16).toString('base64url')
  const canonical = canonicalString({ method: input.method, url: input.url, body: input.body ?? '', date, nonce })
  return {
    authorization: `${AUTH_SCHEME} ${input.accessKeyId}:${computeSignature(input.accessKeySecret, canonical)}`,
    [DATE_HEADER]: date,
    [NONCE_HEADER]: nonce,
  }
}

/**
 * A key the admin API knows: its secret. What the key may do is not the signature's business: the
 * authorization step after it decides that (src/admin/authorization/, DESIGN §4).
 */
export interface ResolvedKey {
  secret: string
}

/**
 * Finds an AccessKey; undefined when the key is unknown. A bare string is the secret (the form of
 * the first resolvers, kept for callers that know one key only). May throw ACCESS_KEY_INACTIVE (a
 * disabled key: its secret is not opened, so the signature cannot even be checked).
 */
export type KeyResolver = (accessKeyId: string) => Promise<ResolvedKey | string | undefined>

/**
 * A refused admin request. `code` is what the caller is told; `auditReason` is what the audit event
 * records, which may be more precise (see verifyRequest for why the two differ).
 */
export class AdminAuthError extends PortcullisError {
  readonly auditReason: ErrorCode
  constructor(code: ErrorCode, message?: string, auditReason: ErrorCode = code) {
    super(code, message)
    this.auditReason = auditReason
    this.name = 'AdminAuthError'
  }
}

export interface VerifyRequestInput {
  method: string
  url: string
  headers: Record<string, string | string[] | undefined>
  body: Buffer | string
  resolveSecret: KeyResolver
  /** Store.claimNonce: true the first time. */
  claimNonce: (nonce: string, ttlMs: number) => Promise<boolean>
  now?: Date
}

export interface VerifiedRequest {
  accessKeyId: string
}

/** Parsed Authorization header; the AccessKey id is known even when the signature fails (audit). */
export function parseAuthorization(header: string | undefined): { accessKeyId: string; signature: string } | undefined {
  if (header === undefined) return undefined
  const match = /^PORTCULLIS-HMAC-SHA1 ([^:\s]+):([A-Za-z0-9+/=]+)$/.exec(header.trim())
  if (match === null || !ACCESS_KEY_ID_FORMAT.test(match[1] ?? '')) return undefined
  return { accessKeyId: match[1] ?? '', signature: match[2] ?? '' }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? undefined : value
}

/**
 * Verifies a signed request; throws AdminAuthError. What the caller is told:
 * - SIGNATURE_MISSING: a header is absent; SIGNATURE_INVALID: malformed headers or a signature
 *   that does not verify;
 * - SIGNATURE_EXPIRED: the date is more than 15 minutes from the server's clock;
 * - NONCE_REUSED: the nonce was accepted before (within the signature window, on any replica).
 *
 * A verified request of any Active key goes on to the authorization step, which answers 403
 * ACCESS_DENIED for an action the key's policies do not allow (src/admin/authorization/).
 *
 * Which of these is safe to say: an unknown AccessKey and a wrong signature both answer
 * SIGNATURE_INVALID, because telling them apart would let an unauthenticated caller probe which
 * key ids exist; the audit event (read only by an operator) records ACCESS_KEY_UNKNOWN (or
 * ACCESS_KEY_INACTIVE for a disabled key) instead. The date and nonce checks run only after the
 * signature verified, so naming them tells nothing to someone without the secret (and the date
 * and nonce are the caller's own headers, not secrets). ACCESS_DENIED likewise comes only after a
 * good signature: only the key's holder learns that the key exists.
 *
 * Order: signature first (a forger learns nothing and cannot burn nonces), then the date window,
 * then the nonce claim (only an otherwise good request consumes its nonce).
 */
export async function verifyRequest(input: VerifyRequestInput): Promise<VerifiedRequest> {
  const authHeader = single(input.headers.authorization)
  const date = single(input.headers[DATE_HEADER])
  const nonce = single(input.headers[NONCE_HEADER])
  if (authHeader === undefined || date === undefined || nonce === undefined) {
    throw new AdminAuthError('SIGNATURE_MISSING', `the request must carry Authorization, ${DATE_HEADER} and ${NONCE_HEADER} headers`)
  }
  const auth = parseAuthorization(authHeader)
  if (auth === undefined) throw new AdminAuthError('SIGNATURE_INVALID', `the Authorization header is not "${AUTH_SCHEME} <AccessKeyId>:<Base64 signature>"`)
  if (!DATE_FORMAT.test(date)) throw new AdminAuthError('SIGNATURE_INVALID', `${DATE_HEADER} must be ISO 8601 UTC, e.g. 2026-11-24T08:00:00Z`)
  if (!NONCE_FORMAT.test(nonce)) throw new AdminAuthError('SIGNATURE_INVALID', `${NONCE_HEADER} must be 8 to 128 characters of [A-Za-z0-9_-]`)

  const { key, missing } = await resolve(input.resolveSecret, auth.accessKeyId)
  // An unknown key still costs one HMAC, so the answer's timing does not say it is unknown.
  const expected = computeSignature(key?.secret ?? randomBytes(32).toString('hex'), canonicalString({ method: input.method, url: input.url, body: input.body, date, nonce }))
  const given = Buffer.from(auth.signature, 'base64')
  const wanted = Buffer.from(expected, 'base64')
  const match = given.length === SHA1_BYTES && timingSafeEqual(given, wanted)
  if (key === undefined) throw new AdminAuthError('SIGNATURE_INVALID', undefined, missing)
  if (!match) throw new AdminAuthError('SIGNATURE_INVALID')

  const skew = Math.abs((input.now ?? new Date()).getTime() - Date.parse(date))
  if (!(skew <= MAX_CLOCK_SKEW_MS)) throw new AdminAuthError('SIGNATURE_EXPIRED', `${DATE_HEADER} is more than 15 minutes from the server time`)

  // Scoped by AccessKey: one key holder cannot pre-claim (and so block) another key's nonces.
  if (!(await input.claimNonce(`admin:${auth.accessKeyId}:${nonce}`, NONCE_TTL_MS))) throw new AdminAuthError('NONCE_REUSED')
  return { accessKeyId: auth.accessKeyId }
}

/** The key, or why there is none: unknown, or disabled (both answered like a bad signature). */
async function resolve(resolver: KeyResolver, accessKeyId: string): Promise<{ key: ResolvedKey | undefined; missing: ErrorCode }> {
  try {
    const found = await resolver(accessKeyId)
    const key = typeof found === 'string' ? { secret: found } : found
    return { key, missing: 'ACCESS_KEY_UNKNOWN' }
  } catch (err) {
    if (isPortcullisError(err, 'ACCESS_KEY_INACTIVE')) return { key: undefined, missing: 'ACCESS_KEY_INACTIVE' }
    throw err
  }
}
