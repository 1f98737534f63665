import type { AmqpAction, MqttTopicAction } from '../policy/authorization/types'

/**
 * What a live session's protocol filters (src/protocols/<name>/authorization/) ask while it is
 * spliced: one call per PUBLISH, SUBSCRIBE filter, delivery or AMQP method that touches a
 * resource. Built per session by the composition root only when the session's instance has
 * `authorization.mode: enforce`; a session of an instance with mode `off` has none and no filter.
 *
 * Every call counts the decision (`portcullis_authorization_decisions_total`) and records a
 * denial as an aggregated `authorization.denied` audit event: the filters only act on the answer.
 * Answers always reflect the policies and attachments as they are now (a change applies to the
 * next call), so a filter must not cache them.
 */
export interface SessionAuthorizer {
  /** `mqtt:Publish` / `mqtt:Receive` on a topic name, `mqtt:Subscribe` on a filter. */
  mqttTopic(action: MqttTopicAction, topic: string): boolean
  /**
   * An AMQP resource action on `amqp:<instanceId>:<vhost>:<kind>/<name>`; the session knows its
   * instance and vhost. The default exchange (`''`) is named `amq.default`.
   */
  amqp(action: Exclude<AmqpAction, 'amqp:Connect'>, kind: 'exchange' | 'queue', name: string): boolean
  /**
   * Called after policies or attachments that may concern this session changed, so that state a
   * filter keeps on an earlier decision (an AMQP consumer) can be decided again. Answers an
   * unsubscribe function; the splice unsubscribes when the session ends.
   */
  onChange(listener: () => void): () => void
}
