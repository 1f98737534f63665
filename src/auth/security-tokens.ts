/**
 * Gateway-issued STS security tokens (DESIGN §1 STS variant: `Base64("0:" + instanceId + ":" +
 * accessKeyId + ":" + securityToken)`; issued by `POST /v1/access-keys/{id}/security-tokens`).
 *
 * A token is self-contained, so every replica verifies it without a store lookup:
 *
 *   token   = base64url(payload) "." base64url(HMAC-SHA256(tokenKey, base64url(payload)))
 *   payload = JSON {v: 1, kid, ak, exp (ms since epoch), jti}
 *   tokenKey = HKDF-SHA256(master key `kid`, salt = "", info = "portcullis sts v1", 32 bytes)
 *
 * The alphabet ([A-Za-z0-9_-] and ".") holds no ":", the userName's field separator. `kid` names
 * the master key, so tokens issued before a rotation verify while the old key is still loaded.
 * A token is bound to one AccessKey (`ak`); the login still needs that AccessKey's password, and
 * disabling or deleting the AccessKey ends the token's use with it (the authenticator checks).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { PortcullisError } from '../errors'
import type { MasterKeyring } from '../keys/master-key'

/** Shape check before anything is decoded; also what a userName's fourth field must match. */
export const SECURITY_TOKEN = /^[A-Za-z0-9_-]{16,512}\.[A-Za-z0-9_-]{43}$/
export const MIN_TOKEN_TTL_SECONDS = 60
/** 12 hours, the longest an STS credential lives (Aliyun STS's own maximum). */
export const MAX_TOKEN_TTL_SECONDS = 43_200
const HKDF_INFO = 'portcullis sts v1'

interface TokenPayload {
  v: 1
  kid: string
  ak: string
  exp: number
  jti: string
}

export interface IssuedToken {
  securityToken: string
  /** ISO 8601 UTC. */
  expiresAt: string
  /** Unique id of the token, for the audit event (not a secret: the MAC is what protects it). */
  tokenId: string
}

export type TokenVerdict =
  | { ok: true; expiresAt: string; tokenId: string }
  | { ok: false; reason: 'BAD_CREDENTIALS' | 'CREDENTIAL_EXPIRED'; detail: string }

export function issueSecurityToken(keyring: MasterKeyring, accessKeyId: string, ttlSeconds: number, nowMs: number): IssuedToken {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < MIN_TOKEN_TTL_SECONDS || ttlSeconds > MAX_TOKEN_TTL_SECONDS) {
    throw new PortcullisError('VALIDATION_FAILED', `ttlSeconds must be an integer from ${MIN_TOKEN_TTL_SECONDS} to ${MAX_TOKEN_TTL_SECONDS}`)
  }
  const payload: TokenPayload = {
    v: 1,
    kid: keyring.current.id,
    ak: accessKeyId,
    exp: nowMs + ttlSeconds * 1000,
    jti: randomBytes(16).toString('base64url'),
  }
  const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url')
  const securityToken = `${body}.${mac(keyring, payload.kid, body)?.toString('base64url') ?? ''}`
  if (!SECURITY_TOKEN.test(securityToken)) throw new PortcullisError('VALIDATION_FAILED', 'the AccessKey id is too long for a security token')
  return { securityToken, expiresAt: new Date(payload.exp).toISOString(), tokenId: payload.jti }
}

export function verifySecurityToken(keyring: MasterKeyring, token: string, accessKeyId: string, nowMs: number): TokenVerdict {
  const bad = (detail: string): TokenVerdict => ({ ok: false, reason: 'BAD_CREDENTIALS', detail })
  if (!SECURITY_TOKEN.test(token)) return bad('security token is malformed')
  const [body = '', signature = ''] = token.split('.')
  const payload = decodePayload(body)
  if (payload === undefined) return bad('security token payload is malformed')
  const expected = mac(keyring, payload.kid, body)
  if (expected === undefined) return bad(`security token names master key ${payload.kid}, which is not loaded`)
  const given = Buffer.from(signature, 'base64url')
  const canonical = given.toString('base64url') === signature
  if (!canonical || given.length !== expected.length || !timingSafeEqual(given, expected)) return bad('security token signature does not verify')
  if (payload.ak !== accessKeyId) return bad('security token was issued for another AccessKey')
  const expiresAt = new Date(payload.exp).toISOString()
  if (payload.exp <= nowMs) return { ok: false, reason: 'CREDENTIAL_EXPIRED', detail: `security token ${payload.jti} expired at ${expiresAt}` }
  return { ok: true, expiresAt, tokenId: payload.jti }
}

/** Undefined when the master key `kid` is not in the keyring. */
function mac(keyring: MasterKeyring, kid: string, body: string): Buffer | undefined {
  const master = keyring.byId(kid)
  if (master === undefined) return undefined
  const tokenKey = master.derive(Buffer.alloc(0), HKDF_INFO, 32)
  return createHmac('sha256', tokenKey).update(body, 'ascii').digest()
}

function decodePayload(body: string): TokenPayload | undefined {
  const bytes = Buffer.from(body, 'base64url')
  if (bytes.toString('base64url') !== body) return undefined // non-canonical encoding
  let doc: unknown
  try {
    doc = JSON.parse(bytes.toString('utf8'))
  } catch {
    return undefined
  }
  if (typeof doc !== 'object' || doc === null) return undefined
  const p = doc as Partial<Record<keyof TokenPayload, unknown>>
  if (p.v !== 1 || typeof p.kid !== 'string' || typeof p.ak !== 'string' || typeof p.jti !== 'string') return undefined
  if (typeof p.exp !== 'number' || !Number.isSafeInteger(p.exp)) return undefined
  return { v: 1, kid: p.kid, ak: p.ak, exp: p.exp, jti: p.jti }
}

/** What issuing needs to know about the AccessKey (AccessKeyService provides it). */
export interface AccessKeyLookup {
  get(accessKeyId: string): Promise<{ status: 'Active' | 'Inactive' }>
}

/**
 * The admin-facing side: issuing checks that the AccessKey exists (NOT_FOUND) and is Active
 * (ACCESS_KEY_INACTIVE). Verification is the pure function above; the authenticator uses
 * `verify` here only so it can be handed one object.
 */
export class SecurityTokens {
  constructor(
    private readonly keyring: MasterKeyring,
    private readonly accessKeys: AccessKeyLookup,
    private readonly now: () => number = Date.now,
  ) {}

  async issue(accessKeyId: string, ttlSeconds: number): Promise<IssuedToken & { accessKeyId: string }> {
    const key = await this.accessKeys.get(accessKeyId)
    if (key.status !== 'Active') throw new PortcullisError('ACCESS_KEY_INACTIVE', `AccessKey ${accessKeyId} is disabled`)
    return { accessKeyId, ...issueSecurityToken(this.keyring, accessKeyId, ttlSeconds, this.now()) }
  }

  verify(token: string, accessKeyId: string, nowMs: number = this.now()): TokenVerdict {
    return verifySecurityToken(this.keyring, token, accessKeyId, nowMs)
  }
}
