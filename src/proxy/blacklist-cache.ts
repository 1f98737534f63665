import { GLOBAL_SCOPE, type BlacklistRecord } from '../store/records'
import type { ChangeEvent, Store } from '../store/store'
import { BlacklistIndex } from '../policy/blacklist'

/**
 * The data path's copy of the blacklist: one index, read synchronously by every connection. A
 * change notification (from any replica) is applied to the entries in memory at once — no store
 * read, so nothing can fail between an entry being stored and it refusing connections here.
 * `reload` re-reads everything after notifications may have been missed (a store reconnect), and
 * rejects when the store does not answer, so that its caller retries. Entries live under the
 * global scope whatever instance they name (the entry's own `instanceId` scopes it).
 */
export class BlacklistCache {
  private readonly entries = new Map<string, BlacklistRecord>()
  private index: BlacklistIndex = BlacklistIndex.EMPTY
  /** Changes that arrived while a reload's read was in flight: applied again over what it read. */
  private duringReload: ChangeEvent[] | undefined
  private readonly unsubscribe: () => void

  private constructor(private readonly store: Pick<Store, 'list' | 'onChange'>) {
    this.unsubscribe = store.onChange((event) => this.apply(event))
  }

  /** Subscribes before the first read, so that a change racing it is not lost. */
  static async load(store: Pick<Store, 'list' | 'onChange'>): Promise<BlacklistCache> {
    const cache = new BlacklistCache(store)
    await cache.reload()
    return cache
  }

  current(): BlacklistIndex {
    return this.index
  }

  async reload(): Promise<void> {
    const seen: ChangeEvent[] = []
    this.duringReload = seen
    try {
      const records = await this.store.list('blacklist', GLOBAL_SCOPE)
      this.entries.clear()
      for (const record of records) this.entries.set(record.id, record)
      for (const event of seen) this.write(event)
      this.index = BlacklistIndex.build([...this.entries.values()])
    } finally {
      if (this.duringReload === seen) this.duringReload = undefined
    }
  }

  close(): void {
    this.unsubscribe()
  }

  private apply(event: ChangeEvent): void {
    if (event.collection !== 'blacklist') return
    this.duringReload?.push(event)
    this.write(event)
    this.index = BlacklistIndex.build([...this.entries.values()])
  }

  private write(event: ChangeEvent): void {
    if (event.op === 'put') this.entries.set(event.id, event.record as BlacklistRecord)
    else this.entries.delete(event.id)
  }
}
