import type { Endpoint } from '../endpoints'
import { mqttTopic } from '../load/names'
import type { RowSpec } from '../results'
import type { BenchContext } from './context'

/** QoS0 round trip at a fixed low rate (issue 5 §2), p50/p99. */
export async function latency(ctx: BenchContext, ep: Endpoint): Promise<void> {
  if (ep.mqtt === undefined) return
  const o = ctx.options
  const label = `MQTT QoS0 round trip at ${o.latencyRate} msg/s, ${o.latencyPayload} B`
  ctx.log(`${label} — ${ep.id}`)
  try {
    const r = await ctx.sender.call('roundTrip', {
      target: ep.mqtt, topic: mqttTopic(ctx.runId, ep.id, 'rtt'), rate: o.latencyRate, durationMs: o.latencyMs, payloadBytes: o.latencyPayload,
    })
    const row = (id: string, unit: string): RowSpec =>
      ({ id: `rtt-${id}`, label: `${label}: ${id}`, unit, decimals: 3, reference: 'haproxyMtls', vsDirect: true })
    ctx.results.set(row('p50', 'ms'), ep.id, r.p50Ms)
    ctx.results.set(row('p99', 'ms'), ep.id, r.p99Ms)
    ctx.results.detail(label, ep.id, { ...r })
    if (r.received < r.sent) ctx.results.note(`${label}, ${ep.id}: ${r.sent - r.received} of ${r.sent} probes not received`)
  } catch (err) {
    ctx.results.note(`${label}, ${ep.id}: ${err instanceof Error ? err.message : String(err)}`)
  }
}
