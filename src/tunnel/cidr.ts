import { BlockList, isIP } from 'node:net'

/**
 * A set of addresses and CIDR ranges, IPv4 and IPv6, matched with Node's BlockList (which also
 * matches an IPv4-mapped IPv6 address such as ::ffff:10.0.0.1 against an IPv4 range).
 */
export class AddressSet {
  private readonly list = new BlockList()
  private empty = true

  /** Throws on a malformed entry, naming it. */
  static parse(entries: readonly string[]): AddressSet {
    const set = new AddressSet()
    for (const entry of entries) set.add(entry)
    return set
  }

  add(entry: string): void {
    const [address, prefix, ...extra] = entry.split('/')
    const family = address === undefined ? 0 : isIP(address)
    if (address === undefined || family === 0 || extra.length > 0) throw new Error(`not an address or CIDR: ${entry}`)
    const type = family === 4 ? 'ipv4' : 'ipv6'
    if (prefix === undefined) {
      this.list.addAddress(address, type)
    } else {
      const bits = Number(prefix)
      if (!/^\d{1,3}$/.test(prefix) || bits > (family === 4 ? 32 : 128)) throw new Error(`bad prefix length in ${entry}`)
      this.list.addSubnet(address, bits, type)
    }
    this.empty = false
  }

  has(ip: string): boolean {
    if (this.empty) return false
    const family = isIP(ip)
    if (family === 0) return false
    return this.list.check(ip, family === 4 ? 'ipv4' : 'ipv6')
  }
}

/** The `networks` map of config: the VPC of a source address that came without a PROXY header. */
export class NetworkMap {
  private readonly entries: Array<{ set: AddressSet; vpcId: string; bits: number }>

  constructor(networks: readonly { cidr: string; vpcId: string }[]) {
    // Most specific range first, so that a /24 inside a /16 wins.
    this.entries = networks
      .map((n) => ({ set: AddressSet.parse([n.cidr]), vpcId: n.vpcId, bits: Number(n.cidr.split('/')[1] ?? 128) }))
      .sort((a, b) => b.bits - a.bits)
  }

  vpcOf(ip: string): string | undefined {
    return this.entries.find((e) => e.set.has(ip))?.vpcId
  }
}
