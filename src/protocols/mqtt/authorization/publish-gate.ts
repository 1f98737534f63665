import type { SessionAuthorizer } from '../../../authorization/session-authorizer'
import type { MqttTopicAction } from '../../../policy/authorization/types'
import type { PublishHead } from './publish-head'
import type { TopicAliases } from './topic-aliases'
import { varByteIntSize, writeVarByteInt } from './wire'

/** What the gate answers for one PUBLISH. */
export const GATE = {
  /** Allowed; the receiver resolves it as it is. */
  PASS: 1,
  /** Not allowed: the packet must not reach the receiver. */
  DENY: 2,
  /** Allowed, but it names its topic by an alias the receiver does not have: `rewrite()` it. */
  REWRITE: 3,
  /** A protocol error (`detail`): the session ends. */
  FAIL: 4,
} as const

/**
 * The decision on one PUBLISH, one direction's topic aliases included: `mqtt:Publish` for what
 * the client sends, `mqtt:Receive` for what the broker delivers. The topic decided on is the one
 * the sender means — its own topic name, or the topic it last set for the alias it uses — never
 * what the receiver happens to have for the alias.
 */
export class PublishGate {
  detail = ''
  /** For REWRITE: the topic to write into the packet. */
  topic = ''

  constructor(
    private readonly authorizer: SessionAuthorizer,
    private readonly action: MqttTopicAction,
    /** MQTT 5 only; 3.x has no aliases. */
    private readonly aliases: TopicAliases | undefined,
  ) {}

  decide(head: PublishHead): number {
    const alias = head.alias
    let topic = head.topic
    if (alias !== 0 && this.aliases !== undefined) {
      if (head.topicLength > 0) {
        // §3.3.2.3.4: a topic name with an alias sets the alias, whatever becomes of the packet.
        if (!this.aliases.set(alias, topic)) return this.fail('topic aliases over the gateway\'s budget')
      } else {
        const known = this.aliases.topicOf(alias)
        // §3.3.2.3.4: a zero-length topic with an alias that has no mapping is a Protocol Error.
        if (known === undefined) return this.fail('PUBLISH uses an unknown Topic Alias')
        topic = known
      }
    } else if (head.topicLength === 0) {
      // [MQTT-4.7.3-1]: a topic name has at least one character; only an alias may stand in for it.
      return this.fail('PUBLISH with an empty topic name and no Topic Alias')
    }
    if (!this.authorizer.mqttTopic(this.action, topic)) return GATE.DENY
    if (alias === 0 || this.aliases === undefined) return GATE.PASS
    if (head.topicLength > 0) {
      return this.aliases.learn(alias, topic) ? GATE.PASS : this.fail('topic aliases over the gateway\'s budget')
    }
    if (this.aliases.knows(alias, topic)) return GATE.PASS
    this.topic = topic
    return GATE.REWRITE
  }

  /** The REWRITE went out: the receiver now has the alias. False when over the budget. */
  rewritten(alias: number, topic: string): boolean {
    return this.aliases === undefined || this.aliases.learn(alias, topic)
  }

  private fail(detail: string): number {
    this.detail = detail
    return GATE.FAIL
  }
}

/**
 * The prefix of an alias-only PUBLISH (`buf[off, off + head.end)`, Remaining Length `remaining`)
 * rewritten to carry `topic` and keep its alias, so that the receiver (re)learns the alias
 * (§3.3.2.3.4). The payload after the prefix is unchanged.
 */
export function rewritePublishHead(buf: Buffer, off: number, head: PublishHead, remaining: number, topic: string): Buffer {
  const topicBytes = Buffer.byteLength(topic, 'utf8')
  const newRemaining = remaining + topicBytes
  const restAt = off + head.topicAt + 2 // after the empty topic's two length octets
  const restLength = off + head.end - restAt
  const out = Buffer.allocUnsafe(1 + varByteIntSize(newRemaining) + 2 + topicBytes + restLength)
  out[0] = buf[off] as number
  let at = writeVarByteInt(out, 1, newRemaining)
  out.writeUInt16BE(topicBytes, at)
  at += 2
  at += out.write(topic, at, 'utf8')
  buf.copy(out, at, restAt, restAt + restLength)
  return out
}

/** Octets of the whole PUBLISH once `rewritePublishHead` has added `topic`. */
export function rewrittenPacketSize(remaining: number, topic: string): number {
  const newRemaining = remaining + Buffer.byteLength(topic, 'utf8')
  return 1 + varByteIntSize(newRemaining) + newRemaining
}
