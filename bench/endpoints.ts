import type { AmqpAuth, Target } from './load/target'
import type { DecisionCounts } from './servers/portcullis'

/**
 * The columns of the comparison (issue 5 §1). A missing target means the endpoint does not take
 * part in that measurement: HAProxy with client certificates serves MQTT only (AMQP clients
 * authenticate with credentials), HAProxy without them serves the plain-TLS handshake and AMQP,
 * and the direct broker has no TLS at all. The Node TLS pipe is the floor Node itself imposes: the
 * same TLS as HAProxy (both with and without client certificates) in the simplest Node proxy.
 * `portcullisEnforce` is a second gateway configured as `portcullis` but with `authorization:
 * enforce` and 50-statement policies on both instances (issue 11): the cost of authorization is
 * its figures divided by `portcullis`'s, measured in the same run. `portcullisWorkers` is a third
 * gateway with `workers: 2` sharing a Redis store, for the reconnect storm (issue 15).
 */
export const ENDPOINT_IDS = ['direct', 'haproxyMtls', 'haproxyTls', 'nodePipe', 'portcullis', 'portcullisEnforce', 'portcullisWorkers'] as const
export type EndpointId = (typeof ENDPOINT_IDS)[number]

export const ENDPOINT_LABELS: Record<EndpointId, string> = {
  direct: 'direct (plaintext)',
  haproxyMtls: 'HAProxy mTLS',
  haproxyTls: 'HAProxy TLS',
  nodePipe: 'Node TLS pipe',
  portcullis: 'Portcullis',
  portcullisEnforce: 'Portcullis enforce',
  portcullisWorkers: 'Portcullis, 2 workers',
}

/** Workers of the `portcullisWorkers` endpoint (config `workers: 2`, Redis store; issue 15). */
export const PORTCULLIS_WORKERS = 2

export interface Endpoint {
  id: EndpointId
  /** The proxy's processes, measured from /proc; empty for the broker itself. */
  pids: number[]
  /** MQTT, with the client certificate where the endpoint checks one. */
  mqtt?: Target
  /** A TLS handshake without a client certificate. */
  tlsOnly?: Target
  amqp?: { target: Target; auth: AmqpAuth }
  /**
   * The gateway's authorization decisions so far (its /metrics), where it enforces: read around a
   * measurement, they show that every message was decided, not waved through.
   */
  decisions?: () => Promise<DecisionCounts>
  /** The gateway's audit file (JSON lines), where it has one: its own account of what it refused. */
  auditFile?: string
}
