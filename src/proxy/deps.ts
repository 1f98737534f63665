import type { Logger } from 'pino'
import type { Config } from '../config/schema'
import type { DeviceRegistry } from '../ca/device-registry'
import type { DeviceCache } from './device-cache'
import type { AmqpAuthenticator } from '../auth/authenticate'
import type { AuditLog } from '../audit/audit-log'
import type { Metrics } from '../observability/metrics'
import type { InstanceDirectory } from './instance-directory'
import type { TlsContexts } from './tls-contexts'
import type { TrustIndexCache } from './trust-cache'
import type { ChainVerdictSharing } from './chain-verdict-sharing'
import type { SessionRegistry } from './session-registry'
import type { SessionRecheck } from './session-recheck'
import type { TickBudget } from './pump'
import type { BlacklistCache } from './blacklist-cache'
import type { AddressSet, NetworkMap } from '../tunnel/cidr'
import type { EmbeddedBrokers } from '../backends/embedded-brokers'
import type { StoreFreshness } from '../store/freshness'
import type { ConnectionLimits } from './limits/source-limits'
import type { AuthorizationService } from '../authorization/authorization-service'
import type { WarmUpstreams } from './stages/upstream'

/**
 * Everything the data path may use, built once by the composition root (gateway.ts). No stage
 * takes all of it: each stage's signature names the members it reads (`Pick<PipelineDeps, …>`),
 * so what a stage depends on is visible where it is declared.
 */
export interface PipelineDeps {
  readonly config: Config
  readonly processId: string
  readonly directory: InstanceDirectory
  readonly tlsContexts: TlsContexts
  readonly trust: TrustIndexCache
  /** Chain verdicts shared with the other processes of the store (chain-verdict-sharing.ts). */
  readonly chainVerdicts?: Pick<ChainVerdictSharing, 'share'>
  readonly devices: Pick<DeviceRegistry, 'recordFirstSeen'>
  readonly deviceCache: Pick<DeviceCache, 'get' | 'peek'>
  readonly amqpAuth: Pick<AmqpAuthenticator, 'authenticate'>
  readonly sessions: SessionRegistry
  /** Live sessions re-checked against every rule; its `generation` guards the last check before the splice. */
  readonly recheck: Pick<SessionRecheck, 'generation' | 'rules' | 'started' | 'ended'>
  /** Whether cached decisions may still admit connections (DESIGN §4 "Admission on stale state"). */
  readonly freshness: Pick<StoreFreshness, 'admits' | 'state'>
  /** The per-turn byte budget of the client → broker direction of all sessions (pump.ts). */
  readonly upstreamBudget: TickBudget
  readonly blacklist: Pick<BlacklistCache, 'current'>
  /** The `networks` map: VPC of a source address that came without a PROXY header. */
  readonly networks: Pick<NetworkMap, 'vpcOf'>
  /** The trusted PROXY header senders of a listener (its `proxyProtocol.trustedCidrs`). */
  proxyTrust(listener: string): Pick<AddressSet, 'has'>
  readonly audit: AuditLog
  readonly metrics: Metrics
  readonly logger: Logger
  readonly embeddedBrokers: EmbeddedBrokers
  /**
   * The abuse limits of DESIGN §4 (limits/source-limits.ts). The composition root always builds
   * them; absent only where a test assembles deps by hand, and then no limit applies.
   */
  readonly connectionLimits?: ConnectionLimits
  /**
   * DESIGN §4 authorization, for instances with `authorization.mode: enforce`: the Connect
   * decisions at admission and the per-session authorizer of the splice's filters.
   */
  readonly authorization: Pick<AuthorizationService, 'enforces' | 'connect' | 'will' | 'session' | 'ended' | 'accountOf'>
  /**
   * Broker connections opened ahead of their clients (`limits.amqpWarmPool`: the AMQP warm pool,
   * src/protocols/amqp/backend-pool/). Absent, or answering none, every client's broker
   * connection is opened for it.
   */
  readonly warmUpstreams?: WarmUpstreams
}
