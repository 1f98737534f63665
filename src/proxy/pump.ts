import type { Duplex } from 'node:stream'

export interface Pump {
  /** Detaches: no more bytes move from `from` to `to` (neither stream is closed). */
  stop(): void
}

/**
 * Moves bytes one way, like `from.pipe(to)`, with two differences that matter for a proxy:
 *
 * - writes are coalesced per turn of the event loop: a TLS socket emits one 'data' per decrypted
 *   record, and a burst of small records (64-byte MQTT publishes) would otherwise be one write
 *   syscall each; corking until the next tick makes the burst a single writev, as HAProxy's
 *   buffer-then-send does;
 * - it is detachable without side effects, so a kick can stop the flow and write its goodbye
 *   between two frames.
 *
 * Backpressure: a write that fills `to`'s buffer pauses `from` until 'drain'. The end of `from`
 * half-closes `to`, as pipe() does.
 */
export function pump(from: Duplex, to: Duplex): Pump {
  let corked = false
  const uncork = (): void => {
    corked = false
    to.uncork()
  }
  const onData = (chunk: Buffer): void => {
    if (!corked) {
      corked = true
      to.cork()
      process.nextTick(uncork)
    }
    if (!to.write(chunk)) from.pause()
  }
  const onDrain = (): void => {
    from.resume()
  }
  const onEnd = (): void => {
    to.end()
  }
  from.on('data', onData)
  to.on('drain', onDrain)
  from.once('end', onEnd)
  return {
    stop() {
      from.off('data', onData)
      to.off('drain', onDrain)
      from.off('end', onEnd)
    },
  }
}
