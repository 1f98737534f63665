import type { InstanceRecord } from '../store/records'
import { GLOBAL_SCOPE } from '../store/records'
import type { ChangeEvent, Store } from '../store/store'
import type { Logger } from '../observability/logger'

/**
 * The data path's in-memory view of the instances, so that choosing an instance by SNI during a
 * handshake never waits on the store. Loaded once, then kept current by change notifications
 * (which reach every replica); `onChange` lets caches built on an instance (TLS contexts, trust
 * indexes) drop their entry.
 */
export class InstanceDirectory {
  private readonly byId = new Map<string, InstanceRecord>()
  private readonly byHostname = new Map<string, InstanceRecord>()
  private readonly listeners = new Set<(id: string, current: InstanceRecord | undefined, previous: InstanceRecord | undefined) => void>()
  private unsubscribe: (() => void) | undefined

  private constructor(private readonly open: (record: InstanceRecord) => InstanceRecord, private readonly logger?: Pick<Logger, 'error'>) {}

  /**
   * `open` turns a stored record into the data path's form (sealed secrets opened), once per
   * change rather than once per connection.
   */
  /** Reads every instance again (after change notifications may have been missed). */
  async reload(store: Store): Promise<void> {
    const records = await store.list('instances', GLOBAL_SCOPE)
    const seen = new Set(records.map((r) => r.id))
    for (const record of records) {
      this.apply({ collection: 'instances', scope: GLOBAL_SCOPE, id: record.id, op: 'put', record })
    }
    for (const gone of [...this.byId.values()].filter((r) => !seen.has(r.id))) {
      this.apply({ collection: 'instances', scope: GLOBAL_SCOPE, id: gone.id, op: 'delete', record: gone })
    }
  }

  static async load(store: Store, open: (record: InstanceRecord) => InstanceRecord = (r) => r, logger?: Pick<Logger, 'error'>): Promise<InstanceDirectory> {
    const dir = new InstanceDirectory(open, logger)
    // Subscribe before listing so that a change racing the initial load is not lost.
    dir.unsubscribe = store.onChange((event) => dir.apply(event))
    for (const record of await store.list('instances', GLOBAL_SCOPE)) dir.set(open(record))
    return dir
  }

  get(id: string): InstanceRecord | undefined {
    return this.byId.get(id)
  }

  all(): InstanceRecord[] {
    return [...this.byId.values()]
  }

  /** Exact hostname first, then a one-level wildcard (`*.example.com`). Case-insensitive. */
  findByHostname(hostname: string): InstanceRecord | undefined {
    const name = hostname.toLowerCase()
    const exact = this.byHostname.get(name)
    if (exact !== undefined) return exact
    const dot = name.indexOf('.')
    return dot > 0 ? this.byHostname.get(`*${name.slice(dot)}`) : undefined
  }

  onChange(listener: (id: string, current: InstanceRecord | undefined, previous: InstanceRecord | undefined) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  close(): void {
    this.unsubscribe?.()
  }

  private apply(event: ChangeEvent): void {
    if (event.collection !== 'instances') return
    const previous = this.byId.get(event.id)
    if (previous !== undefined) this.forget(previous)
    let current: InstanceRecord | undefined
    if (event.op === 'put') {
      try {
        current = this.open(event.record as InstanceRecord)
      } catch (err) {
        // A record whose secrets do not open (another master key?) serves nobody: fail closed.
        this.logger?.error({ instance: event.id, err: (err as Error).message }, 'instance secrets do not open; instance withdrawn')
      }
    }
    if (current !== undefined) this.set(current)
    for (const listener of this.listeners) listener(event.id, current, previous)
  }

  private set(record: InstanceRecord): void {
    const previous = this.byId.get(record.id)
    if (previous !== undefined) this.forget(previous)
    this.byId.set(record.id, record)
    for (const host of record.hostnames) this.byHostname.set(host.toLowerCase(), record)
  }

  private forget(record: InstanceRecord): void {
    this.byId.delete(record.id)
    for (const host of record.hostnames) {
      if (this.byHostname.get(host.toLowerCase())?.id === record.id) this.byHostname.delete(host.toLowerCase())
    }
  }
}
