import type { ConfigChange } from './diff'
import type { Config } from './schema'

/**
 * Which config keys a reload applies to the running gateway (`live`) and which are read once at
 * start (`restart`: refused by a reload, reported as `restartNeeded`, the running value kept).
 * A Record over the schema's keys, so a new config key without a decision here is a compile error
 * rather than a key a reload silently ignores.
 *
 * live:
 * - `listeners`: added ones start, removed ones stop accepting and their sessions get the shutdown
 *   goodbye; a changed one is both (its sessions were admitted under the old settings); the
 *   others are not touched.
 * - `networks`, `tls` (files, profile, dev certificate directory): new connections and new
 *   handshakes use the new values; live sessions keep what they were admitted with.
 * - `instances`: the declarative bootstrap runs again (create/update; never delete).
 * - `log.level`, `shutdown` (read when a stop begins).
 * - `limits` read per connection from the running config (the handshake deadline and caps, the
 *   backend connect timeout, maxConnections, the splice's inspection and backlog caps, the
 *   slow-consumer timeout, the AMQP warm pool's size and maxIdleMs): new connections use the new
 *   value.
 *
 * restart: `store`, `admin` (the admin server listens once), `workers` (the process tree),
 * `demo`, `audit.sinks` (each sink holds its own hash chain; the sinks are reopened on every
 * reload all the same) and `audit.recentEvents`, and the limits built into objects at start (the
 * per-source token buckets and handshake gate, the upstream byte budget, the stale-state window,
 * the credential window, the admin body cap).
 */
export type ReloadMode = 'live' | 'restart'

/** Said wherever restart-only keys changed, so that the operator knows the change is pending. */
export const RESTART_MESSAGE = 'read at start: restart the gateway (or roll the deployment) to apply'

const LIMIT_MODES = {
  handshakeTimeoutMs: 'live',
  maxConnectBytes: 'live',
  maxHandshakeFrameBytes: 'live',
  backendConnectTimeoutMs: 'live',
  amqpWarmPool: 'live',
  maxConnections: 'live',
  credentialWindowMs: 'restart',
  maxAdminBodyBytes: 'restart',
  upstreamBytesPerTick: 'restart',
  maxStaleMs: 'restart',
  connectRatePerSource: 'restart',
  maxHandshakesInFlight: 'restart',
  handshakeAdmission: 'restart',
  handshakeQueueLength: 'restart',
  handshakeQueueWaitMs: 'restart',
  maxConnectionsPerSource: 'restart',
  slowConsumerTimeoutMs: 'live',
  failedAuthPerSource: 'restart',
  maxInspectedPacketBytes: 'live',
  maxInjectedBacklogBytes: 'live',
} as const satisfies Record<keyof Config['limits'], ReloadMode>

const AUDIT_MODES = { sinks: 'live', recentEvents: 'restart' } as const satisfies Record<keyof Config['audit'], ReloadMode>

export const RELOAD_MODES = {
  listeners: 'live',
  admin: 'restart',
  store: 'restart',
  networks: 'live',
  instances: 'live',
  audit: AUDIT_MODES,
  tls: 'live',
  limits: LIMIT_MODES,
  shutdown: 'live',
  workers: 'restart',
  masterKey: 'restart',
  reload: 'restart',
  keyRotation: 'restart',
  log: 'live',
  demo: 'restart',
} as const satisfies { [K in keyof Config]: ReloadMode | Readonly<Record<string, ReloadMode>> }

/** The mode of one changed path (ConfigChange.path); an unknown path is `restart` (fail closed). */
export function modeOf(path: string): ReloadMode {
  const [top = '', sub] = path.split(/[.[]/, 2)
  const entry: ReloadMode | Readonly<Record<string, ReloadMode>> | undefined = (RELOAD_MODES as Record<string, ReloadMode | Readonly<Record<string, ReloadMode>>>)[top]
  if (entry === undefined) return 'restart'
  if (typeof entry === 'string') return entry
  return (sub !== undefined ? entry[sub] : undefined) ?? 'restart'
}

export interface ReloadPlan {
  /** What the running gateway becomes: `next` with every restart-only key kept at its running value. */
  readonly effective: Config
  readonly live: readonly ConfigChange[]
  readonly restartNeeded: readonly ConfigChange[]
}

export function planReload(running: Config, next: Config, changes: readonly ConfigChange[]): ReloadPlan {
  const live = changes.filter((c) => modeOf(c.path) === 'live')
  const restartNeeded = changes.filter((c) => modeOf(c.path) === 'restart')
  return { effective: effectiveConfig(running, next), live, restartNeeded }
}

/** `next` with the restart-only sections and keys taken from `running`; frozen like a loaded config. */
export function effectiveConfig(running: Config, next: Config): Config {
  const out: Record<string, unknown> = {}
  for (const [top, mode] of Object.entries(RELOAD_MODES)) {
    const key = top as keyof Config
    if (mode === 'live') out[key] = next[key]
    else if (mode === 'restart') out[key] = running[key]
    else out[key] = Object.freeze(mergeByMode(running[key] as Record<string, unknown>, next[key] as Record<string, unknown>, mode))
  }
  return Object.freeze(out) as Config
}

function mergeByMode(running: Record<string, unknown>, next: Record<string, unknown>, modes: Readonly<Record<string, ReloadMode>>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, mode] of Object.entries(modes)) {
    const value = mode === 'live' ? next[key] : running[key]
    // exactOptionalPropertyTypes: an absent optional key stays absent rather than `undefined`.
    if (value !== undefined) out[key] = value
  }
  return out
}
