import type { PipelineDeps } from '../../src/proxy/deps'
import { SessionRegistry } from '../../src/proxy/session-registry'
import { TickBudget } from '../../src/proxy/pump'
import { AuditLog } from '../../src/audit/audit-log'
import { Metrics } from '../../src/observability/metrics'
import { createLogger } from '../../src/observability/logger'
import { BlacklistIndex } from '../../src/policy/blacklist'
import { StoreFreshness } from '../../src/store/freshness'
import { AddressSet, NetworkMap } from '../../src/tunnel/cidr'
import type { InstanceRecord } from '../../src/store/records'
import { authorizationWithoutPolicies } from './authorization'

/**
 * The real data-path parts a runner test needs (session registry, audit log, metrics, freshness,
 * an empty blacklist and PROXY trust), with these instances and limits; rules that always pass
 * unless `over` says otherwise. For tests that drive `runConnection` without a whole gateway.
 */
export function pipelineDeps(o: {
  instances: readonly InstanceRecord[]
  limits: Record<string, number>
  processId: string
  maxStaleMs: number
  /** SNI lookup; default: none matches. */
  findByHostname?: (name: string) => InstanceRecord | undefined
}, over: Partial<PipelineDeps> = {}): PipelineDeps {
  const byId = new Map(o.instances.map((i) => [i.id, i]))
  return {
    config: { limits: o.limits },
    processId: o.processId,
    directory: { get: (id: string) => byId.get(id), all: () => o.instances, findByHostname: o.findByHostname ?? (() => undefined) },
    blacklist: { current: () => BlacklistIndex.EMPTY },
    networks: new NetworkMap([]),
    proxyTrust: () => AddressSet.parse([]),
    freshness: new StoreFreshness({ maxStaleMs: o.maxStaleMs }),
    recheck: { generation: 0, rules: { evaluate: async () => undefined }, started: () => undefined, ended: () => undefined },
    sessions: new SessionRegistry(),
    upstreamBudget: new TickBudget(65536),
    audit: new AuditLog({ sinks: [] }),
    metrics: new Metrics(),
    logger: createLogger({ level: 'silent' }),
    authorization: authorizationWithoutPolicies(o.instances),
    ...over,
  } as unknown as PipelineDeps
}
