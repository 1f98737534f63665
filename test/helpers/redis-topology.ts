/**
 * Redis topologies a test starts and stops itself, from Debian's `redis-server` (a sentinel is
 * `redis-server FILE --sentinel`) and `redis-cli --cluster create`: a Sentinel set (one master, its
 * replicas, three sentinels) and a Cluster of masters. Every process gets free loopback ports, a
 * temporary directory and no persistence (`save ''`, no AOF), and is killed when the set stops (or,
 * at the latest, when the test process exits).
 *
 * Absent redis-server: `redisServerAvailable` skips loudly, or fails under
 * PORTCULLIS_REQUIRE_SERVICES=1, as services.ts does for the running services.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import Redis from 'ioredis'
import type { Test } from './services'
import { unusedPort } from './services'

const REDIS_SERVER = '/usr/bin/redis-server'
const REDIS_CLI = '/usr/bin/redis-cli'
const START_TIMEOUT_MS = 10_000
const run = promisify(execFile)

/** Every process started here, so that none outlives the test process. */
const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

/** True when redis-server and redis-cli are installed; else skips `t` loudly (or fails it in CI). */
export function redisServerAvailable(t: Test): boolean {
  if (existsSync(REDIS_SERVER) && existsSync(REDIS_CLI)) return true
  const message = `SKIPPED: ${REDIS_SERVER} or ${REDIS_CLI} is missing (Debian packages redis-server, redis-tools); install them to run this test`
  if (process.env.PORTCULLIS_REQUIRE_SERVICES === '1') {
    t.fail(`${message.slice('SKIPPED: '.length)}, and PORTCULLIS_REQUIRE_SERVICES=1 requires it`)
  } else {
    process.stderr.write(`\n*** ${message} (set PORTCULLIS_REQUIRE_SERVICES=1 to make this a failure) ***\n`)
    t.pass('needs redis-server', { skip: message })
  }
  return false
}

/** One redis-server (data node or sentinel) on a port of its own. */
export class RedisProcess {
  private child: ChildProcess | undefined

  constructor(
    readonly port: number,
    private readonly args: readonly string[],
    readonly logFile: string,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
  }

  /** Starts it (again, after a kill: same port, same directory) and waits until it answers PING. */
  async start(): Promise<void> {
    if (this.running) return
    const child = spawn(REDIS_SERVER, [...this.args], { stdio: 'ignore' })
    this.child = child
    live.add(child)
    child.once('exit', () => live.delete(child))
    const deadline = Date.now() + START_TIMEOUT_MS
    while ((await command(this.port, ['PING']).catch(() => undefined)) !== 'PONG') {
      if (!this.running) throw new Error(`redis-server on ${this.port} exited at start; see ${this.logFile}`)
      if (Date.now() > deadline) throw new Error(`redis-server on ${this.port} did not answer within ${START_TIMEOUT_MS} ms`)
      await sleep(25)
    }
  }

  /** Kills it (SIGKILL by default: a crash, nothing flushed or handed over) and waits for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child
    if (child === undefined || !this.running) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill(signal)
    await exited
  }

  command(...args: Array<string | number>): Promise<unknown> {
    return command(this.port, args)
  }

  /** A read on a cluster replica (READONLY first). */
  replicaRead(...args: Array<string | number>): Promise<unknown> {
    return command(this.port, args, { readOnly: true })
  }

  /** The pid of the server (to freeze it with SIGSTOP: alive to the kernel, silent to its peers). */
  async pid(): Promise<number> {
    return Number(infoField(await this.command('INFO', 'server'), 'process_id'))
  }
}

/**
 * One command on a short-lived connection that never retries and never queues. `readOnly` first
 * sends READONLY, so a cluster replica answers reads of its master's slots instead of MOVED.
 */
export async function command(port: number, args: ReadonlyArray<string | number>, o: { readOnly?: boolean } = {}): Promise<unknown> {
  const redis = new Redis({
    port, host: '127.0.0.1', lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0,
    retryStrategy: () => null, connectTimeout: 1_000, commandTimeout: 2_000, readOnly: o.readOnly === true,
  })
  redis.on('error', () => undefined)
  try {
    await redis.connect()
    const [name, ...rest] = args
    return await redis.call(String(name), ...rest)
  } finally {
    redis.disconnect()
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = START_TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await sleep(50)
  }
}

/** `field:value` lines of an INFO section. */
export function infoField(info: unknown, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(String(info))?.[1]?.trim()
}

/** Settings of every data node: nothing written to disk, quick full syncs. */
function dataNodeArgs(port: number, dir: string, logFile: string): string[] {
  return [
    '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no', '--dir', dir, '--logfile', logFile,
    '--save', '', '--appendonly', 'no', '--daemonize', 'no',
    // A replica (re)attaching syncs at once (the default waits 5 s for more replicas to join).
    '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0',
  ]
}

export interface SentinelSet {
  readonly masterName: string
  /** `host:port` of each sentinel, as config `store.sentinel.nodes` takes them. */
  readonly sentinelNodes: string[]
  readonly dataNodes: RedisProcess[]
  readonly sentinels: RedisProcess[]
  /** The data node the sentinels call master now. */
  master(): Promise<RedisProcess>
  /** Waits until every running sentinel names one master other than `old`, and that node says it is master. */
  failedOver(old: RedisProcess, opts?: { timeoutMs?: number }): Promise<RedisProcess>
  stop(): Promise<void>
}

export interface SentinelSetOptions {
  replicas?: number
  /** sentinel down-after-milliseconds (default 1000) and failover-timeout (default 3000). */
  downAfterMs?: number
  failoverTimeoutMs?: number
}

/** One master, `replicas` replicas (default 1) and three sentinels with quorum 2. */
export async function startSentinelSet(o: SentinelSetOptions = {}): Promise<SentinelSet> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-sentinel-'))
  const masterName = 'portcullis-test'
  const started: RedisProcess[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(started.map((p) => p.kill()))
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const dataNodes: RedisProcess[] = []
    const masterPort = await unusedPort()
    for (let i = 0; i <= (o.replicas ?? 1); i++) {
      const port = i === 0 ? masterPort : await unusedPort()
      const nodeDir = join(dir, `data-${port}`)
      mkdirSync(nodeDir)
      const args = dataNodeArgs(port, nodeDir, join(nodeDir, 'redis.log'))
      if (i > 0) args.push('--replicaof', '127.0.0.1', String(masterPort))
      const node = new RedisProcess(port, args, join(nodeDir, 'redis.log'))
      started.push(node)
      dataNodes.push(node)
      await node.start()
    }
    const replicaCount = dataNodes.length - 1
    await until('replicas attached', async () => {
      const info = await dataNodes[0]?.command('INFO', 'replication')
      return (String(info).match(/state=online/g) ?? []).length === replicaCount
    })
    const sentinels: RedisProcess[] = []
    for (let i = 0; i < 3; i++) {
      const port = await unusedPort()
      const file = join(dir, `sentinel-${port}.conf`)
      const log = join(dir, `sentinel-${port}.log`)
      // The sentinel rewrites its file (what it learnt about replicas and peers): it must be writable.
      writeFileSync(file, [
        `port ${port}`, 'bind 127.0.0.1', 'protected-mode no', `dir ${dir}`, `logfile ${log}`,
        `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 2`,
        `sentinel down-after-milliseconds ${masterName} ${o.downAfterMs ?? 1_000}`,
        `sentinel failover-timeout ${masterName} ${o.failoverTimeoutMs ?? 3_000}`,
        `sentinel parallel-syncs ${masterName} 1`,
        '',
      ].join('\n'))
      const sentinel = new RedisProcess(port, [file, '--sentinel'], log)
      started.push(sentinel)
      sentinels.push(sentinel)
      await sentinel.start()
    }
    // A failover needs a majority of sentinels that know each other (hello messages, every 2 s).
    await until('sentinels discovered each other and the replicas', async () => {
      for (const s of sentinels) {
        const fields = pairs(await s.command('SENTINEL', 'MASTER', masterName))
        if (fields['num-other-sentinels'] !== '2' || fields['num-slaves'] !== String(replicaCount)) return false
      }
      return true
    }, 15_000)

    const master = async (): Promise<RedisProcess> => {
      const reply = await sentinels[0]?.command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)
      const port = Number((reply as string[])[1])
      const node = dataNodes.find((n) => n.port === port)
      if (node === undefined) throw new Error(`the sentinels name an unknown master port ${port}`)
      return node
    }
    const failedOver = async (old: RedisProcess, f: { timeoutMs?: number } = {}): Promise<RedisProcess> => {
      let promoted: RedisProcess | undefined
      await until('failover', async () => {
        const ports = await Promise.all(sentinels.filter((s) => s.running).map(async (s) =>
          Number(((await s.command('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName)) as string[])[1])))
        if (ports.some((p) => p === old.port) || new Set(ports).size !== 1) return false
        promoted = dataNodes.find((n) => n.port === ports[0])
        return promoted !== undefined && infoField(await promoted.command('INFO', 'replication'), 'role') === 'master'
      }, f.timeoutMs ?? 15_000)
      return promoted as RedisProcess
    }
    return {
      masterName, sentinelNodes: sentinels.map((s) => s.address), dataNodes, sentinels, master, failedOver, stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}

export interface ClusterSet {
  /** `host:port` of each node, as config `store.cluster.nodes` takes them. */
  readonly seedNodes: string[]
  readonly nodes: RedisProcess[]
  /** The node serving `key`'s slot. */
  nodeFor(key: string): Promise<RedisProcess>
  /** The replicas the master reports (INFO replication). */
  replicasOf(master: RedisProcess): Promise<RedisProcess[]>
  /** Waits until every running node says cluster_state:ok. */
  healthy(timeoutMs?: number): Promise<void>
  /** Keys matching `pattern` on every running master (SCAN each; replicas hold copies). */
  keys(pattern: string): Promise<string[]>
  deleteKeys(pattern: string): Promise<void>
  stop(): Promise<void>
}

export interface ClusterOptions {
  /** Default 3. */
  masters?: number
  /** Replicas of each master (default 0): `redis-cli --cluster create --cluster-replicas N`. */
  replicasPerMaster?: number
  /** cluster-node-timeout (default 2000 ms): how soon a dead master is failed over. */
  nodeTimeoutMs?: number
}

/**
 * `masters` masters with their replicas, slots spread by `redis-cli --cluster create`. With
 * `cluster-require-full-coverage no`, a dead master takes only its own slots down.
 */
export async function startCluster(o: ClusterOptions = {}): Promise<ClusterSet> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-cluster-'))
  const nodes: RedisProcess[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((p) => p.kill()))
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const masters = o.masters ?? 3
    const replicasPerMaster = o.replicasPerMaster ?? 0
    for (let i = 0; i < masters * (1 + replicasPerMaster); i++) {
      const port = await unusedPort()
      // The bus port defaults to port + 10000, which may be taken or past 65535: pick one as well.
      const busPort = await unusedPort()
      const nodeDir = join(dir, `node-${port}`)
      mkdirSync(nodeDir)
      const log = join(nodeDir, 'redis.log')
      const node = new RedisProcess(port, [
        ...dataNodeArgs(port, nodeDir, log),
        '--cluster-enabled', 'yes', '--cluster-config-file', join(nodeDir, 'nodes.conf'),
        '--cluster-port', String(busPort), '--cluster-node-timeout', String(o.nodeTimeoutMs ?? 2_000),
        '--cluster-require-full-coverage', 'no',
      ], log)
      nodes.push(node)
      await node.start()
    }
    await run(REDIS_CLI, [
      '--cluster', 'create', ...nodes.map((n) => n.address), '--cluster-replicas', String(replicasPerMaster), '--cluster-yes',
    ], { timeout: START_TIMEOUT_MS })
    const healthy = (timeoutMs = START_TIMEOUT_MS): Promise<void> => until('cluster_state:ok on every node', async () => {
      for (const node of nodes.filter((n) => n.running)) {
        if (infoField(await node.command('CLUSTER', 'INFO'), 'cluster_state') !== 'ok') return false
      }
      return true
    }, timeoutMs)
    await healthy()
    await until('every replica in sync', async () => {
      for (const node of nodes) {
        const info = String(await node.command('INFO', 'replication'))
        if (infoField(info, 'role') === 'master' && (info.match(/state=online/g) ?? []).length !== replicasPerMaster) return false
      }
      return true
    })
    const nodeFor = async (key: string): Promise<RedisProcess> => {
      const slot = Number(await nodes.find((n) => n.running)?.command('CLUSTER', 'KEYSLOT', key))
      for (const node of nodes.filter((n) => n.running)) {
        const ranges = (await node.command('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>
        const owner = ranges.find(([from, to]) => slot >= from && slot <= to)
        if (owner !== undefined) return nodes.find((n) => n.port === Number(owner[2][1])) as RedisProcess
      }
      throw new Error(`no node serves slot ${slot}`)
    }
    const replicasOf = async (master: RedisProcess): Promise<RedisProcess[]> => {
      const info = String(await master.command('INFO', 'replication'))
      const ports = [...info.matchAll(/^slave\d+:.*?port=(\d+)/gm)].map((m) => Number(m[1]))
      return nodes.filter((n) => ports.includes(n.port))
    }
    const keys = async (pattern: string): Promise<string[]> => {
      const found: string[] = []
      for (const node of nodes.filter((n) => n.running)) {
        if (infoField(await node.command('INFO', 'replication'), 'role') !== 'master') continue
        let cursor = '0'
        do {
          const [next, batch] = (await node.command('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000)) as [string, string[]]
          cursor = next
          found.push(...batch)
        } while (cursor !== '0')
      }
      return found
    }
    const deleteKeys = async (pattern: string): Promise<void> => {
      for (const key of await keys(pattern)) await (await nodeFor(key)).command('DEL', key)
    }
    return { seedNodes: nodes.map((n) => n.address), nodes, nodeFor, replicasOf, healthy, keys, deleteKeys, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/** A flat [k1, v1, k2, v2…] reply (SENTINEL MASTER) as an object. */
function pairs(reply: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  const list = reply as string[]
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i] as string] = list[i + 1] as string
  return out
}
