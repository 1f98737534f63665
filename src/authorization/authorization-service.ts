import { PortcullisError } from '../errors'
import type { Decision } from '../policy/authorization/types'
import type { InstanceDirectory } from '../proxy/instance-directory'
import type { SessionIdentity } from '../proxy/session-registry'
import { GLOBAL_SCOPE, type InstanceRecord } from '../store/records'
import type { ChangeEvent, Store } from '../store/store'
import type { DecisionCounters } from './decision-counters'
import type { DeniedSession, DenialAudit } from './denial-audit'
import { EnforcedSession } from './enforced-session'
import type { PolicyCache } from './policy-cache'
import type { SessionAuthorizer } from './session-authorizer'
import { ROOT_ACCOUNT, amqpVhostResource, mqttClientResource, mqttTopicResource, subjectOf } from './subject'
import { accountOfKey } from '../accounts/account-ids'

export interface AuthorizationServiceDeps {
  readonly policies: Pick<PolicyCache, 'compiledFor' | 'generation' | 'onChange'>
  readonly directory: Pick<InstanceDirectory, 'get'>
  readonly store: Pick<Store, 'get' | 'onChange'>
  readonly counters: Pick<DecisionCounters, 'tally'>
  readonly denials: Pick<DenialAudit, 'denied' | 'ended'>
}

/**
 * The data path's authorization (DESIGN §4 "Accounts and authorization"), for instances with
 * `authorization.mode: enforce`; for every other instance each method answers "not enforced" and
 * nothing is decided, counted or filtered — wave-1 behaviour exactly.
 *
 * - `connect`: `mqtt:Connect` on the presented clientId, `amqp:Connect` on the opened vhost, at
 *   admission and again on every re-check of a live session (session-rules.ts);
 * - `session`: the per-session authorizer the protocol filters ask on every PUBLISH, SUBSCRIBE,
 *   delivery and AMQP method (enforced-session.ts);
 * - `generation`: moves on every policy or attachment change and on every change of an instance's
 *   mode, so that authorizers recompile before their next decision and re-checks see the change.
 */
export class AuthorizationService {
  private modeChanges = 0
  private readonly accounts = new Map<string, string>()
  private readonly listeners = new Set<() => void>()
  private readonly unsubscribe: Array<() => void>

  constructor(private readonly deps: AuthorizationServiceDeps) {
    this.unsubscribe = [
      deps.store.onChange((event) => this.onStoreChange(event)),
      deps.policies.onChange(() => this.notify()),
    ]
  }

  get generation(): number {
    return this.deps.policies.generation + this.modeChanges
  }

  enforces(instanceId: string): boolean {
    return this.deps.directory.get(instanceId)?.authorization?.mode === 'enforce'
  }

  /**
   * The Connect decision for a client of an enforcing instance, or undefined when its instance
   * does not enforce. An AMQP session is decided once its vhost is known (`s.vhost`). `dryRun`:
   * not counted in the decision metrics.
   */
  connect(s: SessionIdentity, opts: { dryRun?: boolean } = {}): Decision | undefined {
    if (!this.enforces(s.instanceId)) return undefined
    const isMqtt = s.protocol === 'mqtt'
    const resource = isMqtt ? mqttClientResource(s.instanceId, s.clientId ?? '') : amqpVhostResource(s.instanceId, s.vhost ?? '')
    return this.decide(s, isMqtt ? 'mqtt:Connect' : 'amqp:Connect', resource, opts.dryRun === true)
  }

  /**
   * `mqtt:Publish` of an MQTT client's Will on `topic`, or undefined when its instance does not
   * enforce. The broker publishes a Will in the client's name when the session ends without a
   * DISCONNECT, past the session's filter: a Will on a topic the client may not publish to would be
   * a publish around the policy, so it is decided at admission, with the Connect.
   */
  will(s: SessionIdentity, topic: string): Decision | undefined {
    if (!this.enforces(s.instanceId)) return undefined
    return this.decide(s, 'mqtt:Publish', mqttTopicResource(s.instanceId, topic), false)
  }

  private decide(s: SessionIdentity, action: 'mqtt:Connect' | 'amqp:Connect' | 'mqtt:Publish', resource: string, dryRun: boolean): Decision {
    const subject = subjectOf(s)
    // A dry run (POST /v1/explain) decides the same way but is not a decision the metrics count.
    const tally = dryRun ? { allowed: 0, denied: 0 } : this.deps.counters.tally(s.protocol, action)
    if (subject.root) {
      tally.allowed++
      return { allowed: true, by: { policy: ROOT_ACCOUNT, statement: -1 } }
    }
    const decision = this.deps.policies.compiledFor(subject.principals).decide(action, resource, subject.vars)
    if (decision.allowed) tally.allowed++
    else tally.denied++
    return decision
  }

  /** The authorizer of a session about to be spliced, or undefined when its instance does not enforce. */
  session(s: SessionIdentity, audit: DeniedSession): SessionAuthorizer | undefined {
    if (!this.enforces(s.instanceId)) return undefined
    return new EnforcedSession(s, subjectOf(s), audit, {
      policies: this.deps.policies,
      counters: this.deps.counters,
      denials: this.deps.denials,
      generation: () => this.generation,
      enforces: () => this.enforces(s.instanceId),
      onChange: (listener) => this.onChange(listener),
    })
  }

  /** A session ended: its aggregated denials are recorded. */
  ended(connId: DeniedSession['connId']): void {
    this.deps.denials.ended(connId)
  }

  /** The account owning an AccessKey (DESIGN §4); `legacy` for a key stored before accounts existed. */
  async accountOf(accessKeyId: string): Promise<string> {
    const known = this.accounts.get(accessKeyId)
    if (known !== undefined) return known
    const record = await this.deps.store.get('accessKeys', GLOBAL_SCOPE, accessKeyId)
    if (record === undefined) throw new PortcullisError('NOT_FOUND', `AccessKey ${accessKeyId} no longer exists`)
    const accountId = accountOfKey(record)
    this.accounts.set(accessKeyId, accountId)
    return accountId
  }

  /** Called after every change that can alter a decision (policies, attachments, an instance's mode). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** After a store reconnect: nothing cached here may outlive what was missed. */
  dropCache(): void {
    this.accounts.clear()
    this.modeChanges++
    this.notify()
  }

  close(): void {
    for (const unsubscribe of this.unsubscribe) unsubscribe()
    this.listeners.clear()
  }

  private onStoreChange(event: ChangeEvent): void {
    if (event.collection === 'accessKeys') this.accounts.delete(event.id)
    if (event.collection === 'instances' && modeOf(event.record as InstanceRecord) !== modeOf(event.previous as InstanceRecord | undefined)) {
      this.modeChanges++
      // After the instance directory has applied the same notification (listeners run in order).
      queueMicrotask(() => this.notify())
    }
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener()
  }
}

function modeOf(record: InstanceRecord | undefined): string {
  return record?.authorization?.mode ?? 'off'
}
