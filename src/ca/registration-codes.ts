/**
 * Registration codes for CA registration (DESIGN §1): the gateway issues a code per instance; the
 * operator proves possession of a CA key by signing a verification certificate whose CN is the
 * code. Asking for a new code voids the previous one; a code is single-use and expires after an
 * hour.
 *
 * One record per instance: ('registrationCodes', instanceId, 'current'). Issuing and consuming
 * run under one lock per instance, so "compare, then delete" is atomic: a wrong guess never burns
 * the operator's code, and a new code issued meanwhile is never deleted by a stale consume.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { PortcullisError } from '../errors'
import type { RegistrationCodeRecord } from '../store/records'
import type { Store } from '../store/store'

export const REGISTRATION_CODE_TTL_MS = 60 * 60 * 1000
const COLLECTION = 'registrationCodes'
const CURRENT = 'current'

export interface IssuedRegistrationCode {
  registrationCode: string
  /** ISO 8601 UTC. */
  expiresAt: string
}

export class RegistrationCodes {
  constructor(private readonly store: Store) {}

  /** A fresh code (128 random bits as 32 hex characters); it replaces any previous one. */
  async issue(instanceId: string, now: Date = new Date()): Promise<IssuedRegistrationCode> {
    const record: RegistrationCodeRecord = {
      instanceId,
      code: randomBytes(16).toString('hex'),
      expiresAt: new Date(now.getTime() + REGISTRATION_CODE_TTL_MS).toISOString(),
    }
    await this.locked(instanceId, () => this.store.put(COLLECTION, instanceId, CURRENT, record))
    return { registrationCode: record.code, expiresAt: record.expiresAt }
  }

  /**
   * Throws REGISTRATION_CODE_MISSING (none, or expired) or REGISTRATION_CODE_INVALID (another
   * code) without consuming anything: lets a caller refuse early, before its own checks.
   */
  async check(instanceId: string, code: string, now: Date = new Date()): Promise<void> {
    const current = await this.store.get(COLLECTION, instanceId, CURRENT)
    judge(current, code, now)
  }

  /**
   * Consumes the code if it is the current one and not expired; otherwise throws as `check` does
   * and leaves the current code in place (an expired one is removed).
   */
  async consume(instanceId: string, code: string, now: Date = new Date()): Promise<void> {
    await this.locked(instanceId, async () => {
      const current = await this.store.get(COLLECTION, instanceId, CURRENT)
      try {
        judge(current, code, now)
      } catch (err) {
        if (current !== undefined && isExpired(current, now)) await this.store.delete(COLLECTION, instanceId, CURRENT)
        throw err
      }
      const taken = await this.store.take(COLLECTION, instanceId, CURRENT)
      // Under the lock nobody else writes this record; a mismatch would mean a writer bypassed it.
      if (taken === undefined || !sameCode(taken.code, code)) {
        throw new PortcullisError('CONFLICT', 'the registration code changed concurrently; retry')
      }
    })
  }

  private locked<T>(instanceId: string, fn: () => Promise<T>): Promise<T> {
    return this.store.withLock(`registration-code:${instanceId}`, fn)
  }
}

function judge(current: RegistrationCodeRecord | undefined, code: string, now: Date): void {
  if (current === undefined) throw new PortcullisError('REGISTRATION_CODE_MISSING')
  if (isExpired(current, now)) {
    throw new PortcullisError('REGISTRATION_CODE_MISSING', 'the registration code has expired; ask for a new one')
  }
  if (!sameCode(current.code, code)) throw new PortcullisError('REGISTRATION_CODE_INVALID')
}

function isExpired(record: RegistrationCodeRecord, now: Date): boolean {
  return now.getTime() >= Date.parse(record.expiresAt)
}

/** Constant-time: hashing first gives equal-length inputs whatever was presented. */
function sameCode(expected: string, presented: string): boolean {
  const a = createHash('sha256').update(expected, 'utf8').digest()
  const b = createHash('sha256').update(presented, 'utf8').digest()
  return timingSafeEqual(a, b)
}
