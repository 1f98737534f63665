/**
 * PROXY protocol header reader, versions 1 and 2 (haproxy proxy-protocol.txt).
 *
 *  first octets                         → what follows
 *  "PROXY " (50 52 4F 58 59 20)         → v1 text line, ≤107 octets with CRLF (proxy-protocol-v1.ts)
 *  0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A  → v2 binary, 16 octets + `len` (proxy-protocol-v2.ts)
 *  anything else                        → no header ('none'; mode optional passes the bytes on)
 *
 * The two signatures differ in their first octet and neither is a prefix of a TLS ClientHello
 * (0x16), an MQTT CONNECT (0x10) or an AMQP header ('A'), so 'none' is usually decided from one
 * octet and never needs more than the octets that still match a signature (§2: "the receiver
 * ... must not wait for more than necessary").
 *
 * Guarantees: pure, never throws; buffers at most 107 octets (v1) or 16 + maxV2Length (v2); a v2
 * length over the cap is refused from the 16-octet prelude, before the block is buffered.
 */
import { V1_PREFIX, parseV1 } from './proxy-protocol-v1'
import { V2_HEADER_LENGTH, V2_SIGNATURE, parseV2Block, parseV2Prelude } from './proxy-protocol-v2'
import type { ProxyTlv, VpcIdentity } from './proxy-protocol-vpc'

export { encodeProxyV1, V1_MAX_LENGTH } from './proxy-protocol-v1'
export { encodeProxyV2 } from './proxy-protocol-v2'
export { aliyunTlv, awsVpceTlv, azureLinkIdTlv, gcpPscTlv, VPC_TLV_TYPES } from './proxy-protocol-vpc'
export type { Cloud, ProxyTlv, VpcIdentity } from './proxy-protocol-vpc'

export type ProxyFamily = 'IPv4' | 'IPv6' | 'UNIX' | 'UNSPEC'
export type ProxyTransport = 'STREAM' | 'DGRAM' | 'UNSPEC'

export interface ProxyAddress {
  readonly ip: string
  readonly port: number
}

export interface ProxyHeader {
  readonly version: 1 | 2
  /** LOCAL: the balancer's own connection (health check); use the real endpoints. */
  readonly command: 'LOCAL' | 'PROXY'
  readonly family: ProxyFamily
  readonly transport: ProxyTransport
  /** The client as the balancer saw it; absent for LOCAL, UNSPEC/UNKNOWN and UNIX. */
  readonly source?: ProxyAddress
  readonly destination?: ProxyAddress
  readonly tlvs: readonly ProxyTlv[]
  readonly vpc?: VpcIdentity
}

export type ProxyHeaderResult =
  | { readonly kind: 'need-more' }
  | { readonly kind: 'none'; readonly rest: Buffer }
  | { readonly kind: 'header'; readonly header: ProxyHeader; readonly rest: Buffer }
  | { readonly kind: 'error'; readonly detail: string }

export interface ProxyHeaderReaderOptions {
  /** Cap on the v2 `len` field (addresses + TLVs). */
  readonly maxV2Length?: number
}

export const DEFAULT_MAX_V2_LENGTH = 2048

export class ProxyHeaderReader {
  private buf: Buffer = Buffer.alloc(0)
  private finished = false
  private readonly maxV2Length: number

  constructor(options: ProxyHeaderReaderOptions = {}) {
    this.maxV2Length = options.maxV2Length ?? DEFAULT_MAX_V2_LENGTH
  }

  push(chunk: Buffer): ProxyHeaderResult {
    if (this.finished) return { kind: 'error', detail: 'ProxyHeaderReader already returned its result' }
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    const result = this.read(this.buf)
    if (result.kind === 'need-more') {
      // Keep only what a header can span; read() has already refused anything longer.
      this.buf = Buffer.from(this.buf)
    } else {
      this.finished = true
      this.buf = Buffer.alloc(0)
    }
    return result
  }

  private read(buf: Buffer): ProxyHeaderResult {
    if (buf.length === 0) return { kind: 'need-more' }
    if (matchesPrefix(buf, V2_SIGNATURE)) return buf.length < V2_SIGNATURE.length ? { kind: 'need-more' } : this.readV2(buf)
    if (matchesPrefix(buf, V1_PREFIX)) return buf.length < V1_PREFIX.length ? { kind: 'need-more' } : readV1(buf)
    return { kind: 'none', rest: buf }
  }

  private readV2(buf: Buffer): ProxyHeaderResult {
    if (buf.length < V2_HEADER_LENGTH) return { kind: 'need-more' }
    const prelude = parseV2Prelude(buf)
    if (!prelude.ok) return { kind: 'error', detail: prelude.detail }
    if (prelude.length > this.maxV2Length) {
      return { kind: 'error', detail: `PROXY v2 length ${prelude.length} exceeds ${this.maxV2Length}` }
    }
    const end = V2_HEADER_LENGTH + prelude.length
    if (buf.length < end) return { kind: 'need-more' }
    const header = parseV2Block(prelude, buf.subarray(V2_HEADER_LENGTH, end))
    if (typeof header === 'string') return { kind: 'error', detail: header }
    return { kind: 'header', header, rest: buf.subarray(end) }
  }
}

function readV1(buf: Buffer): ProxyHeaderResult {
  const line = parseV1(buf)
  if (line.kind !== 'header') return line
  return { kind: 'header', header: line.header, rest: buf.subarray(line.length) }
}

/** True when the first min(buf, signature) octets of `buf` equal the signature's. */
function matchesPrefix(buf: Buffer, signature: Buffer): boolean {
  const n = Math.min(buf.length, signature.length)
  return buf.subarray(0, n).equals(signature.subarray(0, n))
}
