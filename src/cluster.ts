import cluster from 'node:cluster'
import { availableParallelism } from 'node:os'
import type { Config } from './config/schema'
import { readNamedVariable, type EnvSecrets } from './config/load'
import { PortcullisError } from './errors'
import { loadOrCreateRootKey } from './admin/root-key'
import { loadKeyring } from './keys/load-keyring'
import { reservePort, reusePortAvailable } from './proxy/reuse-port'

/** Set by the primary for its workers: the port of each listener, shared with SO_REUSEPORT. */
const LISTEN_PORTS_ENV = 'PORTCULLIS_WORKER_PORTS'

/** How many gateway processes `workers` asks for on this machine. */
export function workerCount(config: Config): number {
  return config.workers === 'auto' ? availableParallelism() : config.workers
}

/**
 * Each worker listens on a socket of its own, bound to the same port with SO_REUSEPORT, and the
 * kernel gives each connection to one of them (proxy/reuse-port.ts). Where that is not available,
 * the workers share the listening sockets and race for each accept (SCHED_NONE). Round-robin
 * hand-off through the primary (node:cluster's default) is never used: it costs an IPC round trip
 * per connection (+58 % CPU per connection measured on two cores). The workers are replicas: they
 * share state through the Redis store (change notifications, session list and kicks), exactly as
 * gateways on several machines do.
 */
export function checkClusterConfig(config: Config): void {
  if (workerCount(config) <= 1) return
  if (config.store.kind !== 'redis') {
    throw new PortcullisError('CONFIG_INVALID', 'workers > 1 needs store.kind redis: the embedded store belongs to one process')
  }
  if (config.demo) throw new PortcullisError('CONFIG_INVALID', 'demo runs with one worker')
}

export interface PrimaryHandle {
  /** Stops every worker (SIGTERM, then SIGKILL after the grace period). */
  stop(): Promise<void>
  /**
   * A config reload (DESIGN §4 "Operations and keys"): SIGHUP to every live worker; each re-reads
   * the file, applies what it can and audits its own reload. Answers how many were signalled.
   */
  reload(): number
}

/** What a worker sends the primary after `POST /v1/config/reload` reloaded it: reload the others. */
const RELOAD_MESSAGE = 'portcullis:config-reloaded'

/**
 * In a worker: asks the primary to reload every other worker (an admin reload reaches one worker
 * only, through the shared admin port). Nothing outside a cluster.
 */
export function notifyPrimaryOfReload(): void {
  if (cluster.isWorker && process.send !== undefined) process.send({ type: RELOAD_MESSAGE })
}

function signalWorkers(except?: number): number {
  let count = 0
  for (const worker of Object.values(cluster.workers ?? {})) {
    if (worker === undefined || worker.isDead() || worker.id === except) continue
    worker.process.kill('SIGHUP')
    count++
  }
  return count
}

/**
 * Runs in the primary: makes the shared secrets exist once (so workers do not race to generate
 * the development root and master key files), forks the workers and restarts one that dies, with a back-off.
 */
export async function runPrimary(config: Config, secrets: EnvSecrets, log: (line: string) => void): Promise<PrimaryHandle> {
  const dataDir = config.store.dataDir
  await loadOrCreateRootKey({ dataDir, secrets })
  // A configured master key (a file, a token) is only checked here: one that cannot be reached
  // stops the start before any worker, which would otherwise die and be restarted in a loop.
  const keyring = await loadKeyring({ masterKey: config.masterKey, secrets, dataDir, readEnv: (name) => readNamedVariable(process.env, name) })
  keyring.close()
  cluster.schedulingPolicy = cluster.SCHED_NONE
  const reserved = reusePortAvailable(config.listeners.map((l) => l.host)) ? config.listeners.map((l) => ({ name: l.name, ...reservePort(l.host, l.port) })) : []
  const listenPorts = reserved.length > 0 ? { [LISTEN_PORTS_ENV]: JSON.stringify(Object.fromEntries(reserved.map((r) => [r.name, r.port]))) } : {}
  let stopping = false
  const count = workerCount(config)
  const fork = (n: number, delayMs: number): void => {
    setTimeout(() => {
      if (stopping) return
      const worker = cluster.fork({ PORTCULLIS_WORKER: String(n), ...listenPorts })
      worker.on('message', (message: unknown) => {
        if ((message as { type?: unknown } | null)?.type !== RELOAD_MESSAGE || stopping) return
        log(`worker ${n} reloaded its config on an admin request; SIGHUP to ${signalWorkers(worker.id)} other workers`)
      })
      worker.once('exit', (code, signal) => {
        if (stopping) return
        log(`worker ${n} exited (${signal ?? code}); restarting`)
        fork(n, Math.min(Math.max(delayMs * 2, 250), 10_000))
      })
    }, delayMs)
  }
  for (let n = 1; n <= count; n++) fork(n, 0)
  log(`${count} workers, ${reserved.length > 0 ? 'each with its own listening sockets (SO_REUSEPORT)' : 'sharing the listening sockets (SO_REUSEPORT needs Linux x64 and listener hosts given as IP addresses)'}`)
  return {
    stop: async () => {
      stopping = true
      const workers = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined)
      await Promise.all(workers.map((w) => new Promise<void>((resolve) => {
        if (w.isDead()) return resolve()
        w.once('exit', () => resolve())
        w.process.kill('SIGTERM')
        setTimeout(() => w.process.kill('SIGKILL'), 10_000).unref()
      })))
      for (const r of reserved) r.release()
    },
    reload: () => (stopping ? 0 : signalWorkers()),
  }
}

export const isWorker = (): boolean => cluster.isWorker

/** In a worker: the port each listener shares with the other workers (SO_REUSEPORT), if any. */
export function workerListenPorts(env: NodeJS.ProcessEnv = process.env): ReadonlyMap<string, number> {
  const raw = cluster.isWorker ? env[LISTEN_PORTS_ENV] : undefined
  if (raw === undefined) return new Map()
  const parsed = JSON.parse(raw) as Record<string, unknown>
  return new Map(Object.entries(parsed).filter((e): e is [string, number] => typeof e[1] === 'number'))
}
