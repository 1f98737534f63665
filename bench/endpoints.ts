import type { AmqpAuth, Target } from './load/target'

/**
 * The columns of the comparison (issue 5 §1). A missing target means the endpoint does not take
 * part in that measurement: HAProxy with client certificates serves MQTT only (AMQP clients
 * authenticate with credentials), HAProxy without them serves the plain-TLS handshake and AMQP,
 * and the direct broker has no TLS at all. The Node TLS pipe is the floor Node itself imposes: the
 * same TLS as HAProxy (both with and without client certificates) in the simplest Node proxy.
 */
export const ENDPOINT_IDS = ['direct', 'haproxyMtls', 'haproxyTls', 'nodePipe', 'portcullis'] as const
export type EndpointId = (typeof ENDPOINT_IDS)[number]

export const ENDPOINT_LABELS: Record<EndpointId, string> = {
  direct: 'direct (plaintext)',
  haproxyMtls: 'HAProxy mTLS',
  haproxyTls: 'HAProxy TLS',
  nodePipe: 'Node TLS pipe',
  portcullis: 'Portcullis',
}

export interface Endpoint {
  id: EndpointId
  /** The proxy's processes, measured from /proc; empty for the broker itself. */
  pids: number[]
  /** MQTT, with the client certificate where the endpoint checks one. */
  mqtt?: Target
  /** A TLS handshake without a client certificate. */
  tlsOnly?: Target
  amqp?: { target: Target; auth: AmqpAuth }
}
