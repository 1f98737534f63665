/**
 * PROXY protocol version 2, the binary form (haproxy proxy-protocol.txt §2.2).
 *
 *  +------------------------------------------------+---------+---------+-----------+
 *  | signature (12): 0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A    | ver|cmd | fam|tr  | len (u16) |
 *  +------------------------------------------------+---------+---------+-----------+
 *  | address block, `len` octets:                                                  |
 *  |   INET  (0x1_): src4 dst4 sport dport           12 octets                     |
 *  |   INET6 (0x2_): src16 dst16 sport dport          36 octets                    |
 *  |   UNIX  (0x3_): src108 dst108                   216 octets                    |
 *  | then TLVs to the end: type u8 | length u16 | value (§2.2.7)                   |
 *  +-------------------------------------------------------------------------------+
 *  ver|cmd: high nibble 2; low 0 LOCAL, 1 PROXY.  fam|tr: high 0 UNSPEC 1 INET 2 INET6 3 UNIX;
 *  low 0 UNSPEC 1 STREAM 2 DGRAM. Other values "must be rejected as invalid by receivers".
 *
 * LOCAL (health checks) and UNSPEC carry no usable addresses: the receiver uses the real
 * endpoints and discards the block (§2.2), so no addresses, TLVs or VPC come out of them.
 * PP2_TYPE_CRC32C (0x03) is kept but not verified: the header arrives over TCP from a balancer
 * whose address is already checked against `trustedCidrs`.
 */
import { bytesToIPv4, bytesToIPv6, ipv4ToBytes, ipv6ToBytes } from './ip-bytes'
import type { ProxyAddress, ProxyFamily, ProxyHeader, ProxyTransport } from './proxy-protocol'
import { vpcFromTlvs } from './proxy-protocol-vpc'
import type { ProxyTlv } from './proxy-protocol-vpc'

export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
export const V2_HEADER_LENGTH = 16

const FAMILIES: Readonly<Record<number, ProxyFamily>> = { 0: 'UNSPEC', 1: 'IPv4', 2: 'IPv6', 3: 'UNIX' }
const TRANSPORTS: Readonly<Record<number, ProxyTransport>> = { 0: 'UNSPEC', 1: 'STREAM', 2: 'DGRAM' }
const ADDRESS_LENGTH: Readonly<Record<ProxyFamily, number>> = { UNSPEC: 0, IPv4: 12, IPv6: 36, UNIX: 216 }

/** The v2 fixed header, once its 16 octets are in. */
export type V2Prelude =
  | { readonly ok: true; readonly command: 'LOCAL' | 'PROXY'; readonly family: ProxyFamily; readonly transport: ProxyTransport; readonly length: number }
  | { readonly ok: false; readonly detail: string }

export function parseV2Prelude(buf: Buffer): V2Prelude {
  const verCmd = buf.readUInt8(12)
  const famTr = buf.readUInt8(13)
  if (verCmd >> 4 !== 2) return { ok: false, detail: `PROXY v2 version nibble ${verCmd >> 4}` }
  const cmd = verCmd & 0x0f
  if (cmd > 1) return { ok: false, detail: `PROXY v2 command ${cmd}` }
  const family = FAMILIES[famTr >> 4]
  const transport = TRANSPORTS[famTr & 0x0f]
  if (!family || !transport) return { ok: false, detail: `PROXY v2 family/transport 0x${famTr.toString(16)}` }
  return { ok: true, command: cmd === 0 ? 'LOCAL' : 'PROXY', family, transport, length: buf.readUInt16BE(14) }
}

/** Decodes the address block + TLVs (`block` is exactly `length` octets). */
export function parseV2Block(prelude: V2Prelude & { ok: true }, block: Buffer): ProxyHeader | string {
  const { command, family, transport } = prelude
  if (command === 'LOCAL' || family === 'UNSPEC') {
    return { version: 2, command, family, transport, tlvs: [] }
  }
  const addressLength = ADDRESS_LENGTH[family]
  if (block.length < addressLength) return `PROXY v2 ${family} block of ${block.length} octets, needs ${addressLength}`
  const tlvs = parseTlvs(block.subarray(addressLength))
  if (typeof tlvs === 'string') return tlvs
  const vpc = vpcFromTlvs(tlvs)
  if (!vpc.ok) return vpc.detail
  const base = { version: 2, command, family, transport, tlvs } as const
  const endpoints = family === 'UNIX' ? {} : addresses(family, block)
  return vpc.vpc ? { ...base, ...endpoints, vpc: vpc.vpc } : { ...base, ...endpoints }
}

function addresses(family: 'IPv4' | 'IPv6', block: Buffer): { source: ProxyAddress; destination: ProxyAddress } {
  const size = family === 'IPv4' ? 4 : 16
  const text = family === 'IPv4' ? bytesToIPv4 : bytesToIPv6
  return {
    source: { ip: text(block.subarray(0, size)), port: block.readUInt16BE(2 * size) },
    destination: { ip: text(block.subarray(size, 2 * size)), port: block.readUInt16BE(2 * size + 2) },
  }
}

/** §2.2.7: type u8, length u16, value; they must exactly fill the rest of the block. */
function parseTlvs(bytes: Buffer): ProxyTlv[] | string {
  const tlvs: ProxyTlv[] = []
  let pos = 0
  while (pos < bytes.length) {
    if (bytes.length - pos < 3) return 'PROXY v2 TLV header truncated'
    const type = bytes.readUInt8(pos)
    const length = bytes.readUInt16BE(pos + 1)
    if (pos + 3 + length > bytes.length) return `PROXY v2 TLV 0x${type.toString(16)} overruns the header`
    tlvs.push({ type, value: Buffer.from(bytes.subarray(pos + 3, pos + 3 + length)) })
    pos += 3 + length
  }
  return tlvs
}

export interface V2Input {
  readonly command?: 'LOCAL' | 'PROXY'
  readonly family?: 'IPv4' | 'IPv6' | 'UNSPEC'
  readonly source?: ProxyAddress
  readonly destination?: ProxyAddress
  readonly tlvs?: readonly ProxyTlv[]
}

/** Encodes a v2 header (STREAM transport), for tests and benchmarks. Throws RangeError on bad input. */
export function encodeProxyV2(input: V2Input): Buffer {
  const command = input.command ?? 'PROXY'
  const family = input.family ?? 'IPv4'
  const famNibble = family === 'UNSPEC' ? 0 : family === 'IPv4' ? 1 : 2
  const parts: Buffer[] = []
  if (family !== 'UNSPEC') {
    const { source, destination } = input
    if (!source || !destination) throw new RangeError('PROXY v2 INET/INET6 needs source and destination')
    const toBytes = family === 'IPv4' ? ipv4ToBytes : ipv6ToBytes
    const ports = Buffer.alloc(4)
    ports.writeUInt16BE(source.port, 0)
    ports.writeUInt16BE(destination.port, 2)
    parts.push(toBytes(source.ip), toBytes(destination.ip), ports)
  }
  for (const tlv of input.tlvs ?? []) {
    const head = Buffer.alloc(3)
    head.writeUInt8(tlv.type, 0)
    head.writeUInt16BE(tlv.value.length, 1)
    parts.push(head, tlv.value)
  }
  const block = Buffer.concat(parts)
  const prelude = Buffer.alloc(4)
  prelude.writeUInt8(0x20 | (command === 'PROXY' ? 1 : 0), 0)
  prelude.writeUInt8((famNibble << 4) | (family === 'UNSPEC' ? 0 : 1), 1)
  prelude.writeUInt16BE(block.length, 2)
  return Buffer.concat([V2_SIGNATURE, prelude, block])
}
