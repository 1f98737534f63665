import type { Socket } from 'node:net'

/** Writes the last words, then ends; a peer that never reads them is cut off after a grace period. */
export function closeAfterReply(stream: Socket, reply: Buffer | undefined): void {
  if (stream.destroyed) return
  const force = setTimeout(() => stream.destroy(), 2000)
  force.unref()
  stream.once('close', () => clearTimeout(force))
  if (reply !== undefined && stream.writable) stream.end(reply)
  else stream.destroy()
}
