/**
 * Lua scripts of the Redis store. Each write and its change notification run as ONE script, so
 * Redis applies them atomically: a write is never seen without its event, nor an event without
 * its write (Store guarantee: every successful write emits exactly one ChangeEvent).
 *
 * Keys: KEYS[1] = the (collection, scope) hash `…rec:<collection>:<scope>`, field id → JSON;
 *       KEYS[2] = the set `…scopes:<collection>` of scopes holding at least one record.
 * The change message is built by concatenation: the caller sends its head (a JSON object without
 * the closing brace) and the script appends the stored JSON as `record` / `previous`, so a
 * record is never parsed inside Redis.
 * On a cluster both keys carry the store's hash tag (redis-messages.ts), so they share a slot, as
 * a script requires; the channel is an argument, not a key (classic pub/sub has no slot).
 */
import { createHash } from 'node:crypto'
import type { ChainableCommander } from 'ioredis'
import type { RedisClient } from './redis-connections'

export class LuaScript {
  private readonly sha: string

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex')
  }

  /** EVALSHA, falling back to EVAL when the server has not cached the script yet. */
  async run(client: RedisClient, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args)
    } catch (err) {
      if (!isNoScript(err)) throw err
      return client.eval(this.source, keys.length, ...keys, ...args)
    }
  }

  /**
   * Runs the script through `exec` (a pipeline builder: ReplicaQuorum.exec adds its WAIT), by
   * EVALSHA first and by EVAL when the server does not have it cached (a new or promoted server).
   */
  async runIn(exec: (queue: (pipeline: ChainableCommander) => void) => Promise<unknown>, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await exec((pipeline) => { pipeline.evalsha(this.sha, keys.length, ...keys, ...args) })
    } catch (err) {
      if (!isNoScript(err)) throw err
      return exec((pipeline) => { pipeline.eval(this.source, keys.length, ...keys, ...args) })
    }
  }
}

/** A Redis error reply is identified by its leading code word (RESP "simple error"). */
function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT')
}

/** ARGV: id, scope, json, channel, message head. Returns 1, or 0 when the id is taken. */
export const CREATE = new LuaScript(`
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[3]) == 0 then return 0 end
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('PUBLISH', ARGV[4], ARGV[5] .. ',"record":' .. ARGV[3] .. '}')
return 1
`)

/** ARGV: id, scope, json, channel, message head. Creates or replaces; returns 1. */
export const PUT = new LuaScript(`
local previous = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[2])
local message = ARGV[5] .. ',"record":' .. ARGV[3]
if previous then message = message .. ',"previous":' .. previous end
redis.call('PUBLISH', ARGV[4], message .. '}')
return 1
`)

/**
 * Compare-and-set. ARGV: id, scope, json, channel, message head, expected JSON, '1' when a record
 * was expected ('0' when it was absent). Returns 1 when written, 0 when the record changed.
 */
export const COMPARE_AND_SET = new LuaScript(`
local current = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[7] == '1' then
  if current ~= ARGV[6] then return 0 end
elseif current then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[2])
local message = ARGV[5] .. ',"record":' .. ARGV[3]
if current then message = message .. ',"previous":' .. current end
redis.call('PUBLISH', ARGV[4], message .. '}')
return 1
`)

/** ARGV: id, scope, channel, message head. Deletes and returns the JSON, or nil when absent. */
export const TAKE = new LuaScript(`
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
redis.call('PUBLISH', ARGV[3], ARGV[4] .. ',"record":' .. current .. '}')
return current
`)

/** KEYS[1] = lock key; ARGV: token. Deletes the lock only if this holder still owns it. */
export const RELEASE_LOCK = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

/** KEYS[1] = lock key; ARGV: token, ttl ms. Extends the lock only if this holder still owns it. */
export const RENEW_LOCK = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)
