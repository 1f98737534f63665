import mqttPacket from 'mqtt-packet'
import type { Packet } from 'mqtt-packet'
import type { Socket } from 'node:net'
import type { SessionAuthorizer } from '../../src/authorization/session-authorizer'
import type { MqttTopicAction } from '../../src/policy/authorization/types'
import type { FilterEndCause, FilterIo, SessionFilters } from '../../src/proxy/stream-filter'
import type { ProtocolVersion } from '../../src/protocols/mqtt/connect-layout'
import { mqttSessionFilters } from '../../src/protocols/mqtt/authorization/filters'
import { socketPair } from '../helpers/socket-pair'

/**
 * Support for the MQTT authorization filter tests (not a test file itself): a policy stand-in
 * that decides by topic lists and records what it was asked, and the two filters of one session
 * over in-memory sockets, whose written bytes the tests read back.
 */

/** Denies exactly the listed topics (filters, for Subscribe) per action; allows everything else. */
export class TopicListAuthorizer implements SessionAuthorizer {
  readonly calls: Array<readonly [MqttTopicAction, string]> = []
  private readonly denied: Map<MqttTopicAction, ReadonlySet<string>>

  constructor(denied: Partial<Record<MqttTopicAction, readonly string[]>>) {
    this.denied = new Map(Object.entries(denied).map(([action, topics]) => [action as MqttTopicAction, new Set(topics)]))
  }

  mqttTopic(action: MqttTopicAction, topic: string): boolean {
    this.calls.push([action, topic])
    return !(this.denied.get(action)?.has(topic) ?? false)
  }

  amqp(): boolean {
    throw new Error('an MQTT filter asked an AMQP question')
  }

  onChange(): () => void {
    return () => {}
  }
}

export interface Harness {
  readonly filters: SessionFilters
  readonly authorizer: TopicListAuthorizer
  /** Session ends the filters asked for, in order. */
  readonly ends: Array<{ cause: FilterEndCause; detail: string }>
  /** Everything written to the broker's socket so far. */
  broker(): Buffer
  /** Everything written to the client's socket so far. */
  client(): Buffer
  /** Pushes chunks client → broker; answers what each push() returned. */
  up(...chunks: Buffer[]): boolean[]
  /** Pushes chunks broker → client. */
  down(...chunks: Buffer[]): boolean[]
}

export interface HarnessOptions {
  readonly denied?: Partial<Record<MqttTopicAction, readonly string[]>>
  readonly maxInspectBytes?: number
  readonly maxInjectedBacklogBytes?: number
  readonly clientMaximumPacketSize?: number
  /** A socket to stand for the client's instead of an in-memory pair (a slow reader). */
  readonly clientSocket?: Socket
  readonly upstreamSocket?: Socket
}

export function harness(version: ProtocolVersion, options: HarnessOptions = {}): Harness {
  const client = socketPair()
  const upstream = socketPair()
  client.peer.resume()
  upstream.peer.resume()
  const authorizer = new TopicListAuthorizer(options.denied ?? {})
  const ends: Array<{ cause: FilterEndCause; detail: string }> = []
  const io: FilterIo = {
    client: options.clientSocket ?? client.gateway,
    upstream: options.upstreamSocket ?? upstream.gateway,
    authorizer,
    end: (cause, detail) => { ends.push({ cause, detail }) },
    maxInspectBytes: options.maxInspectBytes ?? 256 * 1024,
    maxInjectedBacklogBytes: options.maxInjectedBacklogBytes ?? 1024 * 1024,
  }
  const filters = mqttSessionFilters({
    version,
    io,
    ...(options.clientMaximumPacketSize !== undefined ? { clientMaximumPacketSize: options.clientMaximumPacketSize } : {}),
  })
  return {
    filters,
    authorizer,
    ends,
    broker: () => upstream.written(),
    client: () => client.written(),
    up: (...chunks) => chunks.map((c) => filters.upstream.push(c)),
    down: (...chunks) => chunks.map((c) => filters.downstream.push(c)),
  }
}

/** One packet's bytes, as mqtt-packet generates them for `version`. */
export function wire(version: ProtocolVersion, packet: Record<string, unknown>): Buffer {
  return mqttPacket.generate(packet as unknown as Packet, { protocolVersion: version })
}

/** The packets in `bytes`, as mqtt-packet parses them for `version` (throws on a malformed stream). */
export function packets(version: ProtocolVersion, bytes: Buffer): Packet[] {
  const parser = mqttPacket.parser({ protocolVersion: version })
  const out: Packet[] = []
  let error: Error | undefined
  parser.on('packet', (p) => out.push(p))
  parser.on('error', (err) => { error ??= err })
  parser.parse(bytes)
  if (error !== undefined) throw error
  return out
}

export function publish(
  topic: string,
  qos: 0 | 1 | 2,
  messageId: number | undefined,
  payload: Buffer | string = 'x',
  properties?: Record<string, unknown>,
): Record<string, unknown> {
  return {
    cmd: 'publish', topic, qos, dup: false, retain: false, payload,
    ...(qos > 0 ? { messageId } : {}),
    ...(properties !== undefined ? { properties } : {}),
  }
}

export function subscribe(messageId: number, filters: ReadonlyArray<string | { topic: string; qos: 0 | 1 | 2; nl?: boolean; rap?: boolean; rh?: number }>, properties?: Record<string, unknown>): Record<string, unknown> {
  return {
    cmd: 'subscribe', messageId,
    subscriptions: filters.map((f) => (typeof f === 'string' ? { topic: f, qos: 1 } : f)),
    ...(properties !== undefined ? { properties } : {}),
  }
}

export function suback(messageId: number, granted: number[], properties?: Record<string, unknown>): Record<string, unknown> {
  return { cmd: 'suback', messageId, granted, ...(properties !== undefined ? { properties } : {}) }
}

/** `cmd`, `messageId` and a failure `reasonCode` of each packet, for compact assertions about acknowledgements. */
export function acks(version: ProtocolVersion, bytes: Buffer): Array<{ cmd: string; messageId: number | undefined; reasonCode?: number }> {
  return packets(version, bytes).map((p) => {
    const r = p as { cmd: string; messageId?: number; reasonCode?: number }
    // mqtt-packet reports a left-out reason code as 0 (success): only a failure code is listed.
    return { cmd: r.cmd, messageId: r.messageId, ...(r.reasonCode !== undefined && r.reasonCode !== 0 ? { reasonCode: r.reasonCode } : {}) }
  })
}
