import { byLabel, total, type Sample } from './prometheus'

/**
 * Rates from successive scrapes of `/metrics`, kept in the page only while the charts are open.
 * A counter's rate between two scrapes is Δvalue / Δt; a drop means the gateway restarted and its
 * counters began again from 0, so that interval counts the new value (as Prometheus' rate()).
 */
export interface Scrape {
  at: number
  samples: Sample[]
}

export interface Point {
  at: number
  value: number
}

export const MAX_SCRAPES = 120

export class MetricsHistory {
  private readonly scrapes: Scrape[] = []

  add(scrape: Scrape): void {
    this.scrapes.push(scrape)
    if (this.scrapes.length > MAX_SCRAPES) this.scrapes.shift()
  }

  get latest(): Scrape | undefined {
    return this.scrapes[this.scrapes.length - 1]
  }

  get size(): number {
    return this.scrapes.length
  }

  /** Per-second rate of a counter (summed over the labels matching `where`) between scrapes. */
  rate(name: string, where: Record<string, string> = {}): Point[] {
    const points: Point[] = []
    for (let i = 1; i < this.scrapes.length; i++) {
      const a = this.scrapes[i - 1] as Scrape
      const b = this.scrapes[i] as Scrape
      const seconds = (b.at - a.at) / 1000
      if (seconds <= 0) continue
      points.push({ at: b.at, value: counterDelta(total(a.samples, name, where), total(b.samples, name, where)) / seconds })
    }
    return points
  }

  /** A gauge's value at each scrape. */
  gauge(name: string, where: Record<string, string> = {}): Point[] {
    return this.scrapes.map((s) => ({ at: s.at, value: total(s.samples, name, where) }))
  }

  /** A counter's increase per label value over the history (empty until there are two scrapes). */
  increaseBy(name: string, label: string): Map<string, number> {
    const first = this.scrapes[0]
    const last = this.latest
    if (first === undefined || last === undefined || first === last) return new Map()
    const end = byLabel(last.samples, name, label)
    const start = byLabel(first.samples, name, label)
    return new Map([...end].map(([key, value]) => [key, counterDelta(start.get(key) ?? 0, value)]))
  }
}

export function counterDelta(before: number, after: number): number {
  return after >= before ? after - before : after
}
