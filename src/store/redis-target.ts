/**
 * Where the Redis store lives (DESIGN §4 "Production"), in the three forms config `store` takes:
 * one server by URL, a Sentinel-monitored master, or a Cluster. Pure data and parsing, so the
 * config schema can check `host:port` lists without loading a Redis client.
 */

export interface SentinelTarget {
  /** The name the sentinels monitor the master under (`sentinel monitor <name> …`). */
  masterName: string
  /** Sentinels as `host:port`; any one that answers names the current master. */
  nodes: readonly string[]
  /** Authenticates to the master and its replicas, and to the sentinels when they require it. */
  password?: string
}

export interface ClusterTarget {
  /** Some cluster nodes as `host:port`; the rest of the topology is read from them. */
  nodes: readonly string[]
  password?: string
}

export type RedisTarget =
  | { url: string }
  | { sentinel: SentinelTarget }
  | { cluster: ClusterTarget }

export interface HostPort {
  host: string
  port: number
}

/** `host:port`, `[v6]:port`; undefined when it is not one (no default port: say which one). */
export function parseHostPort(text: string): HostPort | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text)
  if (m === null) return undefined
  const port = Number(m[3])
  if (port < 1 || port > 65535) return undefined
  return { host: (m[1] ?? m[2]) as string, port }
}

export function hostPorts(nodes: readonly string[]): HostPort[] {
  return nodes.map((node) => {
    const parsed = parseHostPort(node)
    if (parsed === undefined) throw new RangeError(`not a host:port: ${node}`)
    return parsed
  })
}
