/**
 * Listener fan-out shared by both stores for change events and broadcasts.
 *
 * Why asynchronous: a listener (a session registry kicking clients, a cache) must never run inside
 * the write that caused it, or a slow or throwing listener would stall or fail that write. Values
 * are queued and delivered on a later turn of the event loop, in the order they were emitted.
 * Each listener gets its own deep copy, so one listener cannot change what another one sees, nor
 * the store's own copy of a record.
 */

/** The part of a pino logger the store uses; the composition root passes the real one. */
export interface StoreLogger {
  warn(obj: object, msg: string): void
}

export const silentLogger: StoreLogger = { warn: () => undefined }

export class ListenerSet<T> {
  private readonly listeners = new Set<(value: T) => void>()
  private queue: T[] = []
  private scheduled = false

  constructor(private readonly what: string, private readonly logger: StoreLogger) {}

  add(listener: (value: T) => void): () => void {
    // Wrap so the same function registered twice is two subscriptions with two unsubscribes.
    const entry = (value: T): void => listener(value)
    this.listeners.add(entry)
    return () => { this.listeners.delete(entry) }
  }

  emit(value: T): void {
    if (this.listeners.size === 0) return
    this.queue.push(value)
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => this.flush())
  }

  clear(): void {
    this.listeners.clear()
    this.queue = []
  }

  private flush(): void {
    this.scheduled = false
    const batch = this.queue
    this.queue = []
    for (const value of batch) {
      for (const listener of [...this.listeners]) {
        try {
          listener(structuredClone(value))
        } catch (err) {
          this.logger.warn({ err, listener: this.what }, 'store listener threw; the store carries on')
        }
      }
    }
  }
}
