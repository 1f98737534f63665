/**
 * The embedded store: the default for a single machine (DESIGN §3 config, `store.kind: embedded`).
 *
 * State lives in memory (MemoryTables) and is made durable by an fsync'd append log in `dataDir`
 * (AppendLog). Guarantees, as Store promises them:
 * - one write at a time: every write runs in a queue, so the log order is the memory order and a
 *   compare-and-set `update` needs no retry (nobody can write between its read and its write);
 * - a write resolves only after its log line is fsync'd, and memory changes only after that, so a
 *   reader never sees a write that a crash could lose;
 * - change events and broadcasts go to this instance's subscribers, asynchronously, in write order
 *   (one process owns a data directory; opening it twice in one process is refused);
 * - every record handed out is a copy.
 * On open the log is replayed (a torn last line is dropped) and compacted; it is compacted again
 * while running once it holds many more lines than records.
 */
import { randomUUID } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import { PortcullisError } from '../errors'
import { AppendLog } from './append-log'
import { ListenerSet, silentLogger } from './listeners'
import type { StoreLogger } from './listeners'
import { MemoryTables, toLogEntry } from './memory-tables'
import type { LogEntry } from './memory-tables'
import { KeyedMutex } from './mutex'
import { NonceCache } from './nonce-cache'
import type { Collection, Records } from './records'
import type { BroadcastMessage, ChangeEvent, Store } from './store'

const LOG_FILE = 'store.log'
/** Compact while running once the log has this many lines past the snapshot (and 2× the records). */
const COMPACT_AFTER_APPENDS = 10_000

/** Data directories open in this process: a second writer on one log would corrupt it. */
const openDirs = new Set<string>()

export interface EmbeddedStoreOptions {
  dataDir: string
  processId?: string
  logger?: StoreLogger
}

export class EmbeddedStore implements Store {
  readonly kind = 'embedded' as const
  private state: 'open' | 'closing' | 'closed' = 'open'
  private closed: Promise<void> | undefined
  private writes: Promise<unknown> = Promise.resolve()
  private readonly changes: ListenerSet<ChangeEvent>
  private readonly broadcasts: ListenerSet<BroadcastMessage>
  private readonly locks = new KeyedMutex()
  private readonly nonces = new NonceCache()

  private constructor(
    private readonly tables: MemoryTables,
    private readonly log: AppendLog,
    private readonly dataDir: string,
    private readonly processId: string,
    private readonly logger: StoreLogger,
  ) {
    this.changes = new ListenerSet('change', logger)
    this.broadcasts = new ListenerSet('broadcast', logger)
  }

  static async open(opts: EmbeddedStoreOptions): Promise<EmbeddedStore> {
    const dataDir = resolve(opts.dataDir)
    const logger = opts.logger ?? silentLogger
    if (openDirs.has(dataDir)) {
      throw new PortcullisError('STORE_UNAVAILABLE', `the data directory ${dataDir} is already open in this process`)
    }
    openDirs.add(dataDir)
    try {
      // 0700: the log holds sealed secrets and account data; only the gateway's user reads it.
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      const { values, tornTail } = await AppendLog.read(dataDir, LOG_FILE)
      if (tornTail) logger.warn({ dataDir }, 'ignored a torn last line in the store log (a write interrupted by a crash)')
      const tables = new MemoryTables()
      values.forEach((value, index) => tables.apply(toLogEntry(value, index)))
      const log = await AppendLog.create(dataDir, LOG_FILE, tables.snapshot())
      return new EmbeddedStore(tables, log, dataDir, opts.processId ?? randomUUID(), logger)
    } catch (err) {
      openDirs.delete(dataDir)
      throw err
    }
  }

  async get<C extends Collection>(collection: C, scope: string, id: string): Promise<Records[C] | undefined> {
    this.ensureOpen()
    return copyOut(this.tables.get(collection, scope, id)) as Records[C] | undefined
  }

  async list<C extends Collection>(collection: C, scope: string): Promise<Records[C][]> {
    this.ensureOpen()
    return structuredClone(this.tables.list(collection, scope)) as Records[C][]
  }

  async scopes(collection: Collection): Promise<string[]> {
    this.ensureOpen()
    return this.tables.scopes(collection)
  }

  async count(collection: Collection, scope: string): Promise<number> {
    this.ensureOpen()
    return this.tables.count(collection, scope)
  }

  create<C extends Collection>(collection: C, scope: string, id: string, record: Records[C]): Promise<void> {
    const stored = copyIn(record)
    return this.write(async () => {
      if (this.tables.get(collection, scope, id) !== undefined) {
        throw new PortcullisError('ALREADY_EXISTS', `${collection} ${id} already exists`)
      }
      await this.persistPut(collection, scope, id, stored, undefined)
    })
  }

  put<C extends Collection>(collection: C, scope: string, id: string, record: Records[C]): Promise<void> {
    const stored = copyIn(record)
    return this.write(async () => {
      await this.persistPut(collection, scope, id, stored, this.tables.get(collection, scope, id))
    })
  }

  update<C extends Collection>(
    collection: C, scope: string, id: string,
    mutate: (current: Records[C] | undefined) => Records[C] | undefined,
  ): Promise<Records[C] | undefined> {
    return this.write(async () => {
      const current = this.tables.get(collection, scope, id)
      const next = mutate(copyOut(current) as Records[C] | undefined)
      if (next === undefined) return copyOut(current) as Records[C] | undefined
      const stored = copyIn(next)
      await this.persistPut(collection, scope, id, stored, current)
      return copyOut(stored) as Records[C]
    })
  }

  take<C extends Collection>(collection: C, scope: string, id: string): Promise<Records[C] | undefined> {
    return this.write(async () => {
      const current = this.tables.get(collection, scope, id)
      if (current === undefined) return undefined
      const event = { collection, scope, id, op: 'delete', record: current } as ChangeEvent
      await this.persist({ op: 'del', c: collection, s: scope, id }, event)
      return copyOut(current) as Records[C]
    })
  }

  async delete(collection: Collection, scope: string, id: string): Promise<boolean> {
    return (await this.take(collection, scope, id)) !== undefined
  }

  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.ensureOpen()
    return this.locks.run(name, fn)
  }

  async claimNonce(nonce: string, ttlMs: number): Promise<boolean> {
    this.ensureOpen()
    return this.nonces.claim(nonce, ttlMs)
  }

  onChange(listener: (event: ChangeEvent) => void): () => void {
    return this.changes.add(listener)
  }

  async broadcast(topic: string, payload: Record<string, unknown>): Promise<void> {
    this.ensureOpen()
    this.broadcasts.emit({ topic, payload: copyIn(payload), origin: this.processId })
  }

  /** One process owns the data directory and sees every write: it is never lost, nothing is missed. */
  onConnectivity(_listener: (up: boolean) => void): () => void {
    return () => undefined
  }

  onBroadcast(listener: (message: BroadcastMessage) => void): () => void {
    return this.broadcasts.add(listener)
  }

  async ping(): Promise<boolean> {
    return this.state === 'open'
  }

  /** Lets queued writes finish, then closes the log. Idempotent. */
  close(): Promise<void> {
    this.closed ??= this.shutdown()
    return this.closed
  }

  private async shutdown(): Promise<void> {
    this.state = 'closing'
    await this.writes
    this.nonces.close()
    this.changes.clear()
    this.broadcasts.clear()
    try {
      await this.log.close()
    } finally {
      this.state = 'closed'
      openDirs.delete(this.dataDir)
    }
  }

  private ensureOpen(): void {
    if (this.state !== 'open') throw new PortcullisError('STORE_UNAVAILABLE', 'the store is closed')
  }

  /** Queues a write: one at a time, in call order, whatever the previous one's outcome. */
  private write<T>(fn: () => Promise<T>): Promise<T> {
    try {
      this.ensureOpen()
    } catch (err) {
      return Promise.reject(err)
    }
    const run = this.writes.then(fn)
    this.writes = run.catch(() => undefined)
    return run
  }

  private persistPut(collection: Collection, scope: string, id: string, record: unknown, previous: unknown): Promise<void> {
    const event = { collection, scope, id, op: 'put', record, ...(previous === undefined ? {} : { previous }) }
    return this.persist({ op: 'put', c: collection, s: scope, id, r: record }, event as ChangeEvent)
  }

  /** Log first (durable), then memory, then the event: the order the Store guarantees rest on. */
  private async persist(entry: LogEntry, event: ChangeEvent): Promise<void> {
    await this.log.append(entry)
    this.tables.apply(entry)
    this.changes.emit(event)
    await this.compactIfLarge()
  }

  private async compactIfLarge(): Promise<void> {
    const appended = this.log.appendedSinceRewrite
    if (appended < COMPACT_AFTER_APPENDS || appended < 2 * this.tables.size) return
    try {
      await this.log.rewrite(this.tables.snapshot())
    } catch (err) {
      // The old log is still complete and in use; compaction is retried after the next write.
      this.logger.warn({ err, dataDir: this.dataDir }, 'store log compaction failed')
    }
  }
}

/** Records enter as JSON would store them, so what a reader sees is what a restart replays. */
function copyIn<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T
}

function copyOut(value: unknown): unknown {
  return value === undefined ? undefined : structuredClone(value)
}
