/**
 * The audit stream's Redis connections (sink, query, live tail) on each store topology
 * (src/store/redis-target.ts): one server by URL, a Sentinel-monitored master, or a Cluster.
 *
 * These connections are not the store's (src/store/redis-connections.ts): the store fails its
 * open() when Redis is away, while an audit connection must never hold up start-up or the data
 * path. So they connect in the background and keep reconnecting, and every use waits a bounded
 * time for them (`whenReady`) instead of queueing commands:
 *
 *   url       as before: one server.
 *   sentinel  ioredis asks the sentinels for the master at each (re)connect; a connection left on
 *             a demoted master answers READONLY and reconnects, which asks the sentinels again.
 *             Unlike the store's, the sentinels are asked for ever (an audit connection has no
 *             open() to fail).
 *   cluster   ioredis' Cluster client follows MOVED/ASK and slot moves. The stream is one key,
 *             hence one slot (Cluster spec, "Key distribution model"); a pipeline of XADDs to it
 *             is legal.
 *
 * Roles: `writer` (the sink) and `reader` (queries) carry command timeouts; `blocking` (XREAD
 * BLOCK of the live tail) has none, since a blocked read is not a stuck one.
 */
import { once } from 'node:events'
import Redis, { Cluster, type ClusterOptions, type RedisOptions } from 'ioredis'
import { reconnectDelay } from '../store/redis-backoff'
import { hostPorts, type RedisTarget } from '../store/redis-target'

export type AuditRedis = Redis | Cluster

export const AUDIT_CONNECTION_ROLES = ['writer', 'reader', 'blocking'] as const
export type AuditConnectionRole = (typeof AUDIT_CONNECTION_ROLES)[number]

const CONNECT_TIMEOUT_MS = 5_000
const COMMAND_TIMEOUT_MS = 5_000

/** Audit connections reconnect more gently than the store's: at most every 5 s. */
function auditReconnectDelay(attempt: number): number {
  return Math.min(attempt * 200, 5_000)
}

function roleOptions(role: AuditConnectionRole) {
  return {
    connectTimeout: CONNECT_TIMEOUT_MS,
    ...(role === 'blocking' ? {} : { commandTimeout: COMMAND_TIMEOUT_MS }),
    // No offline queue: a command while disconnected fails at once instead of piling up in
    // memory; callers wait for `ready` a bounded time first (whenReady).
    enableOfflineQueue: false,
    // A blocking read is never retried on another connection behind the tail's back.
    maxRetriesPerRequest: role === 'blocking' ? 0 : 1,
    retryStrategy: auditReconnectDelay,
    // A master demoted by a failover answers writes READONLY: reconnect, and so find the new one.
    reconnectOnError: (err: Error): boolean => err.message.startsWith('READONLY'),
  } satisfies RedisOptions
}

/** A connection to the target for `role`; it connects in the background. Attach an 'error' listener. */
export function openAuditRedis(target: RedisTarget, role: AuditConnectionRole): AuditRedis {
  if ('url' in target) return new Redis(target.url, roleOptions(role))
  if ('sentinel' in target) {
    const { masterName, nodes, password } = target.sentinel
    return new Redis({
      ...roleOptions(role),
      sentinels: hostPorts(nodes),
      name: masterName,
      role: 'master',
      ...(password === undefined ? {} : { password, sentinelPassword: password }),
      // Never give up on the sentinels: a connector that gives up ends for good in ioredis.
      sentinelRetryStrategy: (times: number): number => reconnectDelay(times),
      sentinelCommandTimeout: 1_000,
    })
  }
  const { nodes, password } = target.cluster
  const options = {
    enableOfflineQueue: false,
    clusterRetryStrategy: auditReconnectDelay,
    // MOVED/ASK, TRYAGAIN and CLUSTERDOWN are retried 100 ms apart, at most 10 times: a slot that
    // fails over is ridden out, a dead slot fails the command within about a second.
    maxRedirections: 10,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 1_000,
    // Node connections: the cluster client itself handles their loss (slots are refreshed).
    redisOptions: {
      connectTimeout: CONNECT_TIMEOUT_MS,
      ...(role === 'blocking' ? {} : { commandTimeout: COMMAND_TIMEOUT_MS }),
      maxRetriesPerRequest: role === 'blocking' ? 0 : 1,
      ...(password === undefined ? {} : { password }),
    },
  } satisfies ClusterOptions
  return new Cluster(hostPorts(nodes), options)
}

/**
 * Resolves once `client` is ready; rejects after `timeoutMs` (or at once when it was closed),
 * naming the last connection error when there was one (never the target: it may hold a password).
 */
export async function whenReady(client: AuditRedis, timeoutMs: number, lastError?: () => Error | undefined): Promise<void> {
  if (client.status === 'ready') return
  if (client.status === 'end') throw new Error('audit redis connection closed')
  try {
    await once(client, 'ready', { signal: AbortSignal.timeout(timeoutMs) })
  } catch (err) {
    throw new Error(`Redis not ready (${lastError?.()?.message ?? 'timeout'})`, { cause: err })
  }
}

/** Quits when connected, else drops the connection (a quit would wait for a reconnect). */
export async function closeAuditRedis(client: AuditRedis): Promise<void> {
  if (client.status === 'ready') {
    await client.quit().catch(() => client.disconnect())
  } else {
    client.disconnect()
  }
}
