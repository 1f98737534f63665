import { Duplex } from 'node:stream'
import type { Socket } from 'node:net'

/**
 * Two connected in-memory duplex streams: what one writes the other reads, and ending or
 * destroying one ends the other's readable side. Stage tests use the `gateway` end as the
 * connection's socket and drive the `peer` end as the client would, with no network at all.
 * `written()` is everything the gateway end wrote, for assertions. (Node 22 has `Duplex.pair()`;
 * Node 20 does not.)
 */
export function socketPair(): { gateway: Socket; peer: Duplex; written(): Buffer } {
  const written: Buffer[] = []
  const ends: Duplex[] = []
  const make = (other: () => Duplex | undefined, record?: Buffer[]): Duplex => new Duplex({
    read() {},
    write(chunk: Buffer, _encoding, done) {
      record?.push(Buffer.from(chunk))
      other()?.push(chunk)
      done()
    },
    final(done) {
      other()?.push(null)
      done()
    },
    destroy(err, done) {
      const o = other()
      if (o !== undefined && !o.readableEnded) o.push(null)
      done(err)
    },
  })
  ends.push(make(() => ends[1], written), make(() => ends[0]))
  const [gateway, peer] = ends as [Duplex, Duplex]
  // The few net.Socket members the data path uses besides the stream itself.
  Object.assign(gateway, { remoteAddress: '192.0.2.10', remotePort: 40000, setNoDelay: () => gateway })
  return { gateway: gateway as unknown as Socket, peer, written: () => Buffer.concat(written) }
}

/**
 * `bytes` cut at the given offsets (any numbers: taken modulo the length, sorted, deduplicated),
 * for properties that a decoder's answer does not depend on how its input was chunked.
 */
export function splitAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  if (bytes.length === 0) return []
  const points = [...new Set(cuts.map((c) => Math.abs(Math.trunc(c)) % bytes.length))].filter((c) => c > 0).sort((a, b) => a - b)
  const out: Buffer[] = []
  let from = 0
  for (const point of points) {
    out.push(bytes.subarray(from, point))
    from = point
  }
  out.push(bytes.subarray(from))
  return out
}

/**
 * Writes `chunks` to `peer` one per macrotask, as a client's separate TCP segments would arrive,
 * then ends it (a client that closes early) when `end` is set. Resolves once all is written.
 */
export async function writeChunks(peer: Duplex, chunks: readonly Buffer[], end: boolean): Promise<void> {
  for (const chunk of chunks) {
    if (peer.destroyed || peer.writableEnded) return
    peer.write(chunk)
    await new Promise((resolve) => setImmediate(resolve))
  }
  if (end && !peer.destroyed && !peer.writableEnded) peer.end()
}
