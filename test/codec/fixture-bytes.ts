/**
 * Helpers for byte-annotated codec fixtures and seeded fuzzing (not a test file itself).
 *
 * bytes(0x10, 0x0f, 'MQTT', [0x00, 0x3c]) concatenates octets, ASCII text and arrays/Buffers, so a
 * fixture can be written one wire field per line with a comment beside it.
 */
export type Part = number | string | readonly number[] | Buffer

export function bytes(...parts: Part[]): Buffer {
  return Buffer.concat(
    parts.map((p) => {
      if (typeof p === 'number') return Buffer.from([p])
      if (typeof p === 'string') return Buffer.from(p, 'latin1')
      return Buffer.isBuffer(p) ? p : Buffer.from(p)
    }),
  )
}

/** u16 length-prefixed string, as MQTT writes them. */
export function str16(text: string): Buffer {
  const body = Buffer.from(text, 'utf8')
  const out = Buffer.alloc(2 + body.length)
  out.writeUInt16BE(body.length, 0)
  body.copy(out, 2)
  return out
}

/** mulberry32: a tiny seeded PRNG, so that a failing fuzz case can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function randomInt(rand: () => number, maxExclusive: number): number {
  return Math.floor(rand() * maxExclusive)
}

export function randomBytes(rand: () => number, length: number): Buffer {
  const out = Buffer.alloc(length)
  for (let i = 0; i < length; i += 1) out[i] = randomInt(rand, 256)
  return out
}

/** A copy of `input` with a few random edits: flipped octets, a truncation or an insertion. */
export function mutate(rand: () => number, input: Buffer): Buffer {
  let out = Buffer.from(input)
  const edits = 1 + randomInt(rand, 4)
  for (let i = 0; i < edits; i += 1) {
    const op = randomInt(rand, 4)
    if (op === 0 && out.length > 0) out[randomInt(rand, out.length)] = randomInt(rand, 256)
    else if (op === 1) out = out.subarray(0, randomInt(rand, out.length + 1))
    else if (op === 2) {
      const at = randomInt(rand, out.length + 1)
      out = Buffer.concat([out.subarray(0, at), randomBytes(rand, 1 + randomInt(rand, 8)), out.subarray(at)])
    } else if (out.length > 0) {
      const at = randomInt(rand, out.length)
      out[at] = (out[at] ?? 0) ^ (1 << randomInt(rand, 8))
    }
  }
  return out
}

/** Splits `input` into random chunks (at least one, possibly empty). */
export function randomChunks(rand: () => number, input: Buffer): Buffer[] {
  const chunks: Buffer[] = []
  let pos = 0
  while (pos < input.length) {
    const size = 1 + randomInt(rand, Math.max(1, Math.min(64, input.length - pos)))
    chunks.push(input.subarray(pos, pos + size))
    pos += size
  }
  return chunks.length > 0 ? chunks : [Buffer.alloc(0)]
}
