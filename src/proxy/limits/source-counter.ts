/**
 * Concurrent connections per source address. An entry lives only while the source has a
 * connection open, so the map is bounded by the open connections (themselves bounded by
 * `limits.maxConnections`).
 */
export class SourceCounter {
  private readonly counts = new Map<string, number>()

  constructor(private readonly max: number) {}

  /** Counts one more connection of `ip`; false (and nothing counted) when it already has `max`. */
  tryAcquire(ip: string): boolean {
    const open = this.counts.get(ip) ?? 0
    if (open >= this.max) return false
    this.counts.set(ip, open + 1)
    return true
  }

  release(ip: string): void {
    const open = this.counts.get(ip)
    if (open === undefined) return
    if (open <= 1) this.counts.delete(ip)
    else this.counts.set(ip, open - 1)
  }

  count(ip: string): number {
    return this.counts.get(ip) ?? 0
  }

  get limit(): number {
    return this.max
  }
}
