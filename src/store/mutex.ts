/**
 * In-process async mutex keyed by name: the embedded store's `withLock`. Waiters run in arrival
 * order; an entry is dropped once nobody holds or awaits it, so lock names do not accumulate.
 */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>()

  async run<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(name) ?? Promise.resolve()
    let release!: () => void
    const mine = new Promise<void>((resolve) => { release = resolve })
    const tail = previous.then(() => mine)
    this.tails.set(name, tail)
    await previous
    try {
      return await fn()
    } finally {
      release()
      if (this.tails.get(name) === tail) this.tails.delete(name)
    }
  }
}
