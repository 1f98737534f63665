/**
 * Whether a Redis store can serve, from its two connections (Store.onConnectivity). On a cluster
 * the "command connection" is the client's health signal and the subscriber ours (redis-cluster.ts);
 * both speak the same `close` / `ready` events as an ioredis connection.
 *
 * Down as soon as either connection closes; up only once BOTH are back: the command connection
 * `ready` (with no offline queue, a command before that fails with "Stream isn't writeable"), and
 * the subscriber `ready` AND subscribed again. The two reconnect on their own schedules, so one is
 * often back well before the other; a resync started on the subscriber alone used to fail on the
 * command connection and was never retried.
 *
 * "Subscribed": ioredis re-subscribes by itself on `ready`, but says nothing when that is done, so
 * we subscribe once more (idempotent in Redis) and wait for the reply, which comes after the
 * re-subscription's on the same connection. An epoch per subscriber connection drops a reply that
 * arrives after that connection was lost again.
 */
import { ListenerSet, type StoreLogger } from './listeners'
import type { StoreSubscriber, WatchedConnection } from './redis-connections'

const RESUBSCRIBE_RETRY_MS = 500

export class RedisConnectivity {
  private commandsUp = true
  private subscribed = true
  private reported = true
  private subscriberEpoch = 0
  private stopped = false
  private readonly listeners: ListenerSet<boolean>

  constructor(
    private readonly client: WatchedConnection,
    private readonly subscriber: StoreSubscriber,
    private readonly channels: readonly string[],
    private readonly logger: StoreLogger,
  ) {
    this.listeners = new ListenerSet('connectivity', logger)
  }

  /**
   * Starts watching; call once both connections were ready and subscribed (the end of open()). A
   * loss between then and now is taken from their status (the events are gone): reported down,
   * and up again with their next `ready`.
   */
  watch(): void {
    this.update(() => {
      if (this.client.status !== 'ready') this.commandsUp = false
      if (this.subscriber.status !== 'ready') {
        this.subscriberEpoch++
        this.subscribed = false
      }
    })
    this.client.on('close', () => this.update(() => { this.commandsUp = false }))
    this.client.on('ready', () => this.update(() => { this.commandsUp = true }))
    this.subscriber.on('close', () => this.update(() => {
      this.subscriberEpoch++
      this.subscribed = false
    }))
    this.subscriber.on('ready', () => this.resubscribe())
  }

  on(listener: (up: boolean) => void): () => void {
    return this.listeners.add(listener)
  }

  /** Stops reporting and forgets every listener (the store is closing: its connections' ends are not news). */
  stop(): void {
    this.stopped = true
    this.listeners.clear()
  }

  private resubscribe(): void {
    const epoch = ++this.subscriberEpoch
    this.subscriber.subscribe(...this.channels).then(
      () => { if (epoch === this.subscriberEpoch) this.update(() => { this.subscribed = true }) },
      (err: unknown) => {
        if (epoch !== this.subscriberEpoch) return // lost again; the next `ready` subscribes
        this.logger.warn({ err }, 'redis store could not subscribe again; retrying')
        setTimeout(() => { if (epoch === this.subscriberEpoch) this.resubscribe() }, RESUBSCRIBE_RETRY_MS).unref()
      },
    )
  }

  private update(change: () => void): void {
    change()
    if (this.stopped) return
    const up = this.commandsUp && this.subscribed
    if (up === this.reported) return
    this.reported = up
    if (up) this.logger.warn({}, 'redis store reconnected; change notifications sent meanwhile were missed')
    else this.logger.warn({}, 'redis store connection lost; change notifications are missed until it is back')
    this.listeners.emit(up)
  }
}
