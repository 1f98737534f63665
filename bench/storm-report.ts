import { ENDPOINT_LABELS, type EndpointId } from './endpoints'
import { fmt } from './results'
import type { StormEndpointResult } from './scenarios/storm'

/**
 * The storm's own tables (issue 15), one row per endpoint: the figures, then the ratios the rest of
 * the bench reports (Portcullis ÷ HAProxy mTLS, ÷ the Node pipe) for both Portcullis columns, then
 * every failed attempt by kind and the gateway's own refusals.
 */
export interface StormReport {
  devices: number
  certificates: number
  processes: number
  primed: boolean
  attemptTimeoutMs: number
  deadlineMs: number
  backoff: { baseMs: number; capMs: number }
  endpoints: StormEndpointResult[]
}

const s = (ms: number | undefined): string => fmt(ms === undefined ? undefined : ms / 1000, 2)
const ms = (v: number | undefined): string => fmt(v, 0)
const rss = (e: StormEndpointResult): string => (e.proxyRssPeakBytes === undefined || e.proxyRssBeforeBytes === undefined
  ? '—'
  : `${fmt(e.proxyRssPeakBytes / 2 ** 20, 1)} (+${fmt((e.proxyRssPeakBytes - e.proxyRssBeforeBytes) / 2 ** 20, 1)})`)

/**
 * The gateway's own deadline (`limits.handshakeTimeoutMs`, 10 s) passing: the device then sees a
 * close after TLS (closed:mqtt) or during it, not a timeout of its own, but the handshake was still
 * abandoned half done. '—' for endpoints without an audit.
 */
export function gatewayTimeouts(e: Pick<StormEndpointResult, 'gatewayRefusals'>): string {
  if (e.gatewayRefusals === undefined) return '—'
  const n = Object.entries(e.gatewayRefusals).filter(([k]) => k.startsWith('HANDSHAKE_TIMEOUT')).reduce((a, [, c]) => a + c, 0)
  return n.toLocaleString('en-US')
}

export function stormMarkdown(r: StormReport): string {
  const by = (id: EndpointId): StormEndpointResult | undefined => r.endpoints.find((e) => e.endpoint === id)
  const lines = [
    `Reconnect storm: ${r.devices.toLocaleString('en-US')} MQTT devices (mTLS, ${r.certificates.toLocaleString('en-US')} distinct client certificates), ` +
      `${r.primed ? 'known to the endpoint (each connected once before)' : 'new to the endpoint (--storm-cold)'}, all starting at once from ${r.processes} generator processes; ` +
      `attempt timeout ${r.attemptTimeoutMs / 1000} s, backoff full jitter ${r.backoff.baseMs / 1000} s × 2^k capped at ${r.backoff.capMs / 1000} s, deadline ${r.deadlineMs / 1000} s.`,
    '',
    '| endpoint | connected | time to all (s) | 50 % / 99 % connected by (s) | connect p50 / p99 (ms) | successful attempt p50 / p99 (ms) | attempts | failed | timed out mid-handshake: device / gateway | timed out before a ServerHello | proxy CPU (s) | CPU per device (µs) | peak RSS (MiB) (rise) | generator core busy | others\' CPU (s) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  for (const e of r.endpoints) {
    const x = e.summary
    const perDevice = e.proxyCpuMicros === undefined || x.connected === 0 ? undefined : e.proxyCpuMicros / x.connected
    lines.push(`| ${ENDPOINT_LABELS[e.endpoint]} | ${x.connected.toLocaleString('en-US')} / ${x.devices.toLocaleString('en-US')} | ${s(x.timeToAllMs)} | ${s(x.connectedByP50Ms)} / ${s(x.connectedByP99Ms)} | ` +
      `${ms(x.connectP50Ms)} / ${ms(x.connectP99Ms)} | ${ms(x.attemptP50Ms)} / ${ms(x.attemptP99Ms)} | ${x.attempts.toLocaleString('en-US')} | ${x.failedAttempts.toLocaleString('en-US')} | ` +
      `${x.midHandshakeTimeouts.toLocaleString('en-US')} / ${gatewayTimeouts(e)} | ${x.acceptTimeouts.toLocaleString('en-US')} | ${s(e.proxyCpuMicros === undefined ? undefined : e.proxyCpuMicros / 1000)} | ${fmt(perDevice, 0)} | ` +
      `${rss(e)} | ${fmt(100 * e.generatorCoreShare, 0)} % | ${s(e.othersCpuMicros / 1000)} |`)
  }
  const ratioRows: string[] = []
  for (const id of ['portcullis', 'portcullisWorkers'] as const) {
    const p = by(id)
    if (p === undefined) continue
    const over = (other: EndpointId, f: (e: StormEndpointResult) => number | undefined): string => {
      const o = by(other)
      const a = f(p)
      const b = o === undefined ? undefined : f(o)
      return a === undefined || b === undefined || b === 0 ? '—' : (a / b).toFixed(2)
    }
    const tta = (e: StormEndpointResult): number | undefined => e.summary.timeToAllMs
    const p99 = (e: StormEndpointResult): number | undefined => e.summary.connectP99Ms
    const cpu = (e: StormEndpointResult): number | undefined => (e.proxyCpuMicros === undefined || e.summary.connected === 0 ? undefined : e.proxyCpuMicros / e.summary.connected)
    const peak = (e: StormEndpointResult): number | undefined => e.proxyRssPeakBytes
    ratioRows.push(`| ${ENDPOINT_LABELS[id]} | ${over('haproxyMtls', tta)} | ${over('nodePipe', tta)} | ${over('haproxyMtls', p99)} | ${over('nodePipe', p99)} | ${over('haproxyMtls', cpu)} | ${over('nodePipe', cpu)} | ${over('haproxyMtls', peak)} | ${over('nodePipe', peak)} |`)
  }
  if (ratioRows.length > 0) {
    lines.push('', '| ratios | time to all ÷ HAProxy | ÷ pipe | connect p99 ÷ HAProxy | ÷ pipe | CPU per device ÷ HAProxy | ÷ pipe | peak RSS ÷ HAProxy | ÷ pipe |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |', ...ratioRows)
  }
  lines.push('', '| endpoint | failed attempts by kind:phase (client side) | gateway refusals (its audit) |', '| --- | --- | --- |')
  for (const e of r.endpoints) {
    const failures = e.summary.failures.map((f) => `${f.key} ${f.count.toLocaleString('en-US')}`).join(', ') || 'none'
    const gateway = e.gatewayRefusals === undefined ? '—' : Object.entries(e.gatewayRefusals).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n.toLocaleString('en-US')}`).join(', ') || 'none'
    const extra = [
      e.summary.unfinished > 0 ? `${e.summary.unfinished} unfinished at the deadline` : '',
      e.summary.lostAfterConnect > 0 ? `${e.summary.lostAfterConnect} closed by the endpoint after CONNACK` : '',
    ].filter((t) => t !== '').join('; ')
    lines.push(`| ${ENDPOINT_LABELS[e.endpoint]} | ${failures}${extra !== '' ? `; ${extra}` : ''} | ${gateway} |`)
  }
  return lines.join('\n')
}
