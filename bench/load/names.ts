/**
 * The names the load generator uses on the wire, in one place: the Portcullis endpoint with
 * `authorization: enforce` grants exactly these (servers/bench-policies.ts), so a renamed client
 * or topic must change here, not in a scenario, or the enforced endpoint would refuse it.
 *
 * MQTT client identifiers are a prefix and 12 digits (mqtt-wire.ts ConnectTemplate).
 */
export const CLIENT_ID_PREFIX = {
  /** The throughput subscriber. */
  subscriber: 'bsub',
  /** The throughput publishers. */
  publisher: 'bpub',
  /** The round-trip probe's subscriber and publisher. */
  latencySubscriber: 'blsub',
  latencyPublisher: 'blpub',
  /** Connection-rate loops (followed by the generator's pid and '-'). */
  connect: 'bc',
  /** Idle connections (followed by the generator's pid and '-'). */
  idle: 'bi',
  /** Reconnect-storm devices (followed by the endpoint's first letters and '-', then the device number). */
  storm: 'bs',
} as const

/** The first topic level of every MQTT topic the bench publishes to. */
export const MQTT_TOPIC_ROOT = 'bench'
/** The prefix of every AMQP queue the bench declares, consumes and publishes to. */
export const AMQP_QUEUE_PREFIX = 'bench-'

/** `bench/<run>/<endpoint>/<what>`: 4 levels. */
export const mqttTopic = (runId: string, endpoint: string, what: string | number): string =>
  `${MQTT_TOPIC_ROOT}/${runId}/${endpoint}/${what}`

/** `bench-<run>-<endpoint>-<what>`, through the default exchange (routing key = queue name). */
export const amqpQueue = (runId: string, endpoint: string, what: string | number): string =>
  `${AMQP_QUEUE_PREFIX}${runId}-${endpoint}-${what}`
