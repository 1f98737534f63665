/**
 * The audit sinks a config reload asks for (DESIGN §4: a reload applies "audit sinks"): a sink
 * whose spec did not change keeps running untouched (its file stays open, its queue keeps what it
 * holds); a new spec gets a new sink, which receives events from the reload on and continues the
 * process's hash chain; a removed one is flushed and closed. Nothing recorded is lost on the sinks
 * that stay.
 *
 * redis-stream sinks are what `GET /v1/audit` and the live tail read (audit/query.ts, built at
 * start), so adding, removing or changing one is refused with CONFIG_INVALID and the sinks stay as
 * they are: that change needs a restart.
 */
import { isDeepStrictEqual } from 'node:util'
import { PortcullisError } from '../errors'
import type { AuditLog } from './audit-log'
import { createAuditSink, type AuditSink, type AuditSinkSpec, type AuditSinksContext } from './sinks'

interface Entry {
  spec: AuditSinkSpec
  sink: AuditSink
}

export class AuditSinkSet {
  private entries: Entry[]

  constructor(specs: readonly AuditSinkSpec[], sinks: readonly AuditSink[], private readonly context: AuditSinksContext) {
    this.entries = specs.map((spec, i) => ({ spec, sink: sinks[i] as AuditSink }))
  }

  /** Swaps in the sinks for `specs`; answers what was added and removed (sink names). */
  async reconcile(audit: Pick<AuditLog, 'replaceSinks'>, specs: readonly AuditSinkSpec[]): Promise<{ added: string[]; removed: string[] }> {
    const streams = (list: readonly AuditSinkSpec[]): AuditSinkSpec[] => list.filter((s) => s.kind === 'redis-stream')
    if (!isDeepStrictEqual(streams(this.entries.map((e) => e.spec)), streams(specs))) {
      throw new PortcullisError('CONFIG_INVALID', 'audit.sinks: adding, removing or changing a redis-stream sink needs a restart (GET /v1/audit and the live tail read it)')
    }
    const unused = [...this.entries]
    const kept = specs.map((spec) => {
      const i = unused.findIndex((e) => isDeepStrictEqual(e.spec, spec))
      return i >= 0 ? unused.splice(i, 1)[0] : undefined
    })
    // Names stay unique for the error metric's `sink` label: `file`, `file#2`, … beside the kept ones.
    const taken = new Set(kept.flatMap((e) => (e === undefined ? [] : [e.sink.name])))
    const nameFor = (kind: string): string => {
      let name = kind
      for (let n = 2; taken.has(name); n++) name = `${kind}#${n}`
      taken.add(name)
      return name
    }
    const next: Entry[] = []
    const created: AuditSink[] = []
    try {
      for (const [i, spec] of specs.entries()) {
        const entry = kept[i]
        if (entry !== undefined) {
          next.push(entry)
          continue
        }
        const sink = await createAuditSink(spec, nameFor(spec.kind), this.context)
        created.push(sink)
        next.push({ spec, sink })
      }
    } catch (err) {
      await Promise.allSettled(created.map((sink) => sink.close()))
      throw new PortcullisError('CONFIG_INVALID', `audit.sinks: a new sink does not open: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    }
    await audit.replaceSinks(next.map((e) => e.sink))
    const removed = unused.map((e) => e.sink.name)
    this.entries = next
    return { added: created.map((s) => s.name), removed }
  }
}
