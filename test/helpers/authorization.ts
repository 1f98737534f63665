import { AuthorizationService } from '../../src/authorization/authorization-service'
import { DecisionCounters } from '../../src/authorization/decision-counters'
import { DenialAudit } from '../../src/authorization/denial-audit'
import { compilePolicies } from '../../src/policy/authorization/compile'
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
