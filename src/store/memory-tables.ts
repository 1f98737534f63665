/**
 * The embedded store's in-memory state: collection → scope → id → record, plus the log entry
 * format that rebuilds it. Stored records are never mutated in place — a write replaces the
 * object — so a record handed to a queued change event stays the snapshot it was.
 */
import { PortcullisError } from '../errors'
import { COLLECTIONS } from './records'
import type { Collection } from './records'

export type LogEntry =
  | { op: 'put'; c: Collection; s: string; id: string; r: unknown }
  | { op: 'del'; c: Collection; s: string; id: string }

export class MemoryTables {
  private readonly tables = new Map<Collection, Map<string, Map<string, unknown>>>()

  get(collection: Collection, scope: string, id: string): unknown {
    return this.tables.get(collection)?.get(scope)?.get(id)
  }

  /** Records of one scope, ordered by id so both stores list alike. */
  list(collection: Collection, scope: string): unknown[] {
    const records = this.tables.get(collection)?.get(scope)
    if (records === undefined) return []
    return [...records.keys()].sort().map((id) => records.get(id))
  }

  scopes(collection: Collection): string[] {
    return [...(this.tables.get(collection)?.keys() ?? [])].sort()
  }

  count(collection: Collection, scope: string): number {
    return this.tables.get(collection)?.get(scope)?.size ?? 0
  }

  /** Total number of records, to decide when the log is worth compacting. */
  get size(): number {
    let total = 0
    for (const scopes of this.tables.values()) for (const records of scopes.values()) total += records.size
    return total
  }

  set(collection: Collection, scope: string, id: string, record: unknown): void {
    let scopes = this.tables.get(collection)
    if (scopes === undefined) this.tables.set(collection, (scopes = new Map()))
    let records = scopes.get(scope)
    if (records === undefined) scopes.set(scope, (records = new Map()))
    records.set(id, record)
  }

  delete(collection: Collection, scope: string, id: string): void {
    const scopes = this.tables.get(collection)
    const records = scopes?.get(scope)
    if (scopes === undefined || records === undefined) return
    records.delete(id)
    // An emptied scope is no longer "in use" (Store.scopes).
    if (records.size === 0) scopes.delete(scope)
  }

  apply(entry: LogEntry): void {
    if (entry.op === 'put') this.set(entry.c, entry.s, entry.id, entry.r)
    else this.delete(entry.c, entry.s, entry.id)
  }

  /** The whole state as put entries: the content of a compacted log. */
  *snapshot(): Generator<LogEntry> {
    for (const [c, scopes] of this.tables) {
      for (const [s, records] of scopes) {
        for (const [id, r] of records) yield { op: 'put', c, s, id, r }
      }
    }
  }
}

export function toLogEntry(value: unknown, index: number): LogEntry {
  if (typeof value === 'object' && value !== null) {
    const v = value as Record<string, unknown>
    const keyed = typeof v.s === 'string' && typeof v.id === 'string' &&
      typeof v.c === 'string' && (COLLECTIONS as readonly string[]).includes(v.c)
    if (keyed && v.op === 'put' && typeof v.r === 'object' && v.r !== null) {
      return { op: 'put', c: v.c as Collection, s: v.s as string, id: v.id as string, r: v.r }
    }
    if (keyed && v.op === 'del') return { op: 'del', c: v.c as Collection, s: v.s as string, id: v.id as string }
  }
  throw new PortcullisError('INTERNAL', `store log entry ${index + 1} is not a valid record entry`)
}
