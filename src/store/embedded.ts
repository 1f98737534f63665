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
 *
 * One process per data directory (DESIGN §4): an exclusive lock (dir-lock.ts) is taken before the
 * log is read, and a second process is refused STORE_LOCKED naming the holder's pid.
 *
 * A disk that cannot take writes (full, read-only, quota) does not stop the store from starting:
 * when the start-up compaction cannot be written, the store opens read-only — reads are served from
 * the replayed log, writes are refused STORE_READ_ONLY — and `writeState()` says so, for `/readyz`.
 * The same holds once an append fails while running. Recovery is a compaction: tried before a
 * write (at most once a second) and every `recoverEveryMs` in the background; once it succeeds the
 * store is writable again. The log on disk is the last complete one throughout.
 */
import { randomUUID } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { resolve } from 'node:path'
import { PortcullisError } from '../errors'
import { AppendLog, isCannotWrite, type LogWriteState } from './append-log'
import { acquireDirLock, type DirLock } from './dir-lock'
import { ListenerSet, silentLogger } from './listeners'
import type { StoreLogger } from './listeners'
import { MemoryTables, toLogEntry } from './memory-tables'
import type { LogEntry } from './memory-tables'
import { KeyedMutex } from './mutex'
import { NonceLog } from './nonce-cache'
import type { Collection, Records } from './records'
import type { BroadcastMessage, ChangeEvent, Store } from './store'

const LOG_FILE = 'store.log'
/** Compact while running once the log has this many lines past the snapshot (and 2× the records). */
const COMPACT_AFTER_APPENDS = 10_000
/** A write on a read-only store tries to recover at most this often. */
const RECOVER_ON_WRITE_MS = 1000

/** Data directories open in this process: a second writer on one log would corrupt it. */
const openDirs = new Set<string>()

export interface EmbeddedStoreOptions {
  dataDir: string
  processId?: string
  logger?: StoreLogger
  /** How often a read-only store tries to become writable in the background (ms, default 5000). */
  recoverEveryMs?: number
}

export class EmbeddedStore implements Store {
  readonly kind = 'embedded' as const
  private state: 'open' | 'closing' | 'closed' = 'open'
  private closed: Promise<void> | undefined
  private writes: Promise<unknown> = Promise.resolve()
  private readonly changes: ListenerSet<ChangeEvent>
  private readonly broadcasts: ListenerSet<BroadcastMessage>
  private readonly locks = new KeyedMutex()
  /** Admin nonces, durable in `<dataDir>/nonces.log` (nonce-cache.ts); opened at the first claim. */
  private nonces: Promise<NonceLog> | undefined
  private readonly recoverTimer: NodeJS.Timeout
  private lastRecovery = 0

  private constructor(
    private readonly tables: MemoryTables,
    private readonly log: AppendLog,
    private readonly dataDir: string,
    private readonly processId: string,
    private readonly logger: StoreLogger,
    private lock: DirLock | undefined,
    recoverEveryMs: number,
  ) {
    this.changes = new ListenerSet('change', logger)
    this.broadcasts = new ListenerSet('broadcast', logger)
    this.recoverTimer = setInterval(() => {
      if (this.state !== 'open' || this.log.writeState().writable) return
      this.writes = this.writes.then(() => this.recover()).catch(() => undefined)
    }, recoverEveryMs)
    this.recoverTimer.unref()
  }

  static async open(opts: EmbeddedStoreOptions): Promise<EmbeddedStore> {
    const dataDir = resolve(opts.dataDir)
    const logger = opts.logger ?? silentLogger
    if (openDirs.has(dataDir)) {
      throw new PortcullisError('STORE_UNAVAILABLE', `the data directory ${dataDir} is already open in this process`)
    }
    openDirs.add(dataDir)
    let lock: DirLock | undefined
    try {
      // 0700: the log holds sealed secrets and account data; only the gateway's user reads it.
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      lock = await lockUnlessReadOnlyDisk(dataDir, logger)
      const { values, tornTail } = await AppendLog.read(dataDir, LOG_FILE)
      if (tornTail) logger.warn({ dataDir }, 'ignored a torn last line in the store log (a write interrupted by a crash)')
      const tables = new MemoryTables()
      values.forEach((value, index) => tables.apply(toLogEntry(value, index)))
      const log = lock === undefined
        ? AppendLog.readOnly(dataDir, LOG_FILE, 'the data directory is on a read-only filesystem')
        : await openLog(dataDir, tables, logger)
      const recoverEveryMs = opts.recoverEveryMs ?? 5000
      return new EmbeddedStore(tables, log, dataDir, opts.processId ?? randomUUID(), logger, lock, recoverEveryMs)
    } catch (err) {
      await lock?.release().catch(() => undefined)
      openDirs.delete(dataDir)
      throw err
    }
  }

  /** Whether writes can be made now; a read-only store serves reads (see the class comment). */
  writeState(): LogWriteState {
    return this.log.writeState()
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
    if (this.nonces === undefined) {
      const opening = NonceLog.open(this.dataDir)
      this.nonces = opening
      // A failed open is retried by the next claim rather than remembered.
      opening.catch(() => { if (this.nonces === opening) this.nonces = undefined })
    }
    try {
      return await (await this.nonces).claim(nonce, ttlMs)
    } catch (err) {
      // Still refused (an unrecorded nonce could be replayed), but named for what it is: a disk
      // that cannot take writes, the same code every other write and /readyz answer then.
      if (cannotWriteCause(err)) throw new PortcullisError('STORE_READ_ONLY', 'the request nonce cannot be recorded: the store is read-only', { cause: err })
      throw err
    }
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
    clearInterval(this.recoverTimer)
    await this.writes
    await (await this.nonces?.catch(() => undefined))?.close().catch(() => undefined)
    this.changes.clear()
    this.broadcasts.clear()
    try {
      await this.log.close()
    } finally {
      await this.lock?.release().catch(() => undefined)
      this.state = 'closed'
      openDirs.delete(this.dataDir)
    }
  }

  /** Compacts to make a read-only log writable again (taking the lock first if it has none). */
  private async recover(): Promise<void> {
    this.lastRecovery = Date.now()
    try {
      this.lock ??= await acquireDirLock(this.dataDir)
      await this.log.rewrite(this.tables.snapshot())
      this.logger.warn({ dataDir: this.dataDir }, 'the store can write again')
    } catch {
      // Still read-only (or another process took the lock meanwhile): writes keep being refused.
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
    const run = this.writes.then(async () => {
      if (!this.log.writeState().writable && Date.now() - this.lastRecovery >= RECOVER_ON_WRITE_MS) await this.recover()
      return fn()
    })
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

/** True when `err` or one of its causes is a disk that cannot take writes (full, read-only). */
function cannotWriteCause(err: unknown): boolean {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (isCannotWrite(e) || (e as { code?: unknown }).code === 'STORE_READ_ONLY') return true
  }
  return false
}

/** The lock, or none when the disk is read-only (then nobody can write the log, and we start read-only). */
async function lockUnlessReadOnlyDisk(dataDir: string, logger: StoreLogger): Promise<DirLock | undefined> {
  try {
    return await acquireDirLock(dataDir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EROFS') throw err
    logger.warn({ dataDir }, 'the data directory is read-only: the store serves reads only')
    return undefined
  }
}

/** Compacts and opens the log, or opens it read-only when the disk cannot take the compaction. */
async function openLog(dataDir: string, tables: MemoryTables, logger: StoreLogger): Promise<AppendLog> {
  try {
    return await AppendLog.create(dataDir, LOG_FILE, tables.snapshot())
  } catch (err) {
    if (!isCannotWrite(err)) throw err
    const code = String((err as NodeJS.ErrnoException).code)
    logger.warn({ dataDir, code }, 'the store log cannot be compacted at start: the store serves reads only until it can write')
    return AppendLog.readOnly(dataDir, LOG_FILE, `the start-up compaction failed (${code})`)
  }
}
