/**
 * The pub/sub messages of the Redis store and the key names, in one place.
 *
 * Channel `<prefix>changes`: {origin, collection, scope, id, op, record, previous?} — published
 * by the write scripts (redis-scripts.ts). Channel `<prefix>broadcast`: a BroadcastMessage.
 * Messages come from any process sharing the prefix, so they are checked before use.
 */
import { COLLECTIONS } from './records'
import type { Collection } from './records'
import type { BroadcastMessage, ChangeEvent } from './store'

export function redisKeys(prefix: string) {
  return {
    records: (collection: Collection, scope: string) => `${prefix}rec:${collection}:${scope}`,
    scopes: (collection: Collection) => `${prefix}scopes:${collection}`,
    lock: (name: string) => `${prefix}lock:${name}`,
    nonce: (nonce: string) => `${prefix}nonce:${nonce}`,
    changes: `${prefix}changes`,
    broadcast: `${prefix}broadcast`,
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
