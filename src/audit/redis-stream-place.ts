/**
 * Where a redis-stream sink writes, and so where `GET /v1/audit` and its live tail read: one rule
 * for the sink and the readers, so that they always meet on the same key of the same Redis.
 *
 *   sink `url`          that server, key `key` or `portcullis:audit` (as before).
 *   store `url`         the store's server, key `key` or `portcullis:audit`: NOT under keyPrefix,
 *                       because readers of that key existed before keyPrefix was followed. Two
 *                       releases sharing one Redis set `key` (docs/audit.md, "Migrating the key").
 *   store `sentinel`    the master the sentinels name, key `key` or `<keyPrefix>audit`.
 *   store `cluster`     the cluster, key `key` or `{<keyPrefix>}audit`: under the store's hash tag,
 *                       so the stream lives in the store's own slot (src/store/redis-messages.ts)
 *                       and shares its fate: when that slot is down the store is down too. A
 *                       stream is one key, so any `key` works; it then lives in its own slot.
 *
 * A sink on a Sentinel or Cluster store was refused before, so following keyPrefix there breaks no
 * reader; with the default prefix `portcullis:` the Sentinel key is `portcullis:audit` anyway.
 */
import { PortcullisError } from '../errors'
import { DEFAULT_REDIS_KEY_PREFIX, redisTarget } from '../store/open'
import type { RedisTarget } from '../store/redis-target'
import { DEFAULT_AUDIT_STREAM_KEY } from './sinks/redis-stream'

/** config `store`, either kind (only a Redis store gives a stream without `url` a place). */
export type AuditStoreConfig =
  | { kind: 'embedded' }
  | ({ kind: 'redis'; keyPrefix?: string } & RedisTarget)

/** The part of a redis-stream sink spec that says where it writes. */
export interface StreamSpec {
  url?: string | undefined
  key?: string | undefined
}

export interface StreamPlace {
  target: RedisTarget
  key: string
}

/**
 * The stream a spec names: its own `url`, else the store's Redis (`store`, or `redisUrl` for
 * callers that only know a URL); undefined when it has neither. Throws CONFIG_INVALID for a
 * cluster store whose keyPrefix cannot be a hash tag (the store's schema refuses it first).
 */
export function streamPlace(spec: StreamSpec, store?: AuditStoreConfig, redisUrl?: string): StreamPlace | undefined {
  if (spec.url !== undefined) return { target: { url: spec.url }, key: spec.key ?? DEFAULT_AUDIT_STREAM_KEY }
  if (store?.kind === 'redis') {
    const target = redisTarget(store)
    return { target, key: spec.key ?? defaultStreamKey(target, store.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX) }
  }
  if (redisUrl !== undefined) return { target: { url: redisUrl }, key: spec.key ?? DEFAULT_AUDIT_STREAM_KEY }
  return undefined
}

/** The stream key when the sink names none (see the file comment). */
export function defaultStreamKey(target: RedisTarget, keyPrefix: string): string {
  if ('url' in target) return DEFAULT_AUDIT_STREAM_KEY
  if ('sentinel' in target) return `${keyPrefix}audit`
  // `{}` or `{}…` is no hash tag (Cluster spec, "Hash tags"): the same rule as the store's keys.
  if (keyPrefix === '' || keyPrefix.startsWith('}')) {
    throw new PortcullisError('CONFIG_INVALID', 'audit.sinks: a cluster store needs a non-empty keyPrefix that does not start with "}" (it is the hash tag of the audit stream too)')
  }
  return `{${keyPrefix}}audit`
}
