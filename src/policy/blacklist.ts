import type { BlacklistRecord } from '../store/records'
import { AddressSet } from '../tunnel/cidr'

/** What a blacklist entry can name about a connection; absent fields match nothing. */
export interface BlacklistSubject {
  instanceId?: string
  ip?: string
  accessKeyId?: string
  account?: string
  username?: string
  clientId?: string
  /** Lowercase hex SHA-256 of the device certificate's DER (the device id). */
  certFingerprint?: string
}

type Kind = BlacklistRecord['kind']
const KINDS: readonly Kind[] = ['ip', 'accessKey', 'account', 'username', 'clientId', 'certFingerprint']
const FIELD: Record<Kind, keyof BlacklistSubject> = {
  ip: 'ip', accessKey: 'accessKeyId', account: 'account', username: 'username', clientId: 'clientId', certFingerprint: 'certFingerprint',
}

/**
 * The blacklist as the data path reads it (DESIGN §1 "Account blacklist"): entries are global or
 * scoped to one instance, and an entry past its `expiresAt` stops applying by itself — expiry is
 * checked at match time, so no sweeper has to run for a ban to end on time. Pure and immutable:
 * built once per change of the list, then read by every connection.
 */
export class BlacklistIndex {
  private readonly exact = new Map<string, BlacklistRecord[]>()
  private readonly ranges: Array<{ set: AddressSet; record: BlacklistRecord }> = []
  /** The kinds with an exact entry: every connection is matched twice, mostly against none. */
  private readonly exactKinds: readonly Kind[]

  private constructor(records: readonly BlacklistRecord[]) {
    const kinds = new Set<Kind>()
    for (const record of records) {
      if (record.kind === 'ip' && record.value.includes('/')) {
        try {
          this.ranges.push({ set: AddressSet.parse([record.value]), record })
        } catch {
          // The admin API refuses malformed ranges; one in the store anyway matches nothing.
        }
        continue
      }
      const key = keyOf(record.kind, normalise(record.kind, record.value))
      const list = this.exact.get(key) ?? []
      list.push(record)
      this.exact.set(key, list)
      kinds.add(record.kind)
    }
    // In KINDS order, which decides the entry reported when several apply.
    this.exactKinds = KINDS.filter((kind) => kinds.has(kind))
  }

  static build(records: readonly BlacklistRecord[]): BlacklistIndex {
    return new BlacklistIndex(records)
  }

  static readonly EMPTY = new BlacklistIndex([])

  /** The first entry that applies to the subject now, or undefined. */
  match(subject: BlacklistSubject, nowMs: number): BlacklistRecord | undefined {
    for (const kind of this.exactKinds) {
      const value = subject[FIELD[kind]]
      if (value === undefined) continue
      for (const record of this.exact.get(keyOf(kind, normalise(kind, value))) ?? []) {
        if (applies(record, subject, nowMs)) return record
      }
    }
    if (subject.ip !== undefined && this.ranges.length > 0) {
      for (const { set, record } of this.ranges) {
        if (set.has(subject.ip) && applies(record, subject, nowMs)) return record
      }
    }
    return undefined
  }
}

function applies(record: BlacklistRecord, subject: BlacklistSubject, nowMs: number): boolean {
  if (record.instanceId !== undefined && record.instanceId !== subject.instanceId) return false
  return record.expiresAt === undefined || Date.parse(record.expiresAt) > nowMs
}

function keyOf(kind: Kind, value: string): string {
  return `${kind}\u0000${value}`
}

/** Fingerprints compare without colons and case; IPv4-mapped IPv6 as IPv4; the rest exactly. */
export function normalise(kind: Kind, value: string): string {
  if (kind === 'certFingerprint') return value.replace(/:/g, '').toLowerCase()
  if (kind === 'ip') return value.startsWith('::ffff:') ? value.slice(7) : value.toLowerCase()
  return value
}
