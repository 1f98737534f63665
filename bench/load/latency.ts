import { MqttSession } from './mqtt-session'
import { ConnectTemplate, encodePublish } from './mqtt-wire'
import { CLIENT_ID_PREFIX } from './names'
import { percentile } from './stats'
import type { Target } from './target'

/**
 * QoS0 round trip at a fixed low rate (issue 5 §2): one publisher and one subscriber through the
 * endpoint, in this one process, so both ends read the same clock. Each payload carries its send
 * time (performance.now(), float64 in the last eight octets); the first 200 ms are warm-up and
 * not counted. Sends are scheduled on absolute
 * times so that a late timer does not lower the rate.
 */
const WARMUP_MS = 200

export interface LatencyResult {
  sent: number
  received: number
  p50Ms?: number
  p99Ms?: number
}

export async function roundTrip(a: { target: Target; topic: string; rate: number; durationMs: number; payloadBytes: number }): Promise<LatencyResult> {
  const samples: number[] = []
  let start = Number.POSITIVE_INFINITY
  const sub = await MqttSession.open(a.target, new ConnectTemplate(CLIENT_ID_PREFIX.latencySubscriber).encode(process.pid), {
    onPublish: (body) => {
      const sentAt = body.readDoubleBE(body.length - 8)
      // The first probes pay for JIT warm-up on every hop; they are not the steady state.
      if (sentAt >= start + WARMUP_MS) samples.push(performance.now() - sentAt)
    },
  })
  await sub.subscribe(a.topic)
  const pub = await MqttSession.open(a.target, new ConnectTemplate(CLIENT_ID_PREFIX.latencyPublisher).encode(process.pid))
  const packet = encodePublish(a.topic, Buffer.alloc(Math.max(8, a.payloadBytes), 0x61))
  start = performance.now()
  const interval = 1000 / a.rate
  let sent = 0
  let measured = 0
  while (performance.now() - start < a.durationMs) {
    const now = performance.now()
    if (now >= start + WARMUP_MS) measured++
    packet.writeDoubleBE(now, packet.length - 8)
    pub.socket.write(packet)
    sent++
    const wait = start + sent * interval - performance.now()
    await new Promise((r) => setTimeout(r, Math.max(0, wait)))
  }
  await new Promise((r) => setTimeout(r, 300))
  sub.close()
  pub.close()
  const p50 = percentile(samples, 50)
  const p99 = percentile(samples, 99)
  return { sent: measured, received: samples.length, ...(p50 !== undefined ? { p50Ms: p50 } : {}), ...(p99 !== undefined ? { p99Ms: p99 } : {}) }
}
