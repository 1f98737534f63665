/**
 * The Redis store's two connections, for each topology (redis-target.ts): a command client and a
 * subscriber, plus the command side's `close`/`ready` signal that RedisConnectivity watches.
 *
 * One rule on every topology: fail closed. No offline queue (a command while disconnected
 * rejects at once), bounded connect and command timeouts, at most 1 s between reconnects; open()
 * fails when Redis cannot be reached instead of waiting for it.
 *
 *   url       one server; a replica promoted by hand is followed by changing the URL.
 *   sentinel  ioredis asks the sentinels for the master at each (re)connect and checks the node
 *             it reaches is a master; a connection that finds itself on a demoted master
 *             (READONLY) reconnects, which asks the sentinels again.
 *   cluster   ioredis' Cluster client follows MOVED/ASK and slot changes; the subscriber and
 *             the command-side signal are ours (redis-cluster.ts).
 */
import Redis, { Cluster, type RedisOptions } from 'ioredis'
import { reconnectDelay } from './redis-backoff'
import { ClusterCommandHealth, ClusterSubscription } from './redis-cluster'
import { hostPorts, type HostPort, type RedisTarget } from './redis-target'

export type RedisClient = Redis | Cluster

/** What RedisConnectivity watches: `close` when lost, `ready` when usable again; `status` now. */
export interface WatchedConnection {
  /** 'ready' when usable now (ioredis' own status names). */
  readonly status: string
  on(event: 'close' | 'ready', listener: () => void): unknown
}

export interface StoreSubscriber extends WatchedConnection {
  on(event: 'close' | 'ready', listener: () => void): unknown
  on(event: 'message', listener: (channel: string, message: string) => void): unknown
  on(event: 'error', listener: (err: unknown) => void): unknown
  subscribe(...channels: string[]): Promise<unknown>
  quit(): Promise<unknown>
  disconnect(): void
}

export interface RedisConnections {
  readonly topology: 'standalone' | 'sentinel' | 'cluster'
  readonly client: RedisClient
  readonly subscriber: StoreSubscriber
  /** The command side's losses and recoveries (the client itself, except on a cluster). */
  readonly commands: WatchedConnection
  /** Connects both; rejects when Redis cannot be reached. */
  connect(): Promise<void>
  /** Quits both (idempotent enough: a second call finds them closed). */
  quit(): Promise<void>
  disconnect(): void
}

const TIMEOUTS = {
  connectTimeout: 2_000,
  commandTimeout: 5_000,
} as const

/** Options of every data connection (not the cluster client itself, which has its own). */
const CONNECTION_OPTIONS = {
  ...TIMEOUTS,
  lazyConnect: true, // connect() connects explicitly, so an unreachable Redis fails open()
  enableOfflineQueue: false, // a command while disconnected rejects at once (fail closed)
  maxRetriesPerRequest: 1,
  retryStrategy: reconnectDelay, // at most 1 s apart (redis-backoff.ts)
  // A master demoted by a failover answers writes READONLY: reconnect, and so ask again where the
  // master is (Sentinel) or reach the promoted one (a URL behind a service that follows it).
  reconnectOnError: (err: Error): boolean => err.message.startsWith('READONLY'),
} satisfies RedisOptions

export function createConnections(target: RedisTarget, probeKey: string): RedisConnections {
  if ('url' in target) return pair('standalone', () => new Redis(target.url, CONNECTION_OPTIONS))
  if ('sentinel' in target) {
    const { masterName, nodes, password } = target.sentinel
    const opened = { value: false }
    const options = {
      ...CONNECTION_OPTIONS,
      sentinels: hostPorts(nodes),
      name: masterName,
      role: 'master',
      ...(password === undefined ? {} : { password, sentinelPassword: password }),
      // When no sentinel names a master: during open() give up after one pass over them (open
      // fails fast); afterwards keep asking, at the reconnect pace. (A connection whose connector
      // gives up ends for good in ioredis: it would never come back after a failover.)
      sentinelRetryStrategy: (times: number): number | null => (opened.value ? reconnectDelay(times) : null),
      sentinelCommandTimeout: 1_000,
      // Not ioredis' failoverDetector: its sentinel connections have no error listener and retry
      // on their own (once a minute), outliving the store. A crashed master closes our
      // connections anyway, and a demoted live one answers READONLY (reconnectOnError above).
    } satisfies RedisOptions
    return pair('sentinel', () => new Redis(options), () => { opened.value = true })
  }
  return clusterConnections(hostPorts(target.cluster.nodes), target.cluster.password, probeKey)
}

function pair(topology: 'standalone' | 'sentinel', open: () => Redis, connected = (): void => undefined): RedisConnections {
  const client = open()
  const subscriber = open()
  return {
    topology, client, subscriber, commands: client,
    connect: async () => {
      await Promise.all([client.connect(), subscriber.connect()])
      connected()
    },
    quit: async () => { await Promise.all([quit(client), quit(subscriber)]) },
    disconnect: () => {
      client.disconnect()
      subscriber.disconnect()
    },
  }
}

function clusterConnections(seeds: HostPort[], password: string | undefined, probeKey: string): RedisConnections {
  const auth = password === undefined ? {} : { password }
  const client = new Cluster(seeds, {
    lazyConnect: true,
    enableOfflineQueue: false,
    clusterRetryStrategy: reconnectDelay,
    // MOVED/ASK, TRYAGAIN and CLUSTERDOWN are retried by the client, 100 ms apart, at most 10
    // times: a slot moving or failing over is ridden out, a dead slot fails within ~1 s.
    maxRedirections: 10,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 1_000,
    redisOptions: { ...TIMEOUTS, maxRetriesPerRequest: 1, ...auth },
  })
  const candidates = (): HostPort[] => {
    const known = client.nodes('all').map((node) => ({ host: node.options.host as string, port: node.options.port as number }))
    const seen = new Set<string>()
    return [...known, ...seeds].filter((node) => {
      const key = `${node.host}:${node.port}`
      if (seen.has(key)) return false
      seen.add(key)
      return true
    })
  }
  const subscriber = new ClusterSubscription(candidates, { ...TIMEOUTS, enableOfflineQueue: false, maxRetriesPerRequest: 1, ...auth })
  const commands = new ClusterCommandHealth(client, () => client.exists(probeKey))
  return {
    topology: 'cluster', client, subscriber, commands,
    // The subscriber picks among the nodes the client found, so it connects second.
    connect: async () => {
      await client.connect()
      commands.watch()
      await subscriber.connect()
    },
    quit: async () => {
      commands.stop()
      await Promise.all([quit(client), subscriber.quit()])
    },
    disconnect: () => {
      commands.stop()
      client.disconnect()
      subscriber.disconnect()
    },
  }
}

async function quit(connection: RedisClient): Promise<void> {
  try {
    await connection.quit()
  } catch {
    connection.disconnect()
  }
}
