/**
 * IP addresses between network-order bytes (PROXY v2 address block) and text. IPv6 text follows
 * RFC 5952 §4 (lowercase, no leading zeros, longest run of two or more zero groups as "::", the
 * first on a tie) and writes IPv4-mapped addresses as ::ffff:a.b.c.d (§5), which is also how
 * Node reports them in `socket.remoteAddress`, so CIDR matching sees the same form either way.
 */
import { isIPv4, isIPv6 } from 'node:net'

export function bytesToIPv4(bytes: Buffer): string {
  return [...bytes.subarray(0, 4)].join('.')
}

export function bytesToIPv6(bytes: Buffer): string {
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i))
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytesToIPv4(bytes.subarray(12, 16))}`
  }
  const [start, length] = longestZeroRun(groups)
  const hex = groups.map((g) => g.toString(16))
  if (length < 2) return hex.join(':')
  return `${hex.slice(0, start).join(':')}::${hex.slice(start + length).join(':')}`
}

function longestZeroRun(groups: number[]): [number, number] {
  let best: [number, number] = [0, 0]
  let runStart = -1
  for (let i = 0; i <= groups.length; i += 1) {
    if (i < groups.length && groups[i] === 0) {
      if (runStart < 0) runStart = i
    } else if (runStart >= 0) {
      if (i - runStart > best[1]) best = [runStart, i - runStart]
      runStart = -1
    }
  }
  return best
}

/** Throws RangeError on text that is not a dotted-quad IPv4 address. */
export function ipv4ToBytes(ip: string): Buffer {
  if (!isIPv4(ip)) throw new RangeError(`not an IPv4 address: ${ip}`)
  return Buffer.from(ip.split('.').map(Number))
}

/** Throws RangeError on text that is not an IPv6 address (embedded IPv4 tail allowed). */
export function ipv6ToBytes(ip: string): Buffer {
  if (!isIPv6(ip)) throw new RangeError(`not an IPv6 address: ${ip}`)
  let text = ip
  const tail: number[] = []
  const lastColon = text.lastIndexOf(':')
  const maybeV4 = text.slice(lastColon + 1)
  if (maybeV4.includes('.')) {
    const v4 = ipv4ToBytes(maybeV4)
    tail.push(v4.readUInt16BE(0), v4.readUInt16BE(2))
    text = text.slice(0, lastColon + 1) + '0' // placeholder group, replaced below
  }
  const [head = '', rest] = text.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = rest === undefined || rest === '' ? [] : rest.split(':')
  if (tail.length) (right.length ? right : left).pop()
  const missing = 8 - tail.length - left.length - right.length
  const groups = [...left.map(hexGroup), ...Array<number>(rest === undefined ? 0 : missing).fill(0), ...right.map(hexGroup), ...tail]
  const out = Buffer.alloc(16)
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2))
  return out
}

function hexGroup(text: string): number {
  return Number.parseInt(text, 16)
}
