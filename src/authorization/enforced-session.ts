import type { AmqpAction, CompiledPolicies, MqttTopicAction, TopicDecider } from '../policy/authorization/types'
import type { SessionIdentity } from '../proxy/session-registry'
import type { DecisionCounters, DecisionTally } from './decision-counters'
import type { DeniedSession, DenialAudit } from './denial-audit'
import type { PolicyCache } from './policy-cache'
import type { SessionAuthorizer } from './session-authorizer'
import { amqpResource, mqttTopicResource, type AuthorizationSubject } from './subject'

/** AMQP verdicts remembered per action and kind (see `amqpVerdicts`). */
const MAX_REMEMBERED_NAMES = 256

export interface EnforcedSessionDeps {
  readonly policies: Pick<PolicyCache, 'compiledFor'>
  readonly counters: Pick<DecisionCounters, 'tally'>
  readonly denials: Pick<DenialAudit, 'denied'>
  /** AuthorizationService.generation: moves on every change that can alter a decision. */
  generation(): number
  /** Whether the session's instance still enforces (an operator may switch it off live). */
  enforces(): boolean
  onChange(listener: () => void): () => void
}

/**
 * One live session's authorizer (SessionAuthorizer), asked by its protocol filters. The hot path
 * is `mqttTopic`: one integer compare (has anything changed?), a compare with the last topic
 * allowed or else one trie walk of the compiled policies (src/policy/authorization/compile.ts),
 * and one increment; nothing is allocated unless the answer is a denial, which is audited
 * (aggregated) and so builds the resource string.
 *
 * What the session is decided on is re-read whenever the generation moved, so that a policy or
 * attachment change, or the instance's mode switched off, applies to the very next decision.
 */
export class EnforcedSession implements SessionAuthorizer {
  private seen = -1
  private allowAll = false
  private compiled: CompiledPolicies | undefined
  private publish: TopicDecider | undefined
  private subscribe: TopicDecider | undefined
  private receive: TopicDecider | undefined
  private readonly tallies: { readonly [A in MqttTopicAction]: DecisionTally }
  private readonly amqpTallies = new Map<AmqpAction, DecisionTally>()
  /**
   * AMQP verdicts of this generation by action, kind and name: a client publishes to a handful of
   * exchanges thousands of times, and a decision on a generic resource costs several times the
   * map lookup (docs/benchmarks.md "Authorization"). Cleared whenever the generation moves.
   */
  private readonly amqpVerdicts = new Map<AmqpAction, { readonly exchange: Map<string, boolean>; readonly queue: Map<string, boolean> }>()
  /**
   * The last name allowed, in front of those maps: a publisher asks about one exchange message
   * after message, and its filter hands over the same string each time (method-args.ts), so the
   * answer is three identity compares. Of this generation only: refresh() forgets it.
   */
  private lastAction: AmqpAction | undefined
  private lastKind: 'exchange' | 'queue' = 'exchange'
  private lastName = ''
  private lastTally: DecisionTally | undefined
  /**
   * The last topic allowed per MQTT action, in front of the trie: a publisher sends to one topic
   * message after message and a subscriber receives from a few, and comparing a short topic with
   * the last one costs a few nanoseconds where the trie walk over 50 statements costs 130–230
   * (bench/policy-decision.ts). Denials are not remembered (each is audited). Of this generation
   * only: refresh() forgets them.
   */
  private lastPublish: string | undefined
  private lastReceive: string | undefined
  private lastSubscribe: string | undefined

  constructor(
    private readonly identity: SessionIdentity,
    private readonly subject: AuthorizationSubject,
    private readonly audit: DeniedSession,
    private readonly deps: EnforcedSessionDeps,
  ) {
    const protocol = identity.protocol
    this.tallies = {
      'mqtt:Publish': deps.counters.tally(protocol, 'mqtt:Publish'),
      'mqtt:Subscribe': deps.counters.tally(protocol, 'mqtt:Subscribe'),
      'mqtt:Receive': deps.counters.tally(protocol, 'mqtt:Receive'),
    }
  }

  mqttTopic(action: MqttTopicAction, topic: string): boolean {
    if (this.seen !== this.deps.generation()) this.refresh()
    const tally = this.tallies[action]
    if (this.allowAll) {
      tally.allowed++
      return true
    }
    const last = action === 'mqtt:Publish' ? this.lastPublish : action === 'mqtt:Receive' ? this.lastReceive : this.lastSubscribe
    if (topic === last) {
      tally.allowed++
      return true
    }
    const decider = action === 'mqtt:Publish' ? this.publish : action === 'mqtt:Receive' ? this.receive : this.subscribe
    if ((decider as TopicDecider).allows(topic, this.subject.vars)) {
      tally.allowed++
      if (action === 'mqtt:Publish') this.lastPublish = topic
      else if (action === 'mqtt:Receive') this.lastReceive = topic
      else this.lastSubscribe = topic
      return true
    }
    tally.denied++
    this.deps.denials.denied(this.audit, action, mqttTopicResource(this.identity.instanceId, topic))
    return false
  }

  amqp(action: Exclude<AmqpAction, 'amqp:Connect'>, kind: 'exchange' | 'queue', name: string): boolean {
    if (this.seen !== this.deps.generation()) this.refresh()
    if (action === this.lastAction && name === this.lastName && kind === this.lastKind) {
      (this.lastTally as DecisionTally).allowed++
      return true
    }
    let tally = this.amqpTallies.get(action)
    if (tally === undefined) this.amqpTallies.set(action, (tally = this.deps.counters.tally(this.identity.protocol, action)))
    if (this.allowAll) {
      tally.allowed++
      return true
    }
    let byKind = this.amqpVerdicts.get(action)
    if (byKind === undefined) this.amqpVerdicts.set(action, (byKind = { exchange: new Map(), queue: new Map() }))
    const verdicts = byKind[kind]
    let allowed = verdicts.get(name)
    if (allowed === undefined) {
      const resource = amqpResource(this.identity.instanceId, this.identity.vhost ?? '', kind, name)
      allowed = (this.compiled as CompiledPolicies).decide(action, resource, this.subject.vars).allowed
      // Names are the client's: bounded, so that a client naming a new queue each time cannot grow it.
      if (verdicts.size >= MAX_REMEMBERED_NAMES) verdicts.clear()
      verdicts.set(name, allowed)
    }
    if (allowed) {
      tally.allowed++
      this.lastAction = action
      this.lastKind = kind
      this.lastName = name
      this.lastTally = tally
      return true
    }
    tally.denied++
    this.deps.denials.denied(this.audit, action, amqpResource(this.identity.instanceId, this.identity.vhost ?? '', kind, name))
    return false
  }

  onChange(listener: () => void): () => void {
    return this.deps.onChange(listener)
  }

  private refresh(): void {
    this.seen = this.deps.generation()
    this.amqpVerdicts.clear()
    this.lastAction = undefined
    this.lastPublish = undefined
    this.lastReceive = undefined
    this.lastSubscribe = undefined
    this.allowAll = this.subject.root || !this.deps.enforces()
    if (this.allowAll) return
    const compiled = this.deps.policies.compiledFor(this.subject.principals)
    this.compiled = compiled
    const instanceId = this.identity.instanceId
    if (this.identity.protocol === 'mqtt') {
      this.publish = compiled.topics('mqtt:Publish', instanceId)
      this.subscribe = compiled.topics('mqtt:Subscribe', instanceId)
      this.receive = compiled.topics('mqtt:Receive', instanceId)
    }
  }
}
