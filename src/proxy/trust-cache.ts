import type { Store } from '../store/store'
import { CaTrustIndex } from '../ca/chain'

/**
 * One parsed trust index per instance, shared by every handshake on that instance. Any change to
 * one of the instance's CAs (on any replica: change notifications come through the store) drops
 * the entry; the next handshake rebuilds it from the store. A build racing a change is not cached,
 * so a stale index never outlives the notification that made it stale.
 */
export class TrustIndexCache {
  private readonly entries = new Map<string, Promise<CaTrustIndex>>()
  /** The built indexes, for the handshakes that can then decide without a promise hop (`cached`). */
  private readonly built = new Map<string, CaTrustIndex>()
  private readonly generation = new Map<string, number>()
  private readonly unsubscribe: () => void

  constructor(private readonly store: Store) {
    this.unsubscribe = store.onChange((event) => {
      if (event.collection === 'cas') this.invalidate(event.scope)
      else if (event.collection === 'instances' && event.op === 'delete') this.invalidate(event.id)
    })
  }

  forInstance(instanceId: string): Promise<CaTrustIndex> {
    const cached = this.entries.get(instanceId)
    if (cached !== undefined) return cached
    const gen = this.generation.get(instanceId) ?? 0
    const build = this.store.list('cas', instanceId).then((records) => CaTrustIndex.build(records))
    this.entries.set(instanceId, build)
    const drop = (): void => { if (this.entries.get(instanceId) === build) this.entries.delete(instanceId) }
    build.then((index) => {
      if ((this.generation.get(instanceId) ?? 0) !== gen) drop()
      else if (this.entries.get(instanceId) === build) this.built.set(instanceId, index)
    }, drop)
    return build
  }

  /** The instance's index if it is built and current, without waiting; undefined otherwise (ask `forInstance`). */
  cached(instanceId: string): CaTrustIndex | undefined {
    return this.built.get(instanceId)
  }

  invalidate(instanceId: string): void {
    this.generation.set(instanceId, (this.generation.get(instanceId) ?? 0) + 1)
    this.entries.delete(instanceId)
    this.built.delete(instanceId)
  }

  /** Drops every index (after change notifications may have been missed). */
  clear(): void {
    for (const id of new Set([...this.entries.keys(), ...this.built.keys()])) this.invalidate(id)
  }

  close(): void {
    this.unsubscribe()
  }
}
