/**
 * Verifies AMQP PLAIN / AMQPLAIN credentials (DESIGN §1 "RabbitMQ (AMQP) clients with
 * AccessKey-derived credentials"). The protocol adapter extracts username and password from
 * Start-Ok; this decides. The verdict is data: the adapter turns a refusal into
 * `Connection.Close 403 ACCESS_REFUSED - <reason>` (DESIGN §2).
 *
 * Order of checks, and why:
 *  1. userName shape, then instance binding (the userName's instance must be the connection's,
 *     from SNI, when there is one — a credential for instance A is no key to instance B);
 *  2. password shape;
 *  3. the AccessKey (unknown → BAD_CREDENTIALS, after an HMAC over a dummy secret so that an
 *     unknown key costs what a wrong password does);
 *  4. the HMAC, in constant time — before anything else is said about the key or the time, so
 *     that only a holder of the secret learns that a credential has merely expired or that its
 *     AccessKey exists and is disabled: without that proof every answer is BAD_CREDENTIALS;
 *  5. the key's status (disabled → ACCESS_KEY_INACTIVE, to a client that proved the secret);
 *  6. per kind: dynamic → ts within ±window of now; static → a static account exists for
 *     (instance, AccessKey) and ts is its createTimestamp; STS → the gateway's token verifies,
 *     is bound to this AccessKey and is unexpired, and ts is within the window as well.
 *
 * `reason` never says which part was wrong (BAD_CREDENTIALS covers them all); `detail` does, for
 * the audit log, and never holds the secret or the password. Store failures are not a verdict:
 * they are thrown (STORE_UNAVAILABLE), and the adapter answers as for a backend that is down.
 */
import type { StaticAccountRecord } from '../store/records'
import { hexEqual, hmacSha1Hex, parsePassword, parseUserName } from './credentials'
import type { ParsedPassword, ParsedUserName } from './credentials'
import type { TokenVerdict } from './security-tokens'

export const DEFAULT_CREDENTIAL_WINDOW_MS = 15 * 60_000

export type AuthKind = 'dynamic' | 'static' | 'sts'

export interface AmqpSubject {
  instanceId: string
  accessKeyId: string
  kind: AuthKind
  /** The static user's userName (kind static): what an `account` blacklist entry names. */
  account?: string
  /** The userName as sent (Base64). */
  username: string
  /** STS: when the token expires (ISO 8601); the session may be ended then. */
  expiresAt?: string
  /** STS: the token's id, for the audit event. */
  tokenId?: string
}

export type AuthFailureReason = 'BAD_CREDENTIALS' | 'CREDENTIAL_EXPIRED' | 'ACCESS_KEY_INACTIVE' | 'UNKNOWN_INSTANCE'

export type AuthResult =
  | { ok: true; subject: AmqpSubject }
  | { ok: false; reason: AuthFailureReason; detail: string; accessKeyId?: string; instanceId?: string }

export interface AuthenticatorDeps {
  /** The secret and status (Inactive keys too: their HMAC is checked before the status is told). */
  accessKeys: { credentialOf(accessKeyId: string): Promise<{ readonly status: 'Active' | 'Inactive'; readonly secret: string } | undefined> }
  staticAccounts: { find(instanceId: string, accessKeyId: string): Promise<StaticAccountRecord | undefined> }
  tokens: { verify(token: string, accessKeyId: string, nowMs: number): TokenVerdict }
  /** config `limits.credentialWindowMs`; default 15 minutes. */
  credentialWindowMs?: number
  /** When given, a userName naming an instance that does not exist (or is not AMQP) is UNKNOWN_INSTANCE. */
  isAmqpInstance?: (instanceId: string) => boolean | Promise<boolean>
  now?: () => number
}

export interface AuthInput {
  username: string
  password: string
  /** The connection's instance from SNI, when the client sent SNI. */
  instanceId?: string
  now?: number
}

/** Spent on an unknown AccessKey so that its refusal costs the same HMAC as a wrong password. */
const DUMMY_SECRET = 'portcullis-unknown-access-key-dummy-secret'

export class AmqpAuthenticator {
  private readonly windowMs: number
  private readonly now: () => number

  constructor(private readonly deps: AuthenticatorDeps) {
    this.windowMs = deps.credentialWindowMs ?? DEFAULT_CREDENTIAL_WINDOW_MS
    this.now = deps.now ?? Date.now
  }

  async authenticate(input: AuthInput): Promise<AuthResult> {
    const now = input.now ?? this.now()
    const user = parseUserName(input.username)
    if (!user.ok) return refuse('BAD_CREDENTIALS', user.detail)
    const u = user.value
    const ids = { accessKeyId: u.accessKeyId, instanceId: u.instanceId }
    if (input.instanceId !== undefined && input.instanceId !== u.instanceId) {
      return refuse('BAD_CREDENTIALS', `userName names instance ${u.instanceId} but the connection is for instance ${input.instanceId}`, ids)
    }
    if (this.deps.isAmqpInstance !== undefined && !(await this.deps.isAmqpInstance(u.instanceId))) {
      return refuse('UNKNOWN_INSTANCE', `userName names instance ${u.instanceId}, which is not an AMQP instance here`, ids)
    }
    const pass = parsePassword(input.password)
    if (!pass.ok) return refuse('BAD_CREDENTIALS', pass.detail, ids)
    const key = await this.deps.accessKeys.credentialOf(u.accessKeyId)
    const expected = hmacSha1Hex(pass.value.ts, key?.secret ?? DUMMY_SECRET)
    if (key === undefined) return refuse('BAD_CREDENTIALS', `AccessKey ${u.accessKeyId} does not exist`, ids)
    const inactive = key.status !== 'Active'
    if (!hexEqual(pass.value.hexSignature, expected)) {
      // The detail is for the audit log only: the client hears BAD_CREDENTIALS either way.
      return refuse('BAD_CREDENTIALS', `password signature does not match AccessKey ${u.accessKeyId}${inactive ? ' (which is disabled)' : ''}`, ids)
    }
    if (inactive) return refuse('ACCESS_KEY_INACTIVE', `AccessKey ${u.accessKeyId} is disabled`, ids)
    return this.checkKind(u, pass.value, input.username, now)
  }

  private async checkKind(u: ParsedUserName, pass: ParsedPassword, username: string, now: number): Promise<AuthResult> {
    const ids = { accessKeyId: u.accessKeyId, instanceId: u.instanceId }
    const subject: AmqpSubject = { instanceId: u.instanceId, accessKeyId: u.accessKeyId, kind: u.kind, username }
    switch (u.kind) {
      case 'dynamic': {
        const stale = this.outsideWindow(pass.ts, now)
        return stale === undefined ? { ok: true, subject } : refuse('CREDENTIAL_EXPIRED', stale, ids)
      }
      case 'static': {
        const account = await this.deps.staticAccounts.find(u.instanceId, u.accessKeyId)
        if (account === undefined) return refuse('BAD_CREDENTIALS', `AccessKey ${u.accessKeyId} has no static account on instance ${u.instanceId}`, ids)
        if (account.createTimestamp !== pass.ts) return refuse('BAD_CREDENTIALS', 'password timestamp is not the static account\'s createTimestamp', ids)
        return { ok: true, subject: { ...subject, account: account.userName } }
      }
      case 'sts': {
        const token = this.deps.tokens.verify(u.securityToken, u.accessKeyId, now)
        if (!token.ok) return refuse(token.reason, token.detail, ids)
        const stale = this.outsideWindow(pass.ts, now)
        if (stale !== undefined) return refuse('CREDENTIAL_EXPIRED', stale, ids)
        return { ok: true, subject: { ...subject, expiresAt: token.expiresAt, tokenId: token.tokenId } }
      }
    }
  }

  /** A description of why ts is outside ±window of now, or undefined when it is inside. */
  private outsideWindow(ts: string, now: number): string | undefined {
    const skew = Number(ts) - now
    if (Math.abs(skew) <= this.windowMs) return undefined
    return `password timestamp is ${Math.round(Math.abs(skew) / 1000)} s ${skew < 0 ? 'old' : 'in the future'}; the window is ±${Math.round(this.windowMs / 1000)} s`
  }
}

function refuse(reason: AuthFailureReason, detail: string, ids: { accessKeyId?: string; instanceId?: string } = {}): AuthResult {
  return { ok: false, reason, detail, ...ids }
}
