/**
 * The consumers a session has, so that a policy change can take away a queue it already reads
 * from (SessionAuthorizer.onChange). A consumer is recorded when its Basic.Consume is allowed;
 * the broker's Basic.Consume-Ok names the tag of one the client left untagged (the broker answers
 * a channel's Consumes in order, AMQP 0-9-1 §2.3.6 "synchronous requests"); Basic.Cancel from
 * either side and any close of its channel forget it.
 *
 * Capped at MAX_CONSUMERS per session: a consumer the filters did not track could not be taken
 * away, so past the cap the session ends rather than forget one.
 */
export const MAX_CONSUMERS = 4096

export interface Consumer {
  readonly queue: string
  /** '' while the broker has not named it. */
  tag: string
  /** Untagged and not no-wait: the next unclaimed Consume-Ok on its channel names it. */
  awaitingTag: boolean
}

export class Consumers {
  private readonly byChannel = new Map<number, Consumer[]>()
  private count = 0

  get size(): number {
    return this.count
  }

  /** Asked of every Basic.Publish: a publisher's session has no consumers at all. */
  on(channel: number): boolean {
    return this.count !== 0 && this.byChannel.has(channel)
  }

  /** False when the session already has MAX_CONSUMERS. */
  add(channel: number, queue: string, tag: string, noWait: boolean): boolean {
    if (this.count >= MAX_CONSUMERS) return false
    const list = this.byChannel.get(channel)
    const consumer: Consumer = { queue, tag, awaitingTag: tag === '' && !noWait }
    if (list === undefined) this.byChannel.set(channel, [consumer])
    else list.push(consumer)
    this.count++
    return true
  }

  /** True when a Consume-Ok on `channel` may name an untagged consumer (so it is worth reading). */
  awaitingTag(channel: number): boolean {
    const list = this.byChannel.get(channel)
    return list !== undefined && list.some((c) => c.awaitingTag)
  }

  /** Basic.Consume-Ok: the tag of the oldest untagged consumer, unless a consumer already has it. */
  confirmed(channel: number, tag: string): void {
    const list = this.byChannel.get(channel)
    if (list === undefined || list.some((c) => c.tag === tag)) return
    const waiting = list.find((c) => c.awaitingTag)
    if (waiting === undefined) return
    waiting.tag = tag
    waiting.awaitingTag = false
  }

  /** Basic.Cancel (client or broker). An empty tag names no consumer. */
  cancelled(channel: number, tag: string): void {
    const list = this.byChannel.get(channel)
    if (list === undefined || tag === '') return
    const kept = list.filter((c) => c.tag !== tag)
    this.count -= list.length - kept.length
    if (kept.length === 0) this.byChannel.delete(channel)
    else this.byChannel.set(channel, kept)
  }

  /** Any close of the channel. */
  forget(channel: number): void {
    const list = this.byChannel.get(channel)
    if (list === undefined) return
    this.count -= list.length
    this.byChannel.delete(channel)
  }

  /** The channels with consumers and their queues, for a re-decision. */
  entries(): IterableIterator<[number, readonly Consumer[]]> {
    return this.byChannel.entries()
  }
}
