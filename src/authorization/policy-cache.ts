import { compilePolicies } from '../policy/authorization/compile'
import { policyDocumentFromRecord } from '../policy/authorization/document'
import type { CompiledPolicies, PolicyDocument, Principal } from '../policy/authorization/types'
import { GLOBAL_SCOPE, type PolicyAttachmentRecord, type PolicyRecord } from '../store/records'
import type { ChangeEvent, Store } from '../store/store'

/** Distinct policy sets compiled at once; past it the cache starts again (sets are few in practice). */
const MAX_COMPILED_SETS = 10_000

/**
 * The data path's copy of every policy and attachment (DESIGN §4), read synchronously by every
 * decision. As the blacklist cache does, it applies each change notification (from any replica)
 * in memory at once, without a store read, so that a policy edit reaches live sessions within
 * the notification's delivery; `reload` re-reads everything after notifications may have been
 * missed (a store reconnect) and rejects when the store does not answer, so its caller retries.
 *
 * `generation` moves on every change that can alter a decision; a session's authorizer compares
 * it (one integer) before each decision and recompiles only when it moved. Compiled sets are
 * shared: every device of one instance and CA with no policy of its own has the same set.
 */
export class PolicyCache {
  private readonly policies = new Map<string, PolicyDocument>()
  /** principal → names of the policies attached to it. */
  private readonly attached = new Map<string, Set<string>>()
  private readonly compiled = new Map<string, CompiledPolicies>()
  private changes = 0
  private duringReload: ChangeEvent[] | undefined
  private readonly listeners = new Set<() => void>()
  private readonly unsubscribe: () => void

  private constructor(private readonly store: Pick<Store, 'list' | 'scopes' | 'onChange'>) {
    this.unsubscribe = store.onChange((event) => this.apply(event))
  }

  /** Subscribes before the first read, so that a change racing it is not lost. */
  static async load(store: Pick<Store, 'list' | 'scopes' | 'onChange'>): Promise<PolicyCache> {
    const cache = new PolicyCache(store)
    await cache.reload()
    return cache
  }

  get generation(): number {
    return this.changes
  }

  /** The compiled decisions of every policy attached to any of `principals`. */
  compiledFor(principals: readonly Principal[]): CompiledPolicies {
    const names = new Set<string>()
    for (const principal of principals) for (const name of this.attached.get(principal) ?? []) names.add(name)
    const key = [...names].sort().join('\n')
    const cached = this.compiled.get(key)
    if (cached !== undefined) return cached
    const documents: PolicyDocument[] = []
    for (const name of key === '' ? [] : key.split('\n')) {
      const document = this.policies.get(name)
      if (document !== undefined) documents.push(document)
    }
    const compiled = compilePolicies(documents)
    if (this.compiled.size >= MAX_COMPILED_SETS) this.compiled.clear()
    this.compiled.set(key, compiled)
    return compiled
  }

  /** Called (synchronously, after the cache changed) on every policy or attachment change. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  async reload(): Promise<void> {
    const seen: ChangeEvent[] = []
    this.duringReload = seen
    try {
      const policies = await this.store.list('policies', GLOBAL_SCOPE)
      const scopes = await this.store.scopes('policyAttachments')
      const attachments = (await Promise.all(scopes.map((scope) => this.store.list('policyAttachments', scope)))).flat()
      this.policies.clear()
      this.attached.clear()
      for (const record of policies) this.putPolicy(record)
      for (const record of attachments) this.attach(record)
      for (const event of seen) this.write(event)
      this.changed()
    } finally {
      if (this.duringReload === seen) this.duringReload = undefined
    }
  }

  close(): void {
    this.unsubscribe()
    this.listeners.clear()
  }

  private apply(event: ChangeEvent): void {
    if (event.collection !== 'policies' && event.collection !== 'policyAttachments') return
    this.duringReload?.push(event)
    this.write(event)
    this.changed()
  }

  private write(event: ChangeEvent): void {
    if (event.collection === 'policies') {
      if (event.op === 'put') this.putPolicy(event.record as PolicyRecord)
      else this.policies.delete(event.id)
    } else if (event.collection === 'policyAttachments') {
      const record = event.record as PolicyAttachmentRecord
      if (event.op === 'put') this.attach(record)
      else this.attached.get(record.principal)?.delete(record.policy)
    }
  }

  private putPolicy(record: PolicyRecord): void {
    this.policies.set(record.name, policyDocumentFromRecord(record))
  }

  private attach(record: PolicyAttachmentRecord): void {
    let names = this.attached.get(record.principal)
    if (names === undefined) this.attached.set(record.principal, (names = new Set()))
    names.add(record.policy)
  }

  private changed(): void {
    this.changes++
    this.compiled.clear()
    for (const listener of [...this.listeners]) listener()
  }
}
