import type { AdminClient, Query } from './client'
import { withQuery } from './client'

/**
 * Server-sent events over a signed fetch. EventSource cannot set headers, so it cannot sign; the
 * stream is a fetch whose body is read chunk by chunk and cut into events here (WHATWG HTML §9.2.6
 * "Interpreting an event stream": lines end in CRLF, LF or CR; `data:` lines join with LF; `id:`
 * sets the last event id; a line starting with `:` is a comment; a blank line dispatches).
 */
export interface SseMessage {
  id?: string
  event: string
  data: string
}

export class SseParser {
  private buffer = ''
  private data: string[] = []
  private id: string | undefined
  private event = ''

  /** Feeds decoded text; answers the events it completed. */
  push(text: string): SseMessage[] {
    this.buffer += text
    const out: SseMessage[] = []
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer)
      if (match === null) break
      // A lone CR at the very end may be the first half of CRLF: wait for the next chunk.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) break
      const line = this.buffer.slice(0, match.index)
      this.buffer = this.buffer.slice(match.index + match[0].length)
      const message = this.line(line)
      if (message !== undefined) out.push(message)
    }
    return out
  }

  private line(line: string): SseMessage | undefined {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = ''
        return undefined
      }
      const message: SseMessage = { event: this.event || 'message', data: this.data.join('\n'), ...(this.id !== undefined ? { id: this.id } : {}) }
      this.data = []
      this.event = ''
      return message
    }
    if (line.startsWith(':')) return undefined
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    let value = colon < 0 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') this.data.push(value)
    else if (field === 'id' && !value.includes('\u0000')) this.id = value
    else if (field === 'event') this.event = value
    return undefined
  }
}

export type TailState = 'connecting' | 'live' | 'reconnecting' | 'stopped' | 'failed'

export interface TailOptions {
  query?: Query
  onEvent(data: unknown): void
  onState(state: TailState, detail?: string): void
  /** Back-off before a reconnect (each one signs anew: a nonce opens one stream only). */
  retryMs?: number
}

/**
 * Follows `GET /v1/audit/stream` until `stop()`: reconnects after a drop (resuming from the last
 * event's time, so nothing is lost across the gap; the stream's own de-duplication at the seam
 * covers the overlap), and gives up on an error that retrying cannot fix (401/403/400).
 */
export function tailAudit(client: AdminClient, opts: TailOptions): { stop(): void } {
  const controller = new AbortController()
  let stopped = false
  let lastTime: string | undefined
  const seen = new RecentIds(10_000)

  const follow = async (): Promise<void> => {
    const query = { ...opts.query, ...(lastTime !== undefined ? { since: lastTime } : {}) }
    const res = await client.send('GET', withQuery('/v1/audit/stream', query), undefined, controller.signal)
    if (res.body === null) throw new Error('the stream has no body')
    opts.onState('live')
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    const parser = new SseParser()
    for (;;) {
      const { value, done } = await reader.read()
      if (done) throw new Error('the server ended the stream')
      for (const message of parser.push(value)) {
        // After a reconnect with `since`, the replayed history repeats what was already shown.
        if (message.id !== undefined && !seen.add(message.id)) continue
        const event = JSON.parse(message.data) as { time?: unknown }
        if (typeof event.time === 'string') lastTime = event.time
        opts.onEvent(event)
      }
    }
  }

  void (async () => {
    for (let attempt = 0; !stopped; attempt++) {
      if (attempt === 0) opts.onState('connecting')
      try {
        await follow()
      } catch (err) {
        if (stopped) return
        const status = (err as { status?: unknown }).status
        if (typeof status === 'number' && status >= 400 && status < 500) {
          opts.onState('failed', describe(err))
          return
        }
        opts.onState('reconnecting', describe(err))
        await new Promise((resolve) => setTimeout(resolve, opts.retryMs ?? 2000))
      }
    }
  })()
  return {
    stop() {
      stopped = true
      controller.abort()
      opts.onState('stopped')
    },
  }
}

/** The last `capacity` ids seen; `add` answers false for one already there. */
class RecentIds {
  private readonly order: string[] = []
  private readonly members = new Set<string>()
  constructor(private readonly capacity: number) {}

  add(id: string): boolean {
    if (this.members.has(id)) return false
    this.members.add(id)
    this.order.push(id)
    if (this.order.length > this.capacity) this.members.delete(this.order.shift() as string)
    return true
  }
}

function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown }
  return typeof e.code === 'string' ? `${e.code}: ${String(e.message)}` : String(e.message ?? err)
}
