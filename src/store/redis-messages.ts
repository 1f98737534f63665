/**
 * The pub/sub messages of the Redis store and the key names, in one place.
 *
 * Channel `<prefix>changes`: {origin, collection, scope, id, op, record, previous?} — published
 * by the write scripts (redis-scripts.ts). Channel `<prefix>broadcast`: a BroadcastMessage.
 * Messages come from any process sharing the prefix, so they are checked before use.
 * On a cluster the names carry a hash tag (see redisKeys).
 */
import { COLLECTIONS } from './records'
import type { Collection } from './records'
import type { BroadcastMessage, ChangeEvent } from './store'

/**
 * Key and channel names under `prefix`. With `hashTag` (Redis Cluster) every name starts with
 * `{prefix}`: Redis hashes only the text between the first braces (Cluster spec, "Hash tags"), so
 * all of one store's keys live in one slot, and a write script, which touches a record hash AND
 * its collection's scope set, is legal on a cluster (a script or MULTI may only touch keys of one
 * slot). Without a tag (standalone, Sentinel) names are exactly as before, so existing data stays
 * readable. `probe` is never written: a command routed by it reaches the node serving the slot.
 */
export function redisKeys(prefix: string, opts: { hashTag?: boolean } = {}) {
  // `{}` (or `{}…`) is no tag: Redis would hash each whole key, to slots of their own.
  if (opts.hashTag === true && (prefix === '' || prefix.startsWith('}'))) {
    throw new RangeError('a cluster store needs a non-empty keyPrefix that does not start with "}": it is the hash tag')
  }
  const base = opts.hashTag === true ? `{${prefix}}` : prefix
  return {
    records: (collection: Collection, scope: string) => `${base}rec:${collection}:${scope}`,
    scopes: (collection: Collection) => `${base}scopes:${collection}`,
    lock: (name: string) => `${base}lock:${name}`,
    nonce: (nonce: string) => `${base}nonce:${nonce}`,
    probe: `${base}probe`,
    changes: `${base}changes`,
    broadcast: `${base}broadcast`,
  }
}
export type RedisKeys = ReturnType<typeof redisKeys>

/** The start of a change message, left open for the script to append `record` (and `previous`). */
export function changeHead(origin: string, collection: Collection, scope: string, id: string, op: ChangeEvent['op']): string {
  return JSON.stringify({ origin, collection, scope, id, op }).slice(0, -1)
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

export function decodeChange(text: string): ChangeEvent | undefined {
  const m = parse(text)
  if (!isObject(m) || typeof m.scope !== 'string' || typeof m.id !== 'string') return undefined
  if (typeof m.collection !== 'string' || !(COLLECTIONS as readonly string[]).includes(m.collection)) return undefined
  if ((m.op !== 'put' && m.op !== 'delete') || !isObject(m.record)) return undefined
  const event = { collection: m.collection, scope: m.scope, id: m.id, op: m.op, record: m.record }
  return (isObject(m.previous) ? { ...event, previous: m.previous } : event) as unknown as ChangeEvent
}

export function decodeBroadcast(text: string): BroadcastMessage | undefined {
  const m = parse(text)
  if (!isObject(m) || typeof m.topic !== 'string' || typeof m.origin !== 'string' || !isObject(m.payload)) return undefined
  return { topic: m.topic, payload: m.payload, origin: m.origin }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}
