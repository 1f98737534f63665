import type { Duplex } from 'node:stream'
import type { StreamFilter } from './stream-filter'

export interface Pump {
  /** Detaches: no more bytes move from `from` to `to` (neither stream is closed). */
  stop(): void
}

/**
 * Bytes the client → broker direction of all sessions may move in one turn of the event loop
 * before its readers wait for the next turn. One process serves many publishers and, on the same
 * loop, the subscribers who receive what they publish (often several times over); libuv reads up
 * to 32 × 64 KiB from each ready socket per turn, so without a budget the publishers' bytes
 * crowd out the deliveries and the broker drops QoS0 messages for the "slow" subscribers. The
 * broker → client direction has no budget: it is what must keep up.
 */
export class TickBudget {
  private used = 0
  private readonly waiting = new Set<() => void>()
  private scheduled = false

  constructor(private readonly bytesPerTick: number) {}

  /** Counts `bytes`; true when the budget of this turn is spent. */
  charge(bytes: number): boolean {
    this.used += bytes
    if (this.used < this.bytesPerTick) return false
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(() => this.nextTurn())
    }
    return true
  }

  /** Calls `resume` at the start of the next turn. */
  wait(resume: () => void): void {
    this.waiting.add(resume)
  }

  forget(resume: () => void): void {
    this.waiting.delete(resume)
  }

  private nextTurn(): void {
    this.scheduled = false
    this.used = 0
    const waiting = [...this.waiting]
    this.waiting.clear()
    for (const resume of waiting) resume()
  }
}

/**
 * Moves bytes one way, like `from.pipe(to)`, with three differences that matter for a proxy:
 *
 * - `coalesce`: writes are corked until the next tick: a TLS socket emits one 'data' per decrypted
 *   record, and a burst of small records (64-byte MQTT publishes) would otherwise be one write
 *   syscall each; corked, the burst is a single writev, as HAProxy's buffer-then-send is;
 * - `budget`: the direction shares a per-turn byte budget (TickBudget) with the same direction of
 *   every other session;
 * - it is detachable without side effects, so a kick can stop the flow and write its goodbye
 *   between two frames.
 *
 * Backpressure: a write that fills `to`'s buffer pauses `from` until 'drain'; a spent budget
 * pauses it until the next turn; it reads again only when neither holds. The end of `from`
 * half-closes `to`, as pipe() does, unless `onEnd` takes the end over.
 *
 * Slow consumers: with `stall`, a wait for 'drain' that lasts `timeoutMs` calls `stall.onStall`
 * (the splice then closes the session, SLOW_CONSUMER): without it a reader that stops reading
 * would hold its session, its buffers and the writer's paused socket for ever. One timer per
 * direction at most, armed at the first wait and re-armed for the remainder only while a wait
 * lasts, so a busy stream that pauses and drains thousands of times a second costs a timestamp
 * per pause, not a timer. Waiting on the shared budget is not stalling (it ends next turn).
 */
export interface PumpOptions {
  coalesce?: boolean
  budget?: TickBudget
  stall?: { readonly timeoutMs: number; readonly onStall: () => void }
  /** Called instead of `to.end()` when `from` ends. */
  onEnd?: () => void
  /**
   * The session's authorization filter (stream-filter.ts): chunks go to `filter.push`, which
   * writes to `to` what may pass; its answer is the backpressure signal `to.write` would give.
   */
  filter?: StreamFilter
  /**
   * Sees every chunk before it is written (the session's frame boundary tracker). Here rather than
   * as a second 'data' listener: an emitter with two listeners copies its listener array on every
   * emit, once per chunk.
   */
  observe?: (chunk: Buffer) => void
}

export function pump(from: Duplex, to: Duplex, options: PumpOptions = {}): Pump {
  const { coalesce = false, budget, stall, onEnd: endHandler, filter, observe } = options
  let corked = false
  let drainWait = false
  let turnWait = false
  let pausedAt = 0
  let stallTimer: NodeJS.Timeout | undefined
  const checkStall = (): void => {
    stallTimer = undefined
    if (!drainWait || stall === undefined) return
    const waited = Date.now() - pausedAt
    if (waited >= stall.timeoutMs) {
      stall.onStall()
      return
    }
    stallTimer = setTimeout(checkStall, stall.timeoutMs - waited)
    stallTimer.unref()
  }
  const uncork = (): void => {
    corked = false
    to.uncork()
  }
  const nextTurn = (): void => {
    turnWait = false
    if (!drainWait) from.resume()
  }
  const onData = (chunk: Buffer): void => {
    observe?.(chunk)
    if (coalesce && !corked) {
      corked = true
      to.cork()
      process.nextTick(uncork)
    }
    if (!(filter === undefined ? to.write(chunk) : filter.push(chunk))) {
      drainWait = true
      from.pause()
      if (stall !== undefined) {
        pausedAt = Date.now()
        if (stallTimer === undefined) {
          stallTimer = setTimeout(checkStall, stall.timeoutMs)
          stallTimer.unref()
        }
      }
    }
    if (budget !== undefined && !turnWait && budget.charge(chunk.length)) {
      turnWait = true
      from.pause()
      budget.wait(nextTurn)
    }
  }
  const onDrain = (): void => {
    drainWait = false
    if (!turnWait) from.resume()
  }
  const onEnd = endHandler ?? ((): void => {
    to.end()
  })
  from.on('data', onData)
  to.on('drain', onDrain)
  from.once('end', onEnd)
  return {
    stop() {
      from.off('data', onData)
      to.off('drain', onDrain)
      from.off('end', onEnd)
      budget?.forget(nextTurn)
      if (stallTimer !== undefined) clearTimeout(stallTimer)
      stallTimer = undefined
    },
  }
}
