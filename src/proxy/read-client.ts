import type { Duplex } from 'node:stream'

/** Thrown when a peer goes away or the deadline passes while a stage waits for its bytes. */
export class ClientGone extends Error {
  constructor(readonly why: 'closed' | 'aborted' | 'error', readonly peer: 'client' | 'backend' = 'client') {
    super(`${peer} ${why} during handshake`)
  }
}

/**
 * Feeds a peer's bytes to `consume` until it returns a result, then pauses the stream so that
 * nothing more is read until the next stage (or the splice) asks. `consume` must be a capped,
 * incremental decoder: this function buffers nothing itself.
 */
export function readFrom<T>(
  stream: Duplex, signal: AbortSignal, consume: (chunk: Buffer) => T | undefined, peer: 'client' | 'backend' = 'client',
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const cleanup = (): void => {
      stream.off('data', onData)
      stream.off('end', onEnd)
      stream.off('close', onEnd)
      stream.off('error', onError)
      signal.removeEventListener('abort', onAbort)
      stream.pause()
    }
    const onData = (chunk: Buffer): void => {
      let result: T | undefined
      try {
        result = consume(chunk)
      } catch (err) {
        // A decoder must not throw on peer bytes; if one does, refuse rather than crash.
        cleanup()
        reject(err)
        return
      }
      if (result !== undefined) {
        cleanup()
        resolve(result)
      }
    }
    const onEnd = (): void => { cleanup(); reject(new ClientGone('closed', peer)) }
    const onError = (): void => { cleanup(); reject(new ClientGone('error', peer)) }
    const onAbort = (): void => { cleanup(); reject(new ClientGone('aborted', peer)) }
    if (signal.aborted) { reject(new ClientGone('aborted', peer)); return }
    // A peer gone before this read began has no 'close' left to fire: say so now, not at the deadline.
    if (stream.destroyed || stream.readableEnded) { reject(new ClientGone('closed', peer)); return }
    stream.on('data', onData)
    stream.once('end', onEnd)
    stream.once('close', onEnd)
    stream.once('error', onError)
    signal.addEventListener('abort', onAbort, { once: true })
    stream.resume()
  })
}
