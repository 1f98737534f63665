/**
 * Store factory: the composition root picks the implementation from config `store`
 * (DESIGN §3: `store{kind: embedded|redis, dataDir | url}`; DESIGN §4 "Production": the Redis
 * store also on a Sentinel-monitored master or a Cluster).
 */
import { EmbeddedStore } from './embedded'
import type { StoreLogger } from './listeners'
import { RedisStore } from './redis'
import type { RedisTarget } from './redis-target'
import type { Store } from './store'

export type RedisStoreConfig = { kind: 'redis'; keyPrefix?: string } & RedisTarget

export type StoreConfig =
  | { kind: 'embedded'; dataDir: string }
  | RedisStoreConfig

/** Keys of every replica sharing one Redis start with this unless the config says otherwise. */
export const DEFAULT_REDIS_KEY_PREFIX = 'portcullis:'

export async function openStore(config: StoreConfig, processId?: string, logger?: StoreLogger): Promise<Store> {
  const common = { ...(processId === undefined ? {} : { processId }), ...(logger === undefined ? {} : { logger }) }
  if (config.kind === 'embedded') return EmbeddedStore.open({ dataDir: config.dataDir, ...common })
  return RedisStore.open({ ...redisTarget(config), keyPrefix: config.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX, ...common })
}

/** Only the target of a Redis store config (a config object may carry more keys, e.g. dataDir). */
export function redisTarget(config: RedisStoreConfig): RedisTarget {
  if ('sentinel' in config) return { sentinel: config.sentinel }
  if ('cluster' in config) return { cluster: config.cluster }
  return { url: config.url }
}

/**
 * Whether the store can write now (for `/readyz`): the embedded store may be read-only on a full or
 * read-only disk (src/store/embedded.ts); the Redis store reports its state through `ping` and
 * freshness instead.
 */
export function storeWriteState(store: Store): { writable: true } | { writable: false; cause: string } {
  return store instanceof EmbeddedStore ? store.writeState() : { writable: true }
}
