import { readFileSync, statSync } from 'node:fs'
import type { KeyAndCert } from '../../src/ca/pki'
import type { Endpoint } from '../endpoints'
import { CLIENT_ID_PREFIX } from '../load/names'
import type { StormShare } from '../load/storm'
import type { LoadWorker } from '../load/worker-client'
import { cpuMicros, CpuWindow, machineBusyMicros, rssBytes, timeWaitSockets } from '../proc-stats'
import { auditRefusals, dealDevices, summarizeStorm, type StormSummary } from '../storm-summary'
import { sleep, type BenchContext } from './context'

/**
 * The reconnect storm (issue 15) against one endpoint: the fleet's devices, dealt to the
 * generator processes, first connect once each (priming, unmeasured, unless --storm-cold), then
 * all start again at one instant and retry with backoff until connected or the deadline.
 * Measured from that instant until the last device is done: the endpoint's CPU (every process)
 * and peak RSS (sampled every 100 ms, summed over its processes), the generator's own CPU, and
 * what the rest of the machine did meanwhile (this machine is shared).
 */
export interface StormFleet {
  /** The devices' client certificates; device n presents certs[n mod length]. */
  certs: readonly KeyAndCert[]
  devices: number
}

export interface StormEndpointResult {
  endpoint: Endpoint['id']
  summary: StormSummary
  /** Wall time of the measured window (storm start → last device done), ms. */
  windowMs: number
  proxyCpuMicros?: number
  proxyRssBeforeBytes?: number
  proxyRssPeakBytes?: number
  brokerCpuMicros: number
  /** The generator processes' CPU over the window, and as a share of one core. */
  generatorCpuMicros: number
  generatorCoreShare: number
  /** Every core's busy time over the window not used by the proxy, broker, generator or bench: others' work. */
  othersCpuMicros: number
  timeWaitBefore: number
  /** `connection.rejected` events the gateway audited during the storm, by reason. */
  gatewayRefusals?: Record<string, number>
  prime?: { connected: number; failures: number; firstError?: string }
}

export async function reconnectStorm(
  ctx: BenchContext, ep: Endpoint, fleet: StormFleet, pool: readonly LoadWorker[], o: { auditFile?: string; brokerPid: number },
): Promise<StormEndpointResult | undefined> {
  const tls = ep.mqtt?.tls
  if (ep.mqtt === undefined || tls?.cert === undefined) return undefined
  const opts = ctx.options
  ctx.log(`reconnect storm of ${fleet.devices} devices — ${ep.id}`)
  const target = { host: ep.mqtt.host, port: ep.mqtt.port, servername: tls.servername, ca: tls.ca }
  const shares = dealDevices(fleet.devices, pool.length, fleet.certs.length)
  // Unique per endpoint: Mosquitto takes over a session whose client id connects again.
  const clientIdPrefix = `${CLIENT_ID_PREFIX.storm}${ep.id}-`
  await Promise.all(pool.map((w, i) => {
    const devices = shares[i] ?? []
    const needed = [...new Set(devices.map((d) => d.cert))]
    return w.call('stormPrepare', {
      target, devices, clientIdPrefix, attemptTimeoutMs: opts.stormAttemptTimeoutMs, backoff: opts.stormBackoff,
      certs: needed.map((index) => ({ index, cert: fleet.certs[index]?.cert ?? '', key: fleet.certs[index]?.key ?? '' })),
    })
  }))
  let prime: StormEndpointResult['prime']
  if (opts.stormPrime) {
    const primed = await Promise.all(pool.map((w) => w.call('stormPrime', { concurrency: opts.stormPrimeConcurrency })))
    prime = { connected: primed.reduce((n, p) => n + p.connected, 0), failures: primed.reduce((n, p) => n + p.failures, 0) }
    const firstError = primed.find((p) => p.firstError !== undefined)?.firstError
    if (firstError !== undefined) prime.firstError = firstError
    if (prime.failures > 0) ctx.results.note(`storm priming, ${ep.id}: ${prime.failures} of ${fleet.devices} devices failed, first: ${firstError ?? '?'}`)
    // Let the priming connections' closes reach the endpoint and the broker.
    await sleep(1500)
  }
  const auditFrom = o.auditFile === undefined ? 0 : fileSize(o.auditFile)
  const timeWaitBefore = timeWaitSockets()
  const pid = ep.pids[0]
  const rssOf = (): number => ep.pids.reduce((n, p) => n + safe(() => rssBytes(p)), 0)
  const rssBefore = pid === undefined ? undefined : rssOf()
  let rssPeak = rssBefore ?? 0
  const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, rssOf()) }, 100)
  const generatorPids = pool.map((w) => w.pid)
  const ownPids = [...ep.pids, o.brokerPid, ...generatorPids]
  const ownBefore = ownPids.map((p) => safe(() => cpuMicros(p)))
  const benchBefore = process.cpuUsage()
  const busyBefore = machineBusyMicros()
  const proxyCpu = new CpuWindow(ep.pids)
  const brokerCpu = new CpuWindow([o.brokerPid])
  const generatorCpu = new CpuWindow(generatorPids)
  const startAt = performance.timeOrigin + performance.now() + 300
  let results: StormShare[]
  try {
    results = await Promise.all(pool.map((w) => w.call('stormRun', { startAt, deadline: startAt + opts.stormDeadlineMs })))
  } finally {
    clearInterval(sampler)
  }
  const proxy = proxyCpu.stop()
  const broker = brokerCpu.stop()
  const generator = generatorCpu.stop()
  const busy = machineBusyMicros() - busyBefore
  const bench = process.cpuUsage(benchBefore)
  const own = ownPids.reduce((n, p, i) => n + safe(() => cpuMicros(p)) - (ownBefore[i] ?? 0), 0) + bench.user + bench.system
  rssPeak = Math.max(rssPeak, rssOf())
  const summary = summarizeStorm(results)
  let gatewayRefusals: Record<string, number> | undefined
  if (o.auditFile !== undefined) {
    // The audit file sink writes in batches (lingerMs): the last refusals are just behind.
    await sleep(700)
    gatewayRefusals = auditRefusals(readFrom(o.auditFile, auditFrom))
  }
  await Promise.all(pool.map((w) => w.call('stormRelease', undefined)))
  // The endpoint and Mosquitto close 2 × N sockets; let them before the next endpoint's storm.
  await sleep(1500)
  const windowMs = proxy.wallMicros / 1000 - 300
  const result: StormEndpointResult = {
    endpoint: ep.id, summary, windowMs,
    ...(ep.pids.length > 0 ? { proxyCpuMicros: proxy.cpuMicros } : {}),
    ...(rssBefore !== undefined ? { proxyRssBeforeBytes: rssBefore, proxyRssPeakBytes: rssPeak } : {}),
    brokerCpuMicros: broker.cpuMicros,
    generatorCpuMicros: generator.cpuMicros,
    generatorCoreShare: generator.cpuMicros / Math.max(1, proxy.wallMicros - 300_000),
    othersCpuMicros: Math.max(0, busy - own),
    timeWaitBefore,
    ...(gatewayRefusals !== undefined ? { gatewayRefusals } : {}),
    ...(prime !== undefined ? { prime } : {}),
  }
  ctx.results.detail('reconnect storm', ep.id, { ...result })
  if (summary.connected < summary.devices) ctx.results.note(`reconnect storm, ${ep.id}: ${summary.devices - summary.connected} of ${summary.devices} devices not connected within ${opts.stormDeadlineMs / 1000} s`)
  return result
}

function fileSize(file: string): number {
  return safe(() => statSync(file).size)
}

function readFrom(file: string, offset: number): string {
  try {
    return readFileSync(file).subarray(offset).toString('utf8')
  } catch {
    return ''
  }
}

/** A process that is gone reads as 0 (a worker restarted mid-storm shows in its CPU, not as a crash of the bench). */
function safe(f: () => number): number {
  try {
    return f()
  } catch {
    return 0
  }
}
