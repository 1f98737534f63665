import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { DecisionCounters } from '../authorization/decision-counters'

/**
 * `instance` label for a connection whose instance is not known (no SNI match, bad userName). Never
 * put a name read from the wire into a label: it is attacker-chosen and would make the series count
 * unbounded. Instance ids themselves are bounded by configuration and the admin API.
 */
export const NO_INSTANCE = '-'

/** Handshake latency buckets, 1 ms to 10 s (a TLS handshake plus CONNECT / Start-Ok). */
export const HANDSHAKE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/**
 * Every Portcullis metric (DESIGN §3 "Metrics", prefix `portcullis_`) plus Node's default metrics,
 * on a Registry of its own rather than prom-client's global one, so that tests and several gateways
 * in one process do not collide. Label values are bounded: protocol (mqtt|amqp), instance (configured
 * ids or NO_INSTANCE), reason (reasons.ts), direction, status, event type (code-defined), sink
 * (configured sinks).
 */
export class Metrics {
  readonly registry = new Registry()
  readonly contentType: string = this.registry.contentType

  readonly connectionsAccepted = new Counter({
    name: 'portcullis_connections_accepted_total',
    help: 'Client connections admitted and forwarded to a backend broker',
    labelNames: ['protocol', 'instance'] as const,
    registers: [this.registry],
  })

  readonly connectionsRejected = new Counter({
    name: 'portcullis_connections_rejected_total',
    help: 'Client connections refused, by reason code',
    labelNames: ['protocol', 'instance', 'reason'] as const,
    registers: [this.registry],
  })

  readonly connectionsActive = new Gauge({
    name: 'portcullis_connections_active',
    help: 'Live forwarded sessions',
    labelNames: ['protocol', 'instance'] as const,
    registers: [this.registry],
  })

  readonly sessionsKicked = new Counter({
    name: 'portcullis_sessions_kicked_total',
    help: 'Live sessions closed by the gateway because a rule changed, by reason code',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  })

  readonly illegalStates = new Counter({
    name: 'portcullis_illegal_state_total',
    help: 'Connections closed because a stage answered a phase it does not declare (a gateway bug), by the phase it was in',
    labelNames: ['protocol', 'phase'] as const,
    registers: [this.registry],
  })

  readonly unhandledRejections = new Counter({
    name: 'portcullis_unhandled_rejections_total',
    help: 'Promise rejections nothing handled, caught by the process guard instead of ending the process (each one is a bug, logged)',
    registers: [this.registry],
  })

  readonly bytes = new Counter({
    name: 'portcullis_bytes_total',
    help: 'Bytes forwarded; upstream = client to broker, downstream = broker to client',
    labelNames: ['protocol', 'direction'] as const,
    registers: [this.registry],
  })

  readonly handshakeSeconds = new Histogram({
    name: 'portcullis_handshake_seconds',
    help: 'Time from accept to the admission decision (PROXY header, TLS, CONNECT or Start-Ok)',
    labelNames: ['protocol'] as const,
    buckets: HANDSHAKE_BUCKETS,
    registers: [this.registry],
  })

  readonly caCertificates = new Gauge({
    name: 'portcullis_ca_certificates',
    help: 'Registered CA certificates per instance and status (at most 32 per instance)',
    labelNames: ['instance', 'status'] as const,
    registers: [this.registry],
  })

  /**
   * When each certificate that matters stops being valid (its notAfter, Unix seconds), so that an
   * alert fires weeks before (chart PrometheusRule `PortcullisCertificateExpiring`). `kind`:
   * `server` = the certificate a listener presents (per instance with its own, `-` for the default
   * pair); `ca` = the earliest-expiring ACTIVE registered CA of the instance. At most two series
   * per instance, plus one.
   */
  readonly certificateExpiry = new Gauge({
    name: 'portcullis_certificate_expiry_seconds',
    help: 'Unix time at which a certificate stops being valid (notAfter): kind=server for the server certificate an instance presents (instance "-" = the default one), kind=ca for the earliest-expiring ACTIVE registered CA of an instance',
    labelNames: ['instance', 'kind'] as const,
    registers: [this.registry],
  })

  readonly certificateRotations = new Counter({
    name: 'portcullis_certificate_rotations_total',
    help: 'Server certificates replaced without a restart (default files changed, a reload with other files, an instance serverCertificate changed), by instance ("-" = the default one) and kind (server)',
    labelNames: ['instance', 'kind'] as const,
    registers: [this.registry],
  })

  readonly auditEvents = new Counter({
    name: 'portcullis_audit_events_total',
    help: 'Audit events recorded, by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  })

  readonly auditSinkErrors = new Counter({
    name: 'portcullis_audit_sink_errors_total',
    help: 'Audit events that did not reach a sink (queue full, write failed, or closed)',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  })

  readonly storeUp = new Gauge({
    name: 'portcullis_store_up',
    help: '1 when the store answers its last ping, else 0',
    registers: [this.registry],
  })

  /** One series per state (fresh | reconnecting | stale), 1 for the current one (src/store/freshness.ts). */
  readonly storeFreshness = new Gauge({
    name: 'portcullis_store_freshness',
    help: "1 for the current freshness of this replica's view of the store (fresh, reconnecting, stale), 0 for the others",
    labelNames: ['state'] as const,
    registers: [this.registry],
  })

  /** What the authorization decisions count in place; read into the counter below on each scrape. */
  readonly authorizationTallies = new DecisionCounters()

  readonly authorizationDecisions: Counter<'protocol' | 'action' | 'result'> = new Counter({
    name: 'portcullis_authorization_decisions_total',
    help: 'Authorization decisions (DESIGN §4), by protocol (mqtt, amqp, admin), action and result (allow, deny)',
    labelNames: ['protocol', 'action', 'result'] as const,
    registers: [this.registry],
    collect: () => this.authorizationTallies.collectInto(this.authorizationDecisions),
  })

  /**
   * The AMQP warm pool (`limits.amqpWarmPool`, src/protocols/amqp/backend-pool/), per instance:
   * connections parked at Connection.Tune now; clients that took one or found none (and logged in
   * cold); parked connections closed unused after maxIdleMs; pool logins that failed (`stage`
   * login) and parked connections the broker closed or broke while parked (`stage` parked), never
   * handed out; parked connections discarded because the instance changed or the gateway stopped.
   */
  readonly amqpPoolParked = new Gauge({
    name: 'portcullis_amqp_backend_pool_parked',
    help: 'AMQP backend connections logged in ahead of their clients and parked at Connection.Tune',
    labelNames: ['instance'] as const,
    registers: [this.registry],
  })

  readonly amqpPoolTaken = new Counter({
    name: 'portcullis_amqp_backend_pool_taken_total',
    help: 'AMQP clients given a parked backend connection (their Open-Ok did not wait on the broker login)',
    labelNames: ['instance'] as const,
    registers: [this.registry],
  })

  readonly amqpPoolMissed = new Counter({
    name: 'portcullis_amqp_backend_pool_missed_total',
    help: 'AMQP clients that found no parked backend connection and logged in to the broker themselves',
    labelNames: ['instance'] as const,
    registers: [this.registry],
  })

  readonly amqpPoolExpired = new Counter({
    name: 'portcullis_amqp_backend_pool_expired_total',
    help: 'Parked AMQP backend connections closed unused after limits.amqpWarmPool.maxIdleMs',
    labelNames: ['instance'] as const,
    registers: [this.registry],
  })

  readonly amqpPoolFailed = new Counter({
    name: 'portcullis_amqp_backend_pool_failed_total',
    help: 'Warm pool logins that failed (stage=login) and parked connections the broker closed or broke while parked (stage=parked); none is handed out',
    labelNames: ['instance', 'stage'] as const,
    registers: [this.registry],
  })

  readonly amqpPoolDiscarded = new Counter({
    name: 'portcullis_amqp_backend_pool_discarded_total',
    help: 'Parked AMQP backend connections closed because their instance changed (cause=instance_changed) or the gateway stopped (cause=shutdown)',
    labelNames: ['instance', 'cause'] as const,
    registers: [this.registry],
  })

  /** Read on scrape from the handshake gate (`watchHandshakes`), so a connection pays nothing for it. */
  private handshakes: { readonly inFlight: number; readonly limit: number } | undefined

  readonly handshakesInFlight = new Gauge({
    name: 'portcullis_handshakes_in_flight',
    help: 'Handshakes (accept to splice or refusal) in flight in this process',
    registers: [this.registry],
    collect: () => { if (this.handshakes !== undefined) this.handshakesInFlight.set(this.handshakes.inFlight) },
  })

  readonly handshakeLimit = new Gauge({
    name: 'portcullis_handshake_limit',
    help: 'Handshakes this process admits at once now: limits.maxHandshakesInFlight, or the adaptive limit under it (limits.handshakeAdmission)',
    registers: [this.registry],
    collect: () => { if (this.handshakes !== undefined) this.handshakeLimit.set(this.handshakes.limit) },
  })

  constructor() {
    collectDefaultMetrics({ register: this.registry })
  }

  watchHandshakes(gate: { readonly inFlight: number; readonly limit: number }): void {
    this.handshakes = gate
  }

  /** The Prometheus text exposition of every metric (`GET /metrics`). */
  render(): Promise<string> {
    return this.registry.metrics()
  }
}
