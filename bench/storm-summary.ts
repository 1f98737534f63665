import { percentile } from './load/stats'
import type { StormShare } from './load/storm'
import { isMidHandshakeTimeout } from './load/storm-outcome'

/**
 * One endpoint's reconnect storm, from the shares of every generator process (issue 15: "time
 * until all connected, p50/p99 connect latency, attempts, refusals by reason").
 */
export interface StormSummary {
  devices: number
  connected: number
  /** The storm's start → the last device's CONNACK 0, ms; undefined when not every device connected. */
  timeToAllMs?: number
  /** startAt → CONNACK 0 of the device at that rank (the storm's progress), ms. */
  connectedByP50Ms?: number
  connectedByP99Ms?: number
  /** First attempt start → CONNACK 0, per device (backoff and retries included), ms. */
  connectP50Ms?: number
  connectP99Ms?: number
  /** The successful attempt alone, ms: the handshake under load, without the waits before it. */
  attemptP50Ms?: number
  attemptP99Ms?: number
  attempts: number
  /** Failed attempts by kind:phase[:detail], largest first. */
  failures: Array<{ key: string; count: number }>
  failedAttempts: number
  /** Attempts that timed out after TCP was up (in TLS or waiting for CONNACK): the goal is 0. */
  midHandshakeTimeouts: number
  /** Attempts that timed out with TCP up but no ServerHello (accept or admission queue): neither served nor refused. */
  acceptTimeouts: number
  unfinished: number
  lostAfterConnect: number
  /** The slowest generator process's start of all its devices, and its worst event-loop delay, ms. */
  startSpreadMs: number
  generatorLoopDelayP99Ms: number
  generatorLoopDelayMaxMs: number
}

export function summarizeStorm(shares: readonly StormShare[]): StormSummary {
  const connectMs = shares.flatMap((s) => s.connectMs)
  const connectedAtMs = shares.flatMap((s) => s.connectedAtMs)
  const lastAttemptMs = shares.flatMap((s) => s.lastAttemptMs)
  const failures = new Map<string, number>()
  for (const s of shares) for (const [key, count] of Object.entries(s.failures)) failures.set(key, (failures.get(key) ?? 0) + count)
  const sorted = [...failures].map(([key, count]) => ({ key, count })).sort((a, b) => b.count - a.count || a.key.localeCompare(b.key))
  const devices = sum(shares, (s) => s.devices)
  const connected = sum(shares, (s) => s.connected)
  const optional = (name: keyof StormSummary, value: number | undefined): Partial<StormSummary> => (value === undefined ? {} : { [name]: value })
  return {
    devices,
    connected,
    ...optional('timeToAllMs', connected === devices && devices > 0 ? Math.max(...connectedAtMs) : undefined),
    ...optional('connectedByP50Ms', percentile(connectedAtMs, 50)),
    ...optional('connectedByP99Ms', percentile(connectedAtMs, 99)),
    ...optional('connectP50Ms', percentile(connectMs, 50)),
    ...optional('connectP99Ms', percentile(connectMs, 99)),
    ...optional('attemptP50Ms', percentile(lastAttemptMs, 50)),
    ...optional('attemptP99Ms', percentile(lastAttemptMs, 99)),
    attempts: sum(shares, (s) => s.attempts),
    failures: sorted,
    failedAttempts: sorted.reduce((n, f) => n + f.count, 0),
    midHandshakeTimeouts: sorted.filter((f) => isMidHandshakeTimeout(f.key)).reduce((n, f) => n + f.count, 0),
    acceptTimeouts: sorted.filter((f) => f.key.startsWith('timeout:accept')).reduce((n, f) => n + f.count, 0),
    unfinished: sum(shares, (s) => s.unfinished),
    lostAfterConnect: sum(shares, (s) => s.lostAfterConnect),
    startSpreadMs: Math.max(0, ...shares.map((s) => s.startSpreadMs)),
    generatorLoopDelayP99Ms: Math.max(0, ...shares.map((s) => s.loopDelayP99Ms)),
    generatorLoopDelayMaxMs: Math.max(0, ...shares.map((s) => s.loopDelayMaxMs)),
  }
}

/** Devices dealt to `processes` generator processes round-robin, each with certificate n mod pool. */
export function dealDevices(devices: number, processes: number, pool: number): Array<Array<{ n: number; cert: number }>> {
  if (processes < 1 || pool < 1) throw new RangeError('processes and pool must be at least 1')
  const out = Array.from({ length: processes }, () => [] as Array<{ n: number; cert: number }>)
  for (let n = 0; n < devices; n++) out[n % processes]?.push({ n, cert: n % pool })
  return out
}

/**
 * Gateway-side refusals from its audit file (`connection.rejected` events, DESIGN §3), by reason,
 * and HANDSHAKE_TIMEOUT by the stage its deadline passed in: the gateway's own account of the
 * storm, next to what the devices saw. `text` is what the file gained during the storm.
 */
export function auditRefusals(text: string): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const line of text.split('\n')) {
    if (!line.includes('"connection.rejected"')) continue
    let event: { type?: unknown; reason?: unknown; details?: { detail?: unknown } }
    try {
      event = JSON.parse(line) as typeof event
    } catch {
      continue
    }
    if (event.type !== 'connection.rejected' || typeof event.reason !== 'string') continue
    const stage = event.reason === 'HANDSHAKE_TIMEOUT' && typeof event.details?.detail === 'string' ? /stage (\S+)/.exec(event.details.detail)?.[1] : undefined
    const key = stage === undefined ? event.reason : `${event.reason} (${stage})`
    counts[key] = (counts[key] ?? 0) + 1
  }
  return counts
}

function sum(shares: readonly StormShare[], f: (s: StormShare) => number): number {
  return shares.reduce((n, s) => n + f(s), 0)
}
