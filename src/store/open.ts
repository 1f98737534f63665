/**
 * Store factory: the composition root picks the implementation from config `store`
 * (DESIGN §3: `store{kind: embedded|redis, dataDir | url}`).
 */
import { EmbeddedStore } from './embedded'
import type { StoreLogger } from './listeners'
import { RedisStore } from './redis'
import type { Store } from './store'

export type StoreConfig =
  | { kind: 'embedded'; dataDir: string }
  | { kind: 'redis'; url: string; keyPrefix?: string }

/** Keys of every replica sharing one Redis start with this unless the config says otherwise. */
export const DEFAULT_REDIS_KEY_PREFIX = 'portcullis:'

export async function openStore(config: StoreConfig, processId?: string, logger?: StoreLogger): Promise<Store> {
  const common = { ...(processId === undefined ? {} : { processId }), ...(logger === undefined ? {} : { logger }) }
  if (config.kind === 'embedded') return EmbeddedStore.open({ dataDir: config.dataDir, ...common })
  return RedisStore.open({ url: config.url, keyPrefix: config.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX, ...common })
}

/**
 * Whether the store can write now (for `/readyz`): the embedded store may be read-only on a full or
 * read-only disk (src/store/embedded.ts); the Redis store reports its state through `ping` and
 * freshness instead.
 */
export function storeWriteState(store: Store): { writable: true } | { writable: false; cause: string } {
  return store instanceof EmbeddedStore ? store.writeState() : { writable: true }
}
