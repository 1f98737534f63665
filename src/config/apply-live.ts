import type { AddressInfo } from 'node:net'
import { PortcullisError } from '../errors'
import type { Logger } from '../observability/logger'
import type { ConnId } from '../ids'
import type { KickReason } from '../reasons'
import type { SessionView } from '../proxy/session-registry'
import { sameValue, type ConfigChange } from './diff'
import { ApplyError, type ApplyReport, type LiveApplier } from './reload'
import type { ReloadPlan } from './reload-plan'
import type { Config, ListenerConfig } from './schema'

/**
 * Applies the live part of a reload plan (reload-plan.ts) to a running gateway, step by step:
 *
 *   TLS files loaded (a pair that does not load refuses the reload before anything changed) →
 *   audit sinks (kept, added, removed) → listeners: added ones start, changed ones restart, removed ones retire → networks → TLS
 *   contexts swapped → declarative instances bootstrapped → log level → the running config
 *   (per-connection limits, `shutdown`) swapped.
 *
 * Nothing here touches a session on a listener whose config did not change. A retired listener
 * stops accepting at once (its port is free for a replacement), its sessions get the protocol's
 * goodbye (kick SHUTDOWN, as on a stop) and have `shutdown.drainTimeoutMs` to end before the rest
 * is cut; the reload does not wait for that drain, the gateway's stop does (`draining`).
 *
 * A step that fails throws ApplyError with the config that runs now and the paths applied before
 * it, so the reloader keeps an exact view and the answer says what is in force.
 */
export interface LiveListener {
  readonly address: AddressInfo
  readonly connections: number
  stopAccepting(): Promise<void>
  destroyAll(): void
}

export interface LiveParts<TPair> {
  logger: Pick<Logger, 'level' | 'info' | 'warn'>
  /** The listeners by name, as the gateway's stop sees them: updated in place. */
  listeners: Map<string, LiveListener>
  /** Starts one listener; `index` names its config key in a listen error (`listeners[2].port`). */
  startListener(config: ListenerConfig, index: number): Promise<LiveListener>
  sessions: { list(): SessionView[]; kick(connId: ConnId, reason: KickReason): boolean }
  /** Reads and checks the default key pair the config names (tls.certFile/keyFile or the dev PKI). */
  loadKeyPair(config: Config): Promise<TPair>
  /** New TLS contexts (certificate, profile) for new handshakes; live sessions keep theirs. */
  swapTls(pair: TPair, config: Config): void
  /** The `networks` map and the listeners' trusted PROXY senders, rebuilt from the config. */
  swapNetworks(config: Config): void
  swapProxyTrust(listeners: readonly ListenerConfig[]): void
  /** The declarative `instances[]` bootstrap (create/update), audited by the caller as at start. */
  bootstrapInstances(config: Config): Promise<void>
  /** The audit sinks for `audit.sinks` (audit/sink-set.ts); refuses what needs a restart. */
  swapAuditSinks(config: Config): Promise<void>
  /** The config the data path reads per connection (limits) from now on. */
  swapConfig(config: Config): void
  /** Retired listeners still draining; the gateway's stop waits for them. */
  draining: Set<Promise<void>>
}

export function liveApplier<TPair>(parts: LiveParts<TPair>): LiveApplier {
  return { apply: (plan, running) => applyPlan(parts, plan, running) }
}

async function applyPlan<TPair>(parts: LiveParts<TPair>, plan: ReloadPlan, running: Config): Promise<ApplyReport> {
  const next = plan.effective
  let now = running
  const applied: string[] = []
  const touched = (top: keyof Config): ConfigChange[] => plan.live.filter((c) => c.path === top || c.path.startsWith(`${top}.`) || c.path.startsWith(`${top}[`))
  const done = (top: keyof Config): void => {
    applied.push(...touched(top).map((c) => c.path))
    now = Object.freeze({ ...now, [top]: next[top] }) as Config
  }
  const step = async (top: keyof Config, run: () => Promise<void> | void): Promise<void> => {
    if (touched(top).length === 0) return
    try {
      await run()
    } catch (err) {
      parts.swapConfig(now)
      throw new ApplyError(err, now, applied)
    }
    done(top)
  }

  // Loaded first: a certificate that does not load refuses the reload with nothing changed.
  let pair: TPair | undefined
  if (touched('tls').length > 0) {
    try {
      pair = await parts.loadKeyPair(next)
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err)
      throw new ApplyError(new PortcullisError('CONFIG_INVALID', `tls.certFile / tls.keyFile (or tls.devCertsDir): the default certificate does not load: ${reason}`, { cause: err }), now, applied)
    }
  }
  // First: a sink change that needs a restart (redis-stream) refuses the reload with nothing changed.
  await step('audit', () => parts.swapAuditSinks(next))
  await step('listeners', () => reconcileListeners(parts, running, next))
  await step('networks', () => parts.swapNetworks(next))
  await step('tls', () => {
    if (pair !== undefined) parts.swapTls(pair, next)
  })
  await step('instances', () => parts.bootstrapInstances(next))
  await step('log', () => {
    parts.logger.level = next.log.level
  })
  await step('shutdown', () => undefined)
  await step('limits', () => undefined)
  parts.swapConfig(now)
  return { running: now, listeners: addresses(parts.listeners) }
}

/**
 * Listeners by name: unchanged ones untouched; added ones started first (a port that cannot be
 * bound fails the step before any listener was retired); changed ones retired, then started with
 * their new settings; removed ones retired.
 */
async function reconcileListeners<TPair>(parts: LiveParts<TPair>, running: Config, next: Config): Promise<void> {
  const before = new Map(running.listeners.map((l) => [l.name, l]))
  const indexOf = (name: string): number => next.listeners.findIndex((l) => l.name === name)
  const added = next.listeners.filter((l) => !before.has(l.name))
  const changed = next.listeners.filter((l) => before.has(l.name) && !sameValue(before.get(l.name), l))
  const removed = running.listeners.filter((l) => !next.listeners.some((n) => n.name === l.name))
  parts.swapProxyTrust(next.listeners)

  const started: string[] = []
  try {
    for (const config of added) {
      parts.listeners.set(config.name, await parts.startListener(config, indexOf(config.name)))
      started.push(config.name)
      parts.logger.info({ listener: config.name, protocol: config.protocol }, 'listener added by a config reload')
    }
  } catch (err) {
    for (const name of started) retire(parts, name, 0)
    parts.swapProxyTrust(running.listeners)
    throw err
  }
  for (const config of changed) {
    retire(parts, config.name, next.shutdown.drainTimeoutMs)
    // The old server's listening socket is closed synchronously; one turn lets the close land.
    await new Promise((resolve) => setImmediate(resolve))
    parts.listeners.set(config.name, await parts.startListener(config, indexOf(config.name)))
    parts.logger.info({ listener: config.name }, 'listener restarted by a config reload (its settings changed)')
  }
  for (const config of removed) {
    retire(parts, config.name, next.shutdown.drainTimeoutMs)
    parts.logger.info({ listener: config.name }, 'listener removed by a config reload')
  }
}

/** Stops accepting at once, sends its sessions the shutdown goodbye, cuts what is left after the deadline. */
function retire<TPair>(parts: LiveParts<TPair>, name: string, drainTimeoutMs: number): void {
  const listener = parts.listeners.get(name)
  if (listener === undefined) return
  parts.listeners.delete(name)
  const closed = listener.stopAccepting().catch(() => undefined)
  const kicked = new Set<ConnId>()
  const kickOwn = (): void => {
    for (const view of parts.sessions.list()) {
      if (view.listener !== name || kicked.has(view.connId)) continue
      kicked.add(view.connId)
      parts.sessions.kick(view.connId, 'SHUTDOWN')
    }
  }
  const drain = (async () => {
    const deadline = Date.now() + drainTimeoutMs
    // Connections still in their handshake become sessions meanwhile: each gets its goodbye too.
    kickOwn()
    while (listener.connections > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      kickOwn()
    }
    listener.destroyAll()
    await closed
  })()
  parts.draining.add(drain)
  void drain.finally(() => parts.draining.delete(drain))
}

function addresses(listeners: ReadonlyMap<string, LiveListener>): Record<string, { address: string; port: number }> {
  return Object.fromEntries([...listeners].map(([name, l]) => [name, { address: l.address.address, port: l.address.port }]))
}
