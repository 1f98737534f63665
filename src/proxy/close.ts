import type { Socket } from 'node:net'

/**
 * The 'error' listener for sockets whose errors are handled through 'close' (a client's reset or
 * bad bytes must never become an unhandled 'error'). One module-level function on purpose: an arrow
 * made inside a connection's handler would keep that handler's whole scope (the connection, its
 * deadline controller, its handshake objects) alive for as long as the socket lives.
 */
export function ignoreSocketError(): void {}

/** Writes the last words, then ends; a peer that never reads them is cut off after a grace period. */
export function closeAfterReply(stream: Socket, reply: Buffer | undefined): void {
  if (stream.destroyed) return
  const force = setTimeout(() => stream.destroy(), 2000)
  force.unref()
  stream.once('close', () => clearTimeout(force))
  if (reply !== undefined && stream.writable) stream.end(reply)
  else stream.destroy()
}
