import type { Logger } from 'pino'
import type { Config } from '../config/schema'
import type { Store } from '../store/store'
import type { DeviceRegistry } from '../ca/device-registry'
import type { DeviceCache } from './device-cache'
import type { AmqpAuthenticator } from '../auth/authenticate'
import type { AuditLog } from '../audit/audit-log'
import type { Metrics } from '../observability/metrics'
import type { InstanceDirectory } from './instance-directory'
import type { TlsContexts } from './tls-contexts'
import type { TrustIndexCache } from './trust-cache'
import type { SessionRegistry } from './session-registry'
import type { RevocationWatcher } from './revocation'
import type { TickBudget } from './pump'
import type { BlacklistCache } from './blacklist-cache'
import type { AddressSet, NetworkMap } from '../tunnel/cidr'
import type { EmbeddedBrokers } from '../backends/embedded-brokers'

/** Everything the data path needs, built once by the composition root (gateway.ts). */
export interface PipelineDeps {
  readonly config: Config
  readonly processId: string
  readonly store: Store
  readonly directory: InstanceDirectory
  readonly tlsContexts: TlsContexts
  readonly trust: TrustIndexCache
  readonly devices: Pick<DeviceRegistry, 'recordFirstSeen'>
  readonly deviceCache: Pick<DeviceCache, 'get'>
  readonly amqpAuth: Pick<AmqpAuthenticator, 'authenticate'>
  readonly sessions: SessionRegistry
  /** The per-turn byte budget of the client → broker direction of all sessions (pump.ts). */
  readonly upstreamBudget: TickBudget
  readonly blacklist: Pick<BlacklistCache, 'current'>
  /** The `networks` map: VPC of a source address that came without a PROXY header. */
  readonly networks: Pick<NetworkMap, 'vpcOf'>
  /** The trusted PROXY header senders of a listener (its `proxyProtocol.trustedCidrs`). */
  proxyTrust(listener: string): Pick<AddressSet, 'has'>
  readonly revocation: RevocationWatcher
  readonly audit: AuditLog
  readonly metrics: Metrics
  readonly logger: Logger
  readonly embeddedBrokers: EmbeddedBrokers
}
