import type { ServerResponse } from 'node:http'

export interface SseOptions {
  /** A comment line this often keeps proxies and load balancers from closing an idle stream. */
  heartbeatMs: number
  /**
   * Bytes the response may hold unsent (the socket's and Node's buffers) before the reader is
   * judged too slow and disconnected: a reader that does not keep up must not grow our heap.
   */
  maxBufferedBytes: number
}

export const DEFAULT_SSE_OPTIONS: SseOptions = { heartbeatMs: 15_000, maxBufferedBytes: 1024 * 1024 }

/**
 * One server-sent events response (WHATWG HTML §9.2 "Server-sent events"): `id: …\ndata: …\n\n`
 * per event, `: …\n\n` comments as heartbeats.
 *
 * Backpressure: writes never wait (the audit listener that calls `send` must not block); instead the
 * unsent bytes are bounded by maxBufferedBytes, beyond which the connection is destroyed and the
 * client may reconnect. Before `open`, events are held (the history of `audit tail --since` arrives
 * before the headers are written) under the same bound.
 */
export class SseStream {
  private pending: string[] | undefined = []
  private pendingBytes = 0
  private heartbeat: NodeJS.Timeout | undefined
  private closed = false
  private readonly closeListeners: Array<() => void> = []

  constructor(private readonly res: ServerResponse, private readonly opts: SseOptions) {
    res.once('close', () => this.finish())
  }

  /** Writes the headers and what was held, then starts the heartbeat. */
  open(headers: Record<string, string>): void {
    if (this.closed) return
    this.res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // One stream per connection: when it ends (client gone, shutdown) the socket goes with it
      // instead of idling in keep-alive and holding server.close() until the client drops it.
      connection: 'close',
      // nginx buffers responses by default, which would hold events back.
      'x-accel-buffering': 'no',
    })
    const held = this.pending ?? []
    this.pending = undefined
    // A first comment makes the client see the stream as open at once.
    this.write(`: connected\n\n${held.join('')}`)
    this.heartbeat = setInterval(() => this.write(': heartbeat\n\n'), this.opts.heartbeatMs)
    this.heartbeat.unref()
  }

  /** Sends one event; `data` must be one line (JSON.stringify output is). */
  send(id: string, data: string): void {
    this.write(`id: ${id}\ndata: ${data}\n\n`)
  }

  /** Ends the response cleanly (server shutdown). */
  end(): void {
    if (this.closed) return
    this.res.end()
    this.finish()
  }

  /** Called once when the stream ends for any reason (client gone, too slow, ended). */
  onClose(listener: () => void): void {
    if (this.closed) listener()
    else this.closeListeners.push(listener)
  }

  get isClosed(): boolean {
    return this.closed
  }

  private write(text: string): void {
    if (this.closed) return
    if (this.pending !== undefined) {
      this.pendingBytes += Buffer.byteLength(text)
      if (this.pendingBytes > this.opts.maxBufferedBytes) return this.tooSlow()
      this.pending.push(text)
      return
    }
    if (this.res.writableLength + text.length > this.opts.maxBufferedBytes) return this.tooSlow()
    this.res.write(text)
  }

  private tooSlow(): void {
    this.res.destroy()
    this.finish()
  }

  private finish(): void {
    if (this.closed) return
    this.closed = true
    this.pending = undefined
    clearInterval(this.heartbeat)
    for (const listener of this.closeListeners.splice(0)) {
      try {
        listener()
      } catch {
        // A close listener (unsubscribe) failing must not leave the others uncalled.
      }
    }
  }
}
