import type { DeviceRecord } from '../store/records'
import type { Store } from '../store/store'

const MAX_ENTRIES = 200_000

/**
 * Device certificate records as the data path reads them: from memory after the first read, kept
 * exact by change notifications (every replica gets every change; after a missed-notification
 * resync the cache is cleared). Absence is not cached, so a device registered elsewhere a moment
 * ago is found in the store.
 */
export class DeviceCache {
  private readonly records = new Map<string, DeviceRecord>()
  private readonly unsubscribe: () => void
  private generation = 0

  constructor(private readonly store: Store) {
    this.unsubscribe = store.onChange((event) => {
      if (event.collection !== 'devices') return
      this.generation++
      const key = keyOf(event.scope, event.id)
      if (event.op === 'put') this.records.set(key, event.record as DeviceRecord)
      else this.records.delete(key)
    })
  }

  /** The record if it is in memory, without waiting; undefined means "ask `get`", not "no such device". */
  peek(instanceId: string, deviceId: string): DeviceRecord | undefined {
    return this.records.get(keyOf(instanceId, deviceId))
  }

  async get(instanceId: string, deviceId: string): Promise<DeviceRecord | undefined> {
    const key = keyOf(instanceId, deviceId)
    const hit = this.records.get(key)
    if (hit !== undefined) return hit
    const generation = this.generation
    const record = await this.store.get('devices', instanceId, deviceId)
    // A change that landed during the read has already put the newer record (or removed it).
    if (record !== undefined && generation === this.generation) this.set(key, record)
    return record
  }

  clear(): void {
    this.generation++
    this.records.clear()
  }

  close(): void {
    this.unsubscribe()
  }

  private set(key: string, record: DeviceRecord): void {
    if (this.records.size >= MAX_ENTRIES) this.records.delete(this.records.keys().next().value as string)
    this.records.set(key, record)
  }
}

function keyOf(instanceId: string, deviceId: string): string {
  return `${instanceId}\u0000${deviceId}`
}
