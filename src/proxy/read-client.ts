import type { Connection } from './connection'

/** Thrown when the client goes away or the deadline passes while a stage waits for its bytes. */
export class ClientGone extends Error {
  constructor(readonly why: 'closed' | 'aborted' | 'error') {
    super(`client ${why} during handshake`)
  }
}

/**
 * Feeds the client's bytes to `consume` until it returns a result, then pauses the socket so that
 * nothing more is read until the next stage (or the splice) asks. `consume` must be a capped,
 * incremental decoder: this function buffers nothing itself.
 */
export function readFromClient<T>(conn: Connection, consume: (chunk: Buffer) => T | undefined): Promise<T> {
  const stream = conn.client
  return new Promise<T>((resolve, reject) => {
    const cleanup = (): void => {
      stream.off('data', onData)
      stream.off('end', onEnd)
      stream.off('close', onEnd)
      stream.off('error', onError)
      conn.signal.removeEventListener('abort', onAbort)
      stream.pause()
    }
    const onData = (chunk: Buffer): void => {
      let result: T | undefined
      try {
        result = consume(chunk)
      } catch (err) {
        // A decoder must not throw on client bytes; if one does, refuse rather than crash.
        cleanup()
        reject(err)
        return
      }
      if (result !== undefined) {
        cleanup()
        resolve(result)
      }
    }
    const onEnd = (): void => { cleanup(); reject(new ClientGone('closed')) }
    const onError = (): void => { cleanup(); reject(new ClientGone('error')) }
    const onAbort = (): void => { cleanup(); reject(new ClientGone('aborted')) }
    if (conn.signal.aborted) { reject(new ClientGone('aborted')); return }
    stream.on('data', onData)
    stream.once('end', onEnd)
    stream.once('close', onEnd)
    stream.once('error', onError)
    conn.signal.addEventListener('abort', onAbort, { once: true })
    stream.resume()
  })
}
