/**
 * PROXY protocol version 1, the text form (haproxy proxy-protocol.txt §2.1).
 *
 *  "PROXY" SP ( "TCP4" | "TCP6" ) SP src-ip SP dst-ip SP src-port SP dst-port CRLF
 *  "PROXY" SP "UNKNOWN" [ anything ] CRLF
 *  at most 107 octets including CRLF; single spaces; ports decimal 0..65535
 *
 *  e.g. 50 52 4f 58 59 20 54 43 50 34 20 ...  "PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n"
 */
import { isIPv4, isIPv6 } from 'node:net'
import type { ProxyAddress, ProxyHeader } from './proxy-protocol'

export const V1_PREFIX = Buffer.from('PROXY ', 'latin1')
export const V1_MAX_LENGTH = 107

export type V1LineResult =
  | { readonly kind: 'need-more' }
  | { readonly kind: 'header'; readonly header: ProxyHeader; readonly length: number }
  | { readonly kind: 'error'; readonly detail: string }

/** Parses a v1 line at the start of `buf` (which starts with "PROXY "). */
export function parseV1(buf: Buffer): V1LineResult {
  const crlf = buf.subarray(0, V1_MAX_LENGTH).indexOf('\r\n', 0, 'latin1')
  if (crlf < 0) {
    return buf.length >= V1_MAX_LENGTH
      ? { kind: 'error', detail: `PROXY v1 line without CRLF in ${V1_MAX_LENGTH} octets` }
      : { kind: 'need-more' }
  }
  const line = buf.toString('latin1', 0, crlf)
  const header = parseV1Line(line)
  return typeof header === 'string' ? { kind: 'error', detail: header } : { kind: 'header', header, length: crlf + 2 }
}

function parseV1Line(line: string): ProxyHeader | string {
  const parts = line.split(' ')
  const proto = parts[1]
  if (proto === 'UNKNOWN') {
    // §2.1: with UNKNOWN the rest of the line is ignored and the real endpoints are used.
    return { version: 1, command: 'PROXY', family: 'UNSPEC', transport: 'UNSPEC', tlvs: [] }
  }
  if (proto !== 'TCP4' && proto !== 'TCP6') return `PROXY v1 protocol ${JSON.stringify(proto ?? '')}`
  if (parts.length !== 6) return 'PROXY v1 line needs exactly four address fields'
  const isIp = proto === 'TCP4' ? isIPv4 : isIPv6
  const [, , srcIp = '', dstIp = '', srcPort = '', dstPort = ''] = parts
  if (!isIp(srcIp) || !isIp(dstIp)) return `PROXY v1 addresses are not ${proto === 'TCP4' ? 'IPv4' : 'IPv6'}`
  const sport = port(srcPort)
  const dport = port(dstPort)
  if (sport === undefined || dport === undefined) return 'PROXY v1 port is not a decimal 0..65535'
  const source: ProxyAddress = { ip: srcIp.toLowerCase(), port: sport }
  const destination: ProxyAddress = { ip: dstIp.toLowerCase(), port: dport }
  const family = proto === 'TCP4' ? 'IPv4' : 'IPv6'
  return { version: 1, command: 'PROXY', family, transport: 'STREAM', source, destination, tlvs: [] }
}

function port(text: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) return undefined
  const value = Number(text)
  return value <= 0xffff ? value : undefined
}

export interface V1Input {
  readonly family: 'IPv4' | 'IPv6' | 'UNSPEC'
  readonly source?: ProxyAddress
  readonly destination?: ProxyAddress
}

/** Encodes a v1 line, for tests and benchmarks. Throws RangeError without both endpoints. */
export function encodeProxyV1(input: V1Input): Buffer {
  if (input.family === 'UNSPEC') return Buffer.from('PROXY UNKNOWN\r\n', 'latin1')
  const { source, destination } = input
  if (!source || !destination) throw new RangeError('PROXY v1 TCP4/TCP6 needs source and destination')
  const proto = input.family === 'IPv4' ? 'TCP4' : 'TCP6'
  const line = `PROXY ${proto} ${source.ip} ${destination.ip} ${source.port} ${destination.port}\r\n`
  return Buffer.from(line, 'latin1')
}
