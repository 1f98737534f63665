import { readVarByteInt } from '../var-byte-int'
import { varByteIntSize, writeVarByteInt } from './wire'

/**
 * SUBSCRIBE and SUBACK, read whole (a SUBSCRIBE is decided filter by filter, and its SUBACK must
 * then say something for each), and re-encoded from slices of the original so that everything the
 * gateway does not decide — packet id, MQTT 5 properties, each filter's options — goes on as sent.
 *
 *  SUBSCRIBE (MQTT 3.1.1 §3.8, MQTT 5 §3.8)
 *  +------+---------+-----------+-------------------+------------------------------------+
 *  | 0x82 | rem.len | packet id | properties (5.0)  | entries, at least one [MQTT-3.8.3-3] |
 *  |      | VBI     | u16       | VBI len + props   | u16 len + filter + options octet     |
 *  +------+---------+-----------+-------------------+------------------------------------+
 *  SUBACK (MQTT 3.1.1 §3.9, MQTT 5 §3.9)
 *  +------+---------+-----------+-------------------+---------------------------------------+
 *  | 0x90 | rem.len | packet id | properties (5.0)  | one reason code per filter, in order   |
 *  |      | VBI     | u16       | VBI len + props   | [MQTT-3.9.3-1]                          |
 *  +------+---------+-----------+-------------------+---------------------------------------+
 */
export interface SubscribeRead {
  readonly packetId: number
  /** Packet-relative span of the MQTT 5 property block, its length included (empty for 3.x). */
  readonly propertiesFrom: number
  readonly propertiesTo: number
  /** Packet-relative start of each entry; an entry ends where the next starts (the last at the packet end). */
  readonly entryAt: readonly number[]
  readonly filters: readonly string[]
}

/** The SUBSCRIBE `buf[off, off + total)` (fixed header `headerLength` octets), or what is malformed in it. */
export function readSubscribe(buf: Buffer, off: number, headerLength: number, total: number, v5: boolean): SubscribeRead | string {
  let at = headerLength
  if (total - at < 2) return 'SUBSCRIBE without a packet identifier'
  const packetId = buf.readUInt16BE(off + at)
  if (packetId === 0) return 'SUBSCRIBE with packet identifier 0 [MQTT-2.2.1-3]'
  at += 2
  const propertiesFrom = at
  if (v5) {
    const length = readVarByteInt(buf.subarray(off, off + total), at)
    if (length.kind !== 'ok') return 'malformed SUBSCRIBE property length'
    at += length.length + length.value
    if (at > total) return 'SUBSCRIBE properties overrun the packet'
  }
  const propertiesTo = at
  const entryAt: number[] = []
  const filters: string[] = []
  while (at < total) {
    if (total - at < 2) return 'truncated SUBSCRIBE topic filter'
    const length = buf.readUInt16BE(off + at)
    // [MQTT-4.7.3-1]: a topic filter has at least one character; each is followed by its options octet.
    if (length === 0) return 'empty SUBSCRIBE topic filter'
    if (at + 2 + length + 1 > total) return 'SUBSCRIBE topic filter overruns the packet'
    entryAt.push(at)
    filters.push(buf.toString('utf8', off + at + 2, off + at + 2 + length))
    at += 2 + length + 1
  }
  if (filters.length === 0) return 'SUBSCRIBE without topic filters [MQTT-3.8.3-3]'
  return { packetId, propertiesFrom, propertiesTo, entryAt, filters }
}

/**
 * What a filter is decided on: a shared subscription `$share/<group>/<filter>` (MQTT 5 §4.8.2;
 * Mosquitto takes it from 3.1.1 clients too) subscribes to `<filter>`. A `$share/` without a
 * second `/` is not a shared subscription (the broker refuses it) and is decided as it is.
 */
export function subscriptionTopic(filter: string): string {
  if (!filter.startsWith('$share/')) return filter
  const slash = filter.indexOf('/', 7)
  return slash < 0 ? filter : filter.slice(slash + 1)
}

/** The SUBSCRIBE with only the entries not flagged in `denied`: same first octet, packet id, properties, options. */
export function subscribeSubset(buf: Buffer, off: number, total: number, read: SubscribeRead, denied: Uint8Array): Buffer {
  const idAt = read.propertiesFrom - 2
  let body = read.propertiesTo - idAt
  for (let i = 0; i < read.entryAt.length; i += 1) {
    if (denied[i] === 0) body += entryEnd(read, i, total) - (read.entryAt[i] as number)
  }
  const out = Buffer.allocUnsafe(1 + varByteIntSize(body) + body)
  out[0] = buf[off] as number
  let at = writeVarByteInt(out, 1, body)
  at += buf.copy(out, at, off + idAt, off + read.propertiesTo)
  for (let i = 0; i < read.entryAt.length; i += 1) {
    if (denied[i] === 0) at += buf.copy(out, at, off + (read.entryAt[i] as number), off + entryEnd(read, i, total))
  }
  return out
}

function entryEnd(read: SubscribeRead, i: number, total: number): number {
  return read.entryAt[i + 1] ?? total
}

/** The gateway's own SUBACK for a SUBSCRIBE none of whose filters may be subscribed. */
export function gatewaySuback(packetId: number, filters: number, failureCode: number, v5: boolean): Buffer {
  const body = 2 + (v5 ? 1 : 0) + filters
  const out = Buffer.allocUnsafe(1 + varByteIntSize(body) + body)
  out[0] = 0x90
  let at = writeVarByteInt(out, 1, body)
  at = out.writeUInt16BE(packetId, at)
  if (v5) out[at++] = 0x00 // no properties
  out.fill(failureCode, at)
  return out
}

/**
 * The broker's SUBACK `buf[off, off + total)` for a SUBSCRIBE the gateway forwarded with the
 * filters not flagged in `denied`, rewritten to answer every filter the client sent, in its
 * order: the broker's codes for the forwarded ones, `failureCode` for the rest. When that would
 * exceed the client's Maximum Packet Size the broker's properties (Reason String, User
 * Properties: optional, MQTT 5 §3.9.2.1) are left out [MQTT-3.1.2-24]. Answers what is wrong if
 * the broker's SUBACK does not answer exactly the forwarded filters.
 */
export function mergeSuback(
  buf: Buffer, off: number, headerLength: number, total: number, v5: boolean,
  denied: Uint8Array, failureCode: number, maximumPacketSize: number | undefined,
): Buffer | string {
  const idAt = headerLength
  if (total - idAt < 2) return 'SUBACK without a packet identifier'
  let at = idAt + 2
  if (v5) {
    const length = readVarByteInt(buf.subarray(off, off + total), at)
    if (length.kind !== 'ok') return 'malformed SUBACK property length'
    at += length.length + length.value
    if (at > total) return 'SUBACK properties overrun the packet'
  }
  const propertiesTo = at
  let forwarded = 0
  for (let i = 0; i < denied.length; i += 1) if (denied[i] === 0) forwarded += 1
  if (total - at !== forwarded) return `broker SUBACK has ${total - at} reason codes for ${forwarded} forwarded topic filters`
  let properties = propertiesTo - (idAt + 2)
  let body = 2 + properties + denied.length
  if (v5 && maximumPacketSize !== undefined && 1 + varByteIntSize(body) + body > maximumPacketSize) {
    body -= properties - 1
    properties = 1
  }
  const out = Buffer.allocUnsafe(1 + varByteIntSize(body) + body)
  out[0] = buf[off] as number
  let to = writeVarByteInt(out, 1, body)
  to += buf.copy(out, to, off + idAt, off + idAt + 2)
  if (properties === propertiesTo - (idAt + 2)) to += buf.copy(out, to, off + idAt + 2, off + propertiesTo)
  else out[to++] = 0x00
  let code = off + propertiesTo
  for (let i = 0; i < denied.length; i += 1) out[to++] = denied[i] === 0 ? (buf[code++] as number) : failureCode
  return out
}

/**
 * SUBSCRIBEs forwarded with some filters left out, by packet id, until the broker's SUBACK comes
 * back. Bounded: one entry per packet id (a client reusing an id replaces its entry), and the
 * filter flags all entries hold together are capped — a client that keeps subscribing and never
 * reads its SUBACKs is a slow consumer.
 */
export class PendingSubacks {
  private readonly byId = new Map<number, Uint8Array>()
  private held = 0

  constructor(private readonly budget: number) {}

  get size(): number {
    return this.byId.size
  }

  /** False when the entries would hold more than the budget. */
  set(packetId: number, denied: Uint8Array): boolean {
    const previous = this.byId.get(packetId)
    const held = this.held - (previous?.length ?? 0) + denied.length
    if (held > this.budget) return false
    this.held = held
    this.byId.set(packetId, denied)
    return true
  }

  /** Removes and answers the entry for `packetId`. */
  take(packetId: number): Uint8Array | undefined {
    const denied = this.byId.get(packetId)
    if (denied === undefined) return undefined
    this.byId.delete(packetId)
    this.held -= denied.length
    return denied
  }

  has(packetId: number): boolean {
    return this.byId.has(packetId)
  }

  clear(): void {
    this.byId.clear()
    this.held = 0
  }
}
