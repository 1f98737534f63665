import type { Collection, Records } from './records'

/**
 * The one store interface. Two implementations (embedded: in-memory + fsync'd append log in
 * `dataDir`; redis: ioredis) pass the same contract suite (test/helpers/store-contract.ts).
 *
 * Records are addressed by (collection, scope, id). `scope` is an instance id for per-instance
 * records (CAs, devices, static accounts) and GLOBAL_SCOPE otherwise, so listing one instance's
 * devices never reads another's.
 *
 * Guarantees:
 * - a write has resolved only once it is durable (embedded: fsync'd; redis: acknowledged);
 * - every successful write emits exactly one ChangeEvent to every subscriber of every store
 *   instance sharing the same backing data (redis: across processes, via pub/sub);
 * - `update` is compare-and-set: the mutator sees the current record and its result is written
 *   only if nobody wrote in between (it is retried otherwise).
 */
export interface ChangeEvent<C extends Collection = Collection> {
  collection: C
  scope: string
  id: string
  op: 'put' | 'delete'
  /** The record after a put; the record as it was before a delete. */
  record: Records[C]
  /** The record before a put that replaced one. */
  previous?: Records[C]
}

/** A message between gateway processes that is not a record change (kicks, cache hints). */
export interface BroadcastMessage {
  topic: string
  payload: Record<string, unknown>
  /** Id of the process that sent it, so it can ignore its own. */
  origin: string
}

export interface Store {
  readonly kind: 'embedded' | 'redis'
  get<C extends Collection>(collection: C, scope: string, id: string): Promise<Records[C] | undefined>
  list<C extends Collection>(collection: C, scope: string): Promise<Records[C][]>
  /** Scopes that hold at least one record of the collection. */
  scopes(collection: Collection): Promise<string[]>
  count(collection: Collection, scope: string): Promise<number>
  /** Creates the record; PortcullisError ALREADY_EXISTS if the id is taken. */
  create<C extends Collection>(collection: C, scope: string, id: string, record: Records[C]): Promise<void>
  /** Creates or replaces. */
  put<C extends Collection>(collection: C, scope: string, id: string, record: Records[C]): Promise<void>
  /**
   * Compare-and-set. `mutate` gets the current record (undefined when absent) and returns the new
   * one, or undefined to write nothing. It may run more than once; keep it pure. Resolves to what
   * was written (or the current record when nothing was).
   */
  update<C extends Collection>(
    collection: C, scope: string, id: string,
    mutate: (current: Records[C] | undefined) => Records[C] | undefined,
  ): Promise<Records[C] | undefined>
  /** Deletes and returns the deleted record, atomically (a single-use token is `take`n once). */
  take<C extends Collection>(collection: C, scope: string, id: string): Promise<Records[C] | undefined>
  /** Deletes; true when something was deleted. */
  delete(collection: Collection, scope: string, id: string): Promise<boolean>
  /** Runs fn while holding a lock named `name`, shared by every process on this store. */
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T>
  /** True the first time a nonce is claimed within ttlMs; false on a replay. */
  claimNonce(nonce: string, ttlMs: number): Promise<boolean>
  /** Change notifications for all writes through any store instance on the same data. */
  onChange(listener: (event: ChangeEvent) => void): () => void
  broadcast(topic: string, payload: Record<string, unknown>): Promise<void>
  onBroadcast(listener: (message: BroadcastMessage) => void): () => void
  /**
   * Whether this store instance can read, write and hear changes. `false` as soon as either the
   * command connection or the change subscription is lost; `true` only once both are back (commands
   * answer and the subscription is in place), so a listener may read the store at once. Called on
   * each change only (never twice the same value in a row), never before open() resolved; after a
   * `false`, change notifications may have been missed and whoever caches records must re-read
   * (resync-loop.ts). The embedded store never calls it: one process sees every write.
   */
  onConnectivity(listener: (up: boolean) => void): () => void
  /** True when the backing store answers. */
  ping(): Promise<boolean>
  close(): Promise<void>
}
