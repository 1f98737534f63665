/**
 * VPC identity carried in cloud load balancers' PROXY v2 TLVs (PP2_TYPE_MIN_CUSTOM 0xE0 ..
 * PP2_TYPE_MAX_CUSTOM 0xEF, haproxy proxy-protocol.txt §2.2.8).
 *
 *  cloud   type  value                                          identity
 *  aws     0xEA  01 | ASCII VPC endpoint id ("vpce-...")        kind 'vpc-endpoint-id'
 *  azure   0xEE  01 | u32 little-endian LinkID                  kind 'private-endpoint-link-id' (decimal)
 *  gcp     0xE0  u64 big-endian PSC connection id (8 octets)    kind 'psc-connection-id' (decimal)
 *  aliyun  0xE1  01 | ASCII VPC id  /  02 | ASCII endpoint id   kind 'vpc-id' / 'vpc-endpoint-id'
 *
 * Unknown subtypes are ignored (vendors add more). A known subtype with a malformed value makes the
 * header invalid: a trusted balancer does not send one, so it is a sign of tampering or a bug.
 * With several identities, the first in header order wins, except that an Aliyun VPC id outranks
 * an Aliyun endpoint id sent alongside it (the VPC is what a Single Tunnel binding names).
 */
export const VPC_TLV_TYPES = { GCP: 0xe0, ALIYUN: 0xe1, AWS: 0xea, AZURE: 0xee } as const

export type Cloud = 'aws' | 'azure' | 'gcp' | 'aliyun'

export interface VpcIdentity {
  readonly cloud: Cloud
  readonly kind: string
  readonly id: string
}

export interface ProxyTlv {
  readonly type: number
  readonly value: Buffer
}

export type VpcResult = { readonly ok: true; readonly vpc?: VpcIdentity } | { readonly ok: false; readonly detail: string }

const SUBTYPE_1 = 0x01
const SUBTYPE_2 = 0x02

export function vpcFromTlvs(tlvs: readonly ProxyTlv[]): VpcResult {
  const found: VpcIdentity[] = []
  for (const tlv of tlvs) {
    const identity = identityOf(tlv)
    if (typeof identity === 'string') return { ok: false, detail: identity }
    if (identity) found.push(identity)
  }
  const aliyunVpc = found.find((v) => v.cloud === 'aliyun' && v.kind === 'vpc-id')
  const chosen = found[0]?.cloud === 'aliyun' && aliyunVpc ? aliyunVpc : found[0]
  return chosen ? { ok: true, vpc: chosen } : { ok: true }
}

/** The identity in one TLV, undefined when it carries none, or a string saying what is wrong. */
function identityOf(tlv: ProxyTlv): VpcIdentity | string | undefined {
  const { type, value } = tlv
  switch (type) {
    case VPC_TLV_TYPES.AWS:
      return value[0] === SUBTYPE_1 ? ascii('aws', 'vpc-endpoint-id', value.subarray(1)) : undefined
    case VPC_TLV_TYPES.AZURE:
      if (value[0] !== SUBTYPE_1) return undefined
      if (value.length !== 5) return `Azure LinkID TLV has ${value.length - 1} octets, expected 4`
      return { cloud: 'azure', kind: 'private-endpoint-link-id', id: String(value.readUInt32LE(1)) }
    case VPC_TLV_TYPES.GCP:
      if (value.length !== 8) return `GCP PSC connection id TLV has ${value.length} octets, expected 8`
      return { cloud: 'gcp', kind: 'psc-connection-id', id: value.readBigUInt64BE(0).toString() }
    case VPC_TLV_TYPES.ALIYUN:
      if (value[0] === SUBTYPE_1) return ascii('aliyun', 'vpc-id', value.subarray(1))
      if (value[0] === SUBTYPE_2) return ascii('aliyun', 'vpc-endpoint-id', value.subarray(1))
      return undefined
    default:
      return undefined
  }
}

/** Printable ASCII without spaces, 1..255 characters: what VPC and endpoint ids look like. */
function ascii(cloud: Cloud, kind: string, bytes: Buffer): VpcIdentity | string {
  if (bytes.length === 0 || bytes.length > 255) return `${cloud} ${kind} TLV has ${bytes.length} octets`
  for (const byte of bytes) {
    if (byte < 0x21 || byte > 0x7e) return `${cloud} ${kind} TLV is not printable ASCII`
  }
  return { cloud, kind, id: bytes.toString('latin1') }
}

// TLV builders, for tests and benchmarks.

export function awsVpceTlv(vpceId: string): ProxyTlv {
  return { type: VPC_TLV_TYPES.AWS, value: Buffer.concat([Buffer.from([SUBTYPE_1]), Buffer.from(vpceId, 'latin1')]) }
}

export function azureLinkIdTlv(linkId: number): ProxyTlv {
  const value = Buffer.alloc(5)
  value.writeUInt8(SUBTYPE_1, 0)
  value.writeUInt32LE(linkId, 1)
  return { type: VPC_TLV_TYPES.AZURE, value }
}

export function gcpPscTlv(connectionId: bigint): ProxyTlv {
  const value = Buffer.alloc(8)
  value.writeBigUInt64BE(connectionId, 0)
  return { type: VPC_TLV_TYPES.GCP, value }
}

export function aliyunTlv(kind: 'vpc-id' | 'vpc-endpoint-id', id: string): ProxyTlv {
  const subtype = kind === 'vpc-id' ? SUBTYPE_1 : SUBTYPE_2
  return { type: VPC_TLV_TYPES.ALIYUN, value: Buffer.concat([Buffer.from([subtype]), Buffer.from(id, 'latin1')]) }
}
