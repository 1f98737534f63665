import type { Endpoint } from '../endpoints'
import type { ConnectRateArgs } from '../load/connect-rate'
import { CpuWindow } from '../proc-stats'
import type { ConnectCaseId } from '../options'
import type { RowSpec } from '../results'
import { sleep, type BenchContext } from './context'

/** The connection-rate measurements (issue 5 §2) and the goals' CPU per connection. */
export interface ConnectCase {
  id: ConnectCaseId
  label: string
  kind: ConnectRateArgs['kind']
  resume: boolean
  reference: RowSpec['reference']
  target(ep: Endpoint): Pick<ConnectRateArgs, 'target' | 'auth'> | undefined
}

export const CONNECT_CASES: readonly ConnectCase[] = [
  {
    id: 'mqtt-full', label: 'MQTT connect, full handshake (mTLS) + CONNECT/CONNACK', kind: 'mqtt', resume: false, reference: 'haproxyMtls',
    target: (ep) => (ep.mqtt === undefined ? undefined : { target: ep.mqtt }),
  },
  {
    id: 'mqtt-resumed', label: 'MQTT connect, resumed TLS session (mTLS) + CONNECT/CONNACK', kind: 'mqtt', resume: true, reference: 'haproxyMtls',
    target: (ep) => (ep.mqtt?.tls === undefined ? undefined : { target: ep.mqtt }),
  },
  {
    id: 'tls-only', label: 'TLS handshake only, no client certificate', kind: 'tls', resume: false, reference: 'haproxyTls',
    target: (ep) => (ep.tlsOnly === undefined ? undefined : { target: ep.tlsOnly }),
  },
  {
    id: 'amqp', label: 'AMQP connect to Open-Ok', kind: 'amqp', resume: false, reference: 'haproxyTls',
    target: (ep) => (ep.amqp === undefined ? undefined : { target: ep.amqp.target, auth: ep.amqp.auth }),
  },
]

export async function connectRate(ctx: BenchContext, c: ConnectCase, ep: Endpoint): Promise<void> {
  const where = c.target(ep)
  if (where === undefined) return
  ctx.log(`${c.label} — ${ep.id}`)
  try {
    const args = { kind: c.kind, ...where, resume: c.resume, concurrency: ctx.options.connectConcurrency }
    await ctx.sender.call('connectRate', { ...args, durationMs: ctx.options.connectWarmupMs })
    await sleep(200)
    const cpu = new CpuWindow(ep.pids)
    const r = await ctx.sender.call('connectRate', { ...args, durationMs: ctx.options.connectMs })
    const used = cpu.stop()
    const row = (id: string, label: string, unit: string, decimals: number): RowSpec =>
      ({ id: `connect-${c.id}-${id}`, label: `${c.label}: ${label}`, unit, decimals, reference: c.reference })
    ctx.results.set(row('rate', 'rate', 'conn/s', 0), ep.id, r.connections / (r.elapsedMs / 1000))
    ctx.results.set(row('p50', 'p50', 'ms', 2), ep.id, r.p50Ms)
    ctx.results.set(row('p99', 'p99', 'ms', 2), ep.id, r.p99Ms)
    if (ep.pids.length > 0 && r.connections > 0) ctx.results.set(row('cpu', 'proxy CPU per connection', 'µs', 0), ep.id, used.cpuMicros / r.connections)
    if (c.resume) ctx.results.set(row('resumed', 'sessions resumed', '%', 0), ep.id, r.connections > 0 ? (100 * r.resumed) / r.connections : 0)
    ctx.results.detail(c.label, ep.id, { ...r, proxyCpuMicros: used.cpuMicros, proxyCpuShare: used.cpuMicros / used.wallMicros })
    if (r.failures > 0) ctx.results.note(`${c.label}, ${ep.id}: ${r.failures} connection(s) failed, first: ${r.firstError ?? '?'}`)
  } catch (err) {
    ctx.results.note(`${c.label}, ${ep.id}: ${err instanceof Error ? err.message : String(err)}`)
  }
  // Let the closes of the last connections finish before the next measurement starts.
  await sleep(300)
}
