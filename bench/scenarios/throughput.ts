import type { Endpoint } from '../endpoints'
import { amqpQueue, mqttTopic } from '../load/names'
import { CpuWindow } from '../proc-stats'
import type { RowSpec } from '../results'
import type { DecisionCounts } from '../servers/portcullis'
import { sleep, type BenchContext } from './context'

/**
 * Publish → subscribe throughput (issue 5 §2), QoS0 MQTT or AMQP with a no-ack consumer: four
 * publisher connections write pre-encoded messages as fast as the endpoint takes them for the
 * window; one receiver counts. After the window the receiver gets until it stops receiving (capped
 * at drainMaxMs) to catch up. The proxy's CPU is measured over publish + drain.
 *
 *   delivered msgs/s = received ÷ (last receive − first publish)
 *   loss            = 1 − received ÷ published (MQTT QoS0: what Mosquitto dropped, and the
 *                     backlog a slow consumer had not received when the drain ended)
 *   CPU µs/msg       = proxy CPU ÷ messages published (each crosses the proxy inbound, and again
 *                     outbound when delivered)
 *   CPU µs/crossing  = proxy CPU ÷ (published + delivered): per message per direction, so that a
 *                     proxy which delivers more (drops less) is not charged for it per published one
 *
 * Where the endpoint enforces authorization, its decision counters are read before and after
 * (outside the CPU window: a scrape costs the gateway CPU) and kept in the details, so that the
 * run shows each message was decided — and allowed — rather than waved through.
 */
export async function throughput(ctx: BenchContext, protocol: 'mqtt' | 'amqp', payloadBytes: number, ep: Endpoint): Promise<void> {
  const target = protocol === 'mqtt' ? ep.mqtt : ep.amqp?.target
  if (target === undefined) return
  const auth = ep.amqp?.auth
  const topic = protocol === 'mqtt' ? mqttTopic(ctx.runId, ep.id, payloadBytes) : amqpQueue(ctx.runId, ep.id, payloadBytes)
  const name = `${protocol} throughput ${payloadBytes} B`
  ctx.log(`${name} — ${ep.id}`)
  try {
    await ctx.receiver.call('openReceiver', { protocol, target, topic, ...(protocol === 'amqp' && auth !== undefined ? { auth } : {}) })
    await ctx.sender.call('openPublishers', {
      protocol, target, topic, count: ctx.options.publishers, payloadBytes, ...(protocol === 'amqp' && auth !== undefined ? { auth } : {}),
    })
    const decisionsBefore = await ep.decisions?.()
    const proxyCpu = new CpuWindow(ep.pids)
    const brokerCpu = new CpuWindow(protocol === 'mqtt' ? [ctx.brokerPid] : [])
    const published = await ctx.sender.call('publish', { durationMs: ctx.options.throughputMs })
    let got = await ctx.receiver.call('received', undefined)
    const drainEnd = Date.now() + ctx.options.drainMaxMs
    for (let still = 0; still < 2 && got.messages < published.messages && Date.now() < drainEnd;) {
      await sleep(200)
      const now = await ctx.receiver.call('received', undefined)
      still = now.messages === got.messages ? still + 1 : 0
      got = now
    }
    const cpu = proxyCpu.stop()
    const broker = brokerCpu.stop()
    const decisions = decisionsBefore === undefined ? undefined : decisionDelta(decisionsBefore, await ep.decisions?.() ?? {})
    const seconds = Math.max(1e-3, (got.lastAt - published.startedAt) / 1000)
    const rate = got.messages / seconds
    const loss = published.messages === 0 ? 0 : Math.max(0, 1 - got.messages / published.messages) * 100
    const usPerMsg = ep.pids.length > 0 && published.messages > 0 ? cpu.cpuMicros / published.messages : undefined
    const crossings = published.messages + got.messages
    const usPerCrossing = ep.pids.length > 0 && crossings > 0 ? cpu.cpuMicros / crossings : undefined
    const P = protocol.toUpperCase()
    const size = payloadBytes >= 1024 ? `${payloadBytes / 1024} KiB` : `${payloadBytes} B`
    const ref = protocol === 'mqtt' ? 'haproxyMtls' : 'haproxyTls'
    const row = (id: string, label: string, unit: string, decimals: number, vsDirect: boolean): RowSpec =>
      ({ id: `${protocol}-${payloadBytes}-${id}`, label: `${P} ${size}: ${label}`, unit, decimals, reference: ref, vsDirect })
    ctx.results.set(row('rate', protocol === 'mqtt' ? 'delivered' : 'consumed', 'msgs/s', 0, true), ep.id, rate)
    ctx.results.set(row('mbps', 'payload delivered', 'MB/s', 1, true), ep.id, (rate * payloadBytes) / 1e6)
    ctx.results.set(row('loss', protocol === 'mqtt' ? 'loss' : 'not consumed at drain end', '%', 1, false), ep.id, loss)
    ctx.results.set(row('cpu', 'proxy CPU per message', 'µs', 2, false), ep.id, usPerMsg)
    ctx.results.set(row('cpu-crossing', 'proxy CPU per message crossing (published + delivered)', 'µs', 2, false), ep.id, usPerCrossing)
    ctx.results.detail(name, ep.id, {
      published: published.messages, received: got.messages, seconds, receivedBytes: got.bytes,
      proxyCpuMicros: cpu.cpuMicros, proxyCpuShare: cpu.cpuMicros / cpu.wallMicros,
      ...(protocol === 'mqtt' ? { brokerCpuMicros: broker.cpuMicros, brokerCpuShare: broker.cpuMicros / broker.wallMicros } : {}),
      ...(decisions !== undefined ? { decisions } : {}),
    })
  } catch (err) {
    ctx.results.note(`${name}, ${ep.id}: ${err instanceof Error ? err.message : String(err)}`)
  } finally {
    await ctx.sender.call('closePublishers', undefined).catch(() => undefined)
    await ctx.receiver.call('closeReceiver', undefined).catch(() => undefined)
    await sleep(200)
  }
}

/** What was decided between two reads of the counters, per action (actions with no change left out). */
function decisionDelta(before: DecisionCounts, after: DecisionCounts): DecisionCounts {
  const delta: DecisionCounts = {}
  for (const [action, a] of Object.entries(after)) {
    const b = before[action] ?? { allow: 0, deny: 0 }
    if (a.allow !== b.allow || a.deny !== b.deny) delta[action] = { allow: a.allow - b.allow, deny: a.deny - b.deny }
  }
  return delta
}
