import { AuthorizationService } from '../../src/authorization/authorization-service'
import { DecisionCounters } from '../../src/authorization/decision-counters'
import { DenialAudit, type DeniedSession } from '../../src/authorization/denial-audit'
import { EnforcedSession } from '../../src/authorization/enforced-session'
import type { ConnId } from '../../src/ids'
import { compilePolicies } from '../../src/policy/authorization/compile'
import type { CompiledPolicies, Principal } from '../../src/policy/authorization/types'
import type { SessionIdentity } from '../../src/proxy/session-registry'
import type { InstanceRecord } from '../../src/store/records'

/**
 * The real AuthorizationService over a world with no policies at all, for stage and runner tests
 * that assemble their deps by hand: instances without `authorization.mode: enforce` are not
 * decided (wave-1 behaviour), and an enforcing one denies everything (nothing allows).
 */
export function authorizationWithoutPolicies(instances: readonly InstanceRecord[] = []): AuthorizationService {
  const byId = new Map(instances.map((i) => [i.id, i]))
  const empty = compilePolicies([])
  return new AuthorizationService({
    policies: { compiledFor: () => empty, generation: 0, onChange: () => () => undefined },
    directory: { get: (id) => byId.get(id) },
    store: { get: async () => undefined, onChange: () => () => undefined },
    counters: new DecisionCounters(),
    denials: new DenialAudit(() => undefined),
  })
}

/** An EnforcedSession (src/authorization/enforced-session.ts) with the knobs its tests turn. */
export interface EnforcedSessionFixture {
  readonly az: EnforcedSession
  readonly counters: DecisionCounters
  /** Every denial handed to the audit, in order. */
  readonly denials: Array<{ action: string; resource: string }>
  /** The session's policies become `compiled`: the generation moves, as on a policy change. */
  use(compiled: CompiledPolicies): void
  /** The instance's mode switched on or off: the generation moves. */
  setEnforces(on: boolean): void
}

/** A session of `identity` decided by real compiled policies, starting with `compiled` and enforcing. */
export function enforcedSession(identity: SessionIdentity, principal: Principal, compiled: CompiledPolicies): EnforcedSessionFixture {
  let generation = 1
  let current = compiled
  let enforces = true
  const counters = new DecisionCounters()
  const denials: Array<{ action: string; resource: string }> = []
  const audit = { connId: 'c1' as ConnId, instanceId: identity.instanceId, protocol: identity.protocol } as DeniedSession
  const az = new EnforcedSession(identity, { principals: [principal], vars: {}, root: false }, audit, {
    policies: { compiledFor: () => current },
    counters,
    denials: { denied: (_s, action, resource) => { denials.push({ action, resource }) } },
    generation: () => generation,
    enforces: () => enforces,
    onChange: () => () => {},
  })
  return {
    az, counters, denials,
    use(next) { current = next; generation++ },
    setEnforces(on) { enforces = on; generation++ },
  }
}
