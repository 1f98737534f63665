import { assertNever, PortcullisError } from '../../errors'
import { streamPlace, type AuditStoreConfig } from '../redis-stream-place'
import { FileSink } from './file'
import { RedisStreamSink } from './redis-stream'
import type { AuditSink } from './sink'
import { StdoutSink } from './stdout'

export { FileSink } from './file'
export { RedisStreamSink, DEFAULT_AUDIT_STREAM_KEY, DEFAULT_AUDIT_STREAM_MAXLEN } from './redis-stream'
export { StdoutSink } from './stdout'
export { PartialWriteError, type AuditSink } from './sink'

/** One entry of config `audit.sinks[]` (DESIGN §3 "Config"). */
export type AuditSinkSpec =
  | { kind: 'stdout' }
  | { kind: 'file'; path: string }
  | { kind: 'redis-stream'; key?: string | undefined; maxLen?: number | undefined; url?: string | undefined }

/** Where a redis-stream sink without its own `url` writes: the store's Redis. */
export interface AuditSinksContext {
  /** config `store`: a Redis store of any topology (url, sentinel, cluster) gives the stream a place. */
  store?: AuditStoreConfig | undefined
  /** Or only a Redis URL (embedding, tests). */
  redisUrl?: string | undefined
}

/**
 * Builds the configured sinks. A redis-stream sink uses its own `url`, else the store's Redis on
 * whatever topology it runs (redis-stream-place.ts says which key). Sink names are `kind`,
 * suffixed `#n` from the second sink of a kind on, so that the error metric's `sink` label stays
 * unique and bounded by the configuration.
 */
export async function createAuditSinks(
  specs: readonly AuditSinkSpec[],
  opts: AuditSinksContext = {},
): Promise<AuditSink[]> {
  const seen = new Map<string, number>()
  const nameFor = (kind: string): string => {
    const n = (seen.get(kind) ?? 0) + 1
    seen.set(kind, n)
    return n === 1 ? kind : `${kind}#${n}`
  }
  const sinks: AuditSink[] = []
  try {
    for (const spec of specs) sinks.push(await createSink(spec, nameFor(spec.kind), opts))
  } catch (err) {
    await Promise.allSettled(sinks.map((sink) => sink.close()))
    throw err
  }
  return sinks
}

/** One sink under a name the caller chose (a reload adds sinks beside running ones: audit/sink-set.ts). */
export function createAuditSink(spec: AuditSinkSpec, name: string, context: AuditSinksContext = {}): Promise<AuditSink> {
  return createSink(spec, name, context)
}

async function createSink(spec: AuditSinkSpec, name: string, context: AuditSinksContext): Promise<AuditSink> {
  switch (spec.kind) {
    case 'stdout':
      return new StdoutSink({ name })
    case 'file':
      return FileSink.open(spec.path, { name }).catch((err: unknown) => {
        throw new PortcullisError('CONFIG_INVALID', `audit.sinks: cannot open ${spec.path}: ${(err as Error).message}`, {
          cause: err,
        })
      })
    case 'redis-stream': {
      const place = streamPlace(spec, context.store, context.redisUrl)
      if (place === undefined) {
        throw new PortcullisError('CONFIG_INVALID', 'audit.sinks: a redis-stream sink needs a url or a redis store')
      }
      return new RedisStreamSink({
        target: place.target, key: place.key, name,
        ...(spec.maxLen !== undefined ? { maxLen: spec.maxLen } : {}),
      })
    }
    default:
      return assertNever(spec, 'audit sink kind')
  }
}
