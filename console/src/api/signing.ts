/**
 * Admin request signing in the page (DESIGN §3 "Admin API"), the browser's twin of
 * src/admin/signing.ts, which verifies what this produces:
 *
 *   Authorization: PORTCULLIS-HMAC-SHA1 <AccessKeyId>:<Base64 HMAC-SHA1(secret, canonical)>
 *   canonical = METHOD \n PATH \n SORTED_QUERY \n HEX_SHA256(body) \n x-portcullis-date \n x-portcullis-nonce
 *
 * SORTED_QUERY: each query parameter decoded (`+` is a space), re-encoded per RFC 3986 (only
 * `A-Z a-z 0-9 - . _ ~` literal, the rest %XX upper-case), `name=value`, sorted by name then value,
 * joined by `&`. Only WebCrypto (crypto.subtle), TextEncoder and btoa are used, so the very same
 * module runs in the browser and in Node 20 (test/e2e/console-signing.test.ts checks it against
 * the server's verifier). The secret is an argument, never kept here.
 */
export const AUTH_SCHEME = 'PORTCULLIS-HMAC-SHA1'
export const DATE_HEADER = 'x-portcullis-date'
export const NONCE_HEADER = 'x-portcullis-nonce'

export interface SigningKey {
  accessKeyId: string
  accessKeySecret: string
}

const utf8 = new TextEncoder()

/** RFC 3986 §2.3: only unreserved characters stay literal. encodeURIComponent leaves !'()* too. */
export function percentEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

function decodeQueryPart(part: string): string {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '))
  } catch {
    throw new Error('the query string holds a malformed percent-encoding')
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
  // Code-unit order, as the server's `<` comparison: localeCompare would differ.
  pairs.sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
  return pairs.map(([n, v]) => `${n}=${v}`).join('&')
}

export function toHex(bytes: Uint8Array): string {
  let out = ''
  for (const b of bytes) out += b.toString(16).padStart(2, '0')
  return out
}

export function toBase64(bytes: Uint8Array): string {
  let binary = ''
  for (const b of bytes) binary += String.fromCharCode(b)
  return btoa(binary)
}

/** Standard Base64 of the UTF-8 bytes of `text`. */
export function base64Utf8(text: string): string {
  return toBase64(utf8.encode(text))
}

export async function sha256Hex(text: string): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', utf8.encode(text))))
}

/** HMAC-SHA1 of `message` under `key`, both UTF-8. WebCrypto refuses an empty HMAC key. */
export async function hmacSha1(key: string, message: string): Promise<Uint8Array> {
  if (key === '') throw new Error('an HMAC key must not be empty')
  const cryptoKey = await crypto.subtle.importKey('raw', utf8.encode(key), { name: 'HMAC', hash: 'SHA-1' }, false, ['sign'])
  return new Uint8Array(await crypto.subtle.sign('HMAC', cryptoKey, utf8.encode(message)))
}

/** ISO 8601 UTC without milliseconds (`2026-11-24T08:00:00Z`), the form DESIGN §3 shows. */
export function formatSigningDate(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`
}

/** 16 random bytes, base64url without padding: within the server's `[A-Za-z0-9_-]{8,128}`. */
export function randomNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

export interface CanonicalParts {
  method: string
  /** The request target exactly as it goes on the wire: path plus optional `?query`. */
  target: string
  body: string
  date: string
  nonce: string
}

export async function canonicalString(parts: CanonicalParts): Promise<string> {
  const q = parts.target.indexOf('?')
  const path = q < 0 ? parts.target : parts.target.slice(0, q)
  const query = q < 0 ? '' : parts.target.slice(q + 1)
  return [parts.method.toUpperCase(), path, canonicalQuery(query), await sha256Hex(parts.body), parts.date, parts.nonce].join('\n')
}

export interface SignInput {
  method: string
  target: string
  body: string
  key: SigningKey
  now?: Date
  nonce?: string
}

/** The three headers that sign one request. Send `body` byte for byte as it was hashed here. */
export async function signRequest(input: SignInput): Promise<Record<string, string>> {
  const date = formatSigningDate(input.now ?? new Date())
  const nonce = input.nonce ?? randomNonce()
  const canonical = await canonicalString({ method: input.method, target: input.target, body: input.body, date, nonce })
  const signature = toBase64(await hmacSha1(input.key.accessKeySecret, canonical))
  return {
    authorization: `${AUTH_SCHEME} ${input.key.accessKeyId}:${signature}`,
    [DATE_HEADER]: date,
    [NONCE_HEADER]: nonce,
  }
}
