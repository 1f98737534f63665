import t from 'tap'
import fc from 'fast-check'
import type { MqttTopicAction } from '../../src/policy/authorization/types'
import type { ProtocolVersion } from '../../src/protocols/mqtt/connect-layout'
import { bytes as anyBytes } from '../helpers/arbitraries'
import { splitAt } from '../helpers/socket-pair'
import { harness, packets, publish, suback, subscribe, wire } from './mqtt-authorization-harness'

// Properties of the MQTT authorization filters over random sessions: a script of client packets,
// broker deliveries, the broker's answers to what reached it, and policy changes, run once with
// every packet pushed whole and once cut into random chunks.

const TOPICS = ['a/1', 'a/2', 'deny/1', 'r/deny'] as const
const FILTERS = ['a/#', 'deny/#', '$share/g/a/+', '$share/g/deny/#', 's/deny', 'b/+'] as const
const DENIED: Record<MqttTopicAction, readonly string[]> = {
  'mqtt:Publish': ['deny/1'],
  'mqtt:Subscribe': ['deny/#', 's/deny'],
  'mqtt:Receive': ['deny/1', 'r/deny'],
}
/** A "policy change" toggles this one topic between denied and allowed for Publish and Receive. */
const FLIPPING = 'deny/1'

type AliasUse = 'none' | 'set' | 'use'
type Op =
  | { kind: 'publish'; topic: number; qos: 0 | 1 | 2; size: number; alias: AliasUse; slot: number }
  | { kind: 'deliver'; topic: number; qos: 0 | 1 | 2; size: number; alias: AliasUse; slot: number }
  | { kind: 'subscribe'; filters: Array<[number, 0 | 1 | 2]> }
  | { kind: 'ping' }
  | { kind: 'echo' }
  | { kind: 'flip' }

const message = (kind: 'publish' | 'deliver') => fc.record({
  kind: fc.constant(kind),
  topic: fc.nat(TOPICS.length - 1),
  qos: fc.constantFrom<0 | 1 | 2>(0, 1, 2),
  size: fc.oneof(fc.nat(20), fc.nat(400)),
  alias: fc.constantFrom<AliasUse>('none', 'set', 'use', 'use'),
  slot: fc.integer({ min: 1, max: 2 }),
})

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: message('publish') },
  { weight: 5, arbitrary: message('deliver') },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('subscribe' as const), filters: fc.array(fc.tuple(fc.nat(FILTERS.length - 1), fc.constantFrom<0 | 1 | 2>(0, 1, 2)), { minLength: 1, maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'ping' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'echo' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'flip' as const }) },
)

type Step =
  | { kind: 'up' | 'down'; bytes: Buffer }
  | { kind: 'echo' }
  | { kind: 'flip' }

/** The script's packets: ids counted per sender, aliases as each sender itself has set them. */
function script(version: ProtocolVersion, ops: readonly Op[]): Step[] {
  let clientId = 0
  let brokerId = 0
  const aliases = { publish: new Map<number, string>(), deliver: new Map<number, string>() }
  return ops.map((o, i): Step => {
    switch (o.kind) {
      case 'publish':
      case 'deliver': {
        const sent = aliases[o.kind]
        const id = o.qos === 0 ? undefined : o.kind === 'publish' ? ++clientId : ++brokerId
        const payload = Buffer.concat([Buffer.from(`#${i}#`), Buffer.alloc(o.size, i)])
        let name = TOPICS[o.topic] as string
        let properties: Record<string, unknown> | undefined
        if (version === 5 && o.alias !== 'none') {
          // 'use' sends to whatever topic the sender last set the alias to, by the alias alone; 'set' (or
          // 'use' of an alias not set yet) names the topic and sets the alias to it.
          if (o.alias === 'use' && sent.has(o.slot)) name = ''
          else sent.set(o.slot, name)
          properties = { topicAlias: o.slot }
        }
        return { kind: o.kind === 'publish' ? 'up' : 'down', bytes: wire(version, publish(name, o.qos, id, payload, properties)) }
      }
      case 'subscribe':
        return { kind: 'up', bytes: wire(version, subscribe(++clientId, o.filters.map(([f, qos]) => ({ topic: FILTERS[f] as string, qos })))) }
      case 'ping':
        return { kind: 'up', bytes: Buffer.from([0xc0, 0x00]) }
      default:
        return o
    }
  })
}

interface Outcome {
  readonly broker: Buffer
  readonly client: Buffer
  readonly ends: ReadonlyArray<{ cause: string; detail: string }>
  readonly decisions: ReadonlyArray<readonly [MqttTopicAction, string, boolean]>
}

/**
 * Runs `steps`, each step's bytes cut at `cuts[i]` (none: whole). An echo step answers what the
 * broker received since the last one, as a broker would: PUBACK / PUBREC for QoS 1 / 2 PUBLISHes,
 * a SUBACK granting every filter, a PUBREL for each PUBREC (of the gateway's, for a dropped
 * delivery). A last echo ends every run, so that everything forwarded has been answered.
 */
function run(version: ProtocolVersion, steps: readonly Step[], cuts?: readonly (readonly number[])[]): Outcome {
  const h = harness(version)
  const decisions: Array<readonly [MqttTopicAction, string, boolean]> = []
  let flipped = false
  h.authorizer.mqttTopic = (action, topic) => {
    const allowed = !DENIED[action].includes(topic) || (flipped && topic === FLIPPING && action !== 'mqtt:Subscribe')
    decisions.push([action, topic, allowed])
    return allowed
  }
  let answered = 0
  const echo = (): Buffer => {
    const received = packets(version, h.broker())
    const out: Buffer[] = []
    for (const p of received.slice(answered)) {
      const r = p as { cmd: string; qos?: number; messageId?: number; subscriptions?: Array<{ qos: number }> }
      if (r.cmd === 'publish' && r.qos === 1) out.push(wire(version, { cmd: 'puback', messageId: r.messageId }))
      if (r.cmd === 'publish' && r.qos === 2) out.push(wire(version, { cmd: 'pubrec', messageId: r.messageId }))
      if (r.cmd === 'subscribe') out.push(wire(version, suback(r.messageId as number, (r.subscriptions ?? []).map((s) => s.qos))))
      if (r.cmd === 'pubrec') out.push(wire(version, { cmd: 'pubrel', messageId: r.messageId }))
    }
    answered = received.length
    return Buffer.concat(out)
  }
  const all = [...steps, { kind: 'echo' as const }, { kind: 'echo' as const }]
  all.forEach((step, i) => {
    if (step.kind === 'flip') {
      flipped = !flipped
      return
    }
    const data = step.kind === 'echo' ? echo() : step.bytes
    const chunks = cuts === undefined ? [data] : splitAt(data, cuts[i % cuts.length] ?? [])
    for (const chunk of chunks) {
      if (step.kind === 'up') h.filters.upstream.push(chunk)
      else h.filters.downstream.push(chunk)
    }
  })
  return { broker: h.broker(), client: h.client(), ends: h.ends, decisions }
}

const cutLists = fc.array(fc.array(fc.nat(), { maxLength: 6 }), { minLength: 1, maxLength: 8 })

for (const version of [4, 5] as const) {
  t.test(`MQTT ${version}: cut into any chunks, a session gives the same bytes, decisions and ends as whole`, async (t) => {
    fc.assert(fc.property(fc.array(op, { minLength: 5, maxLength: 50 }), cutLists, (ops, cuts) => {
      const steps = script(version, ops)
      const whole = run(version, steps)
      const cut = run(version, steps, cuts)
      return cut.broker.equals(whole.broker) && cut.client.equals(whole.client)
        && JSON.stringify(cut.ends) === JSON.stringify(whole.ends)
        && JSON.stringify(cut.decisions) === JSON.stringify(whole.decisions)
    }), { numRuns: 150 })
    t.pass('chunking changes nothing')
  })
}

t.test('MQTT 5: every QoS 1/2 PUBLISH of the client gets exactly one answer, from the broker if forwarded, else from the gateway', async (t) => {
  fc.assert(fc.property(fc.array(op, { minLength: 5, maxLength: 50 }), cutLists, (ops, cuts) => {
    const steps = script(5, ops)
    const out = run(5, steps, cuts)
    if (out.ends.length > 0) return false
    const sent = steps.flatMap((s) => (s.kind === 'up' ? packets(5, s.bytes) : [])) as Array<{ cmd: string; qos: number; messageId?: number }>
    const ids = sent.filter((p) => p.cmd === 'publish' && p.qos > 0).map((p) => p.messageId)
    const forwarded = new Set((packets(5, out.broker) as Array<{ cmd: string; qos: number; messageId?: number }>).filter((p) => p.cmd === 'publish' && p.qos > 0).map((p) => p.messageId))
    const toClient = packets(5, out.client) as Array<{ cmd: string; messageId?: number; reasonCode?: number }>
    for (const id of ids) {
      const answers = toClient.filter((p) => (p.cmd === 'puback' || p.cmd === 'pubrec') && p.messageId === id)
      if (answers.length !== 1) return false
      // Forwarded: the broker's success; dropped: the gateway's 0x87.
      if (forwarded.has(id) !== (answers[0]?.reasonCode !== 0x87)) return false
    }
    if (toClient.some((p) => p.cmd === 'pubrel')) return false // each PUBREL was for a PUBREC of the gateway's
    return true
  }), { numRuns: 200 })
  t.pass('no packet identifier leaked or was answered twice')
})

t.test('MQTT 5: every SUBSCRIBE gets one SUBACK with a code per filter, failures exactly where denied', async (t) => {
  fc.assert(fc.property(fc.array(op, { minLength: 5, maxLength: 40 }), cutLists, (ops, cuts) => {
    const steps = script(5, ops)
    const out = run(5, steps, cuts)
    const subscribes = steps.flatMap((s) => (s.kind === 'up' ? packets(5, s.bytes) : [])).filter((p) => p.cmd === 'subscribe') as Array<{ messageId: number; subscriptions: Array<{ topic: string; qos: number }> }>
    const subacks = (packets(5, out.client) as Array<{ cmd: string; messageId?: number; granted?: number[] }>).filter((p) => p.cmd === 'suback')
    if (subacks.length !== subscribes.length) return false
    return subscribes.every((s) => {
      const answer = subacks.find((a) => a.messageId === s.messageId)
      const expected = s.subscriptions.map((f) => {
        const decided = f.topic.startsWith('$share/') ? f.topic.split('/').slice(2).join('/') : f.topic
        return DENIED['mqtt:Subscribe'].includes(decided) ? 0x87 : f.qos // the echo grants what was asked
      })
      return answer !== undefined && JSON.stringify(answer.granted) === JSON.stringify(expected)
    })
  }), { numRuns: 200 })
  t.pass('SUBACKs merged')
})

/** Topic of each PUBLISH in `stream` as its receiver resolves it, with the receiver's alias map; undefined for an alias it lacks. */
function resolved(stream: Buffer): Array<{ topic: string | undefined; payload: string }> {
  const map = new Map<number, string>()
  return (packets(5, stream) as Array<{ cmd: string; topic: string; payload: Buffer; properties?: { topicAlias?: number } }>)
    .filter((p) => p.cmd === 'publish')
    .map((p) => {
      const alias = p.properties?.topicAlias
      if (alias !== undefined && p.topic !== '') map.set(alias, p.topic)
      return { topic: p.topic !== '' ? p.topic : alias === undefined ? undefined : map.get(alias), payload: p.payload.toString('latin1') }
    })
}

t.test('MQTT 5: with topic aliases both ways, each receiver resolves every message it gets to the topic its sender meant', async (t) => {
  fc.assert(fc.property(fc.array(op, { minLength: 10, maxLength: 60 }), cutLists, (ops, cuts) => {
    const steps = script(5, ops)
    const out = run(5, steps, cuts)
    if (out.ends.length > 0) return false
    for (const [direction, action, received] of [['up', 'mqtt:Publish', out.broker], ['down', 'mqtt:Receive', out.client]] as const) {
      const meant = resolved(Buffer.concat(steps.flatMap((s) => (s.kind === direction ? [s.bytes] : []))))
      // One decision per message, on the topic its sender meant; the allowed ones arrive, in order, meaning it too.
      const verdicts = out.decisions.filter(([a]) => a === action)
      if (verdicts.length !== meant.length || verdicts.some(([, topic], i) => topic !== meant[i]?.topic)) return false
      const allowed = meant.filter((_, i) => verdicts[i]?.[2] === true)
      if (JSON.stringify(resolved(received)) !== JSON.stringify(allowed)) return false
    }
    return true
  }), { numRuns: 200 })
  t.pass('aliases resolve on both sides')
})

t.test('random octets never throw out of push() and are chunking-invariant', async (t) => {
  for (const version of [4, 5] as const) {
    fc.assert(fc.property(anyBytes(300), anyBytes(300), fc.array(fc.nat(), { maxLength: 8 }), (up, down, cuts) => {
      const whole = harness(version, { maxInspectBytes: 1024 })
      whole.up(up)
      whole.down(down)
      const cut = harness(version, { maxInspectBytes: 1024 })
      cut.up(...splitAt(up, cuts))
      cut.down(...splitAt(down, cuts))
      return cut.broker().equals(whole.broker()) && cut.client().equals(whole.client()) && JSON.stringify(cut.ends) === JSON.stringify(whole.ends)
    }), { numRuns: 500 })
  }
  t.pass('no throw')
})
