import { randomUUID } from 'node:crypto'
import type { Socket } from 'node:net'
import type { Logger } from 'pino'
import type { Admitted } from '../../../proxy/lifecycle/context'
import type { WarmUpstreams } from '../../../proxy/stages/upstream'
import type { Metrics } from '../../../observability/metrics'
import type { InstanceRecord } from '../../../store/records'
import type { ProtocolName } from '../../names'
import type { FieldTable } from '../field-table'
import { handOut } from './handed-out'
import { ParkedBackend } from './parked'
import { poolKeyOf, type PoolKey } from './pool-key'
import { pooledClientProperties } from './pooled-properties'
import { loginAhead, type PoolLogin } from './login-ahead'

export interface WarmPoolSettings {
  /** Parked connections wanted per key; 0 = the pool is off. */
  readonly size: number
  /** A parked connection older than this is closed, never handed out. */
  readonly maxIdleMs: number
  /** The whole pool login (connect, TLS, header … Tune) must finish within this. */
  readonly loginTimeoutMs: number
  readonly maxFrameBytes: number
}

export type PoolMetrics = Pick<Metrics, 'amqpPoolParked' | 'amqpPoolTaken' | 'amqpPoolMissed' | 'amqpPoolExpired' | 'amqpPoolFailed' | 'amqpPoolDiscarded'>

export interface AmqpWarmPoolOptions {
  /** Read at every take and refill, so that a config reload applies to the next client. */
  readonly settings: () => WarmPoolSettings
  readonly processId: string
  readonly metrics: PoolMetrics
  readonly logger: Pick<Logger, 'debug'>
  /**
   * The instance as the directory holds it now: a client whose record is not the current one
   * (authenticated just before a change) gets no pooled connection and starts none.
   */
  readonly currentInstance?: (id: string) => InstanceRecord | undefined
  readonly login?: PoolLogin
  readonly now?: () => number
}

/** After a failed pool login (or a parked connection the broker closed), no new one for this long. */
const RETRY_AFTER_FAILURE_MS = 1_000

/** The pool of one key: interchangeable connections (pool-key.ts), oldest first. */
interface KeyState {
  readonly key: PoolKey
  /** The record the connections are made from (its backend is the fingerprinted one). */
  readonly instance: InstanceRecord
  readonly parked: ParkedBackend[]
  opening: number
  /** The last client of this key, pooled or not: connections are replaced only for demand since they were parked. */
  lastDemandAt: number
  retryAfter: number
  /** False once the broker refused a retirement's Open: then retirements just close. */
  quietRetire: boolean
  timer: NodeJS.Timeout | undefined
  /** Dropped (instance changed, gateway stopping): what is still being opened for it is closed. */
  dropped: boolean
}

/**
 * The AMQP warm pool (issue 15): per instance and capability set, up to `size` backend
 * connections logged in ahead of their clients and parked right after RabbitMQ's Connection.Tune.
 *
 * Why Tune and not Open-Ok: what follows Tune is the client's to say. Its Tune-Ok sets frame-max
 * and heartbeat (a client that lowers frame-max must never get bigger frames; one with heartbeat 0
 * must not be closed for missing heartbeats), and its Open names the vhost — so one pool per
 * instance serves every vhost, and a pooled connection behaves exactly as one opened for the
 * client. What the pool saves is the TCP/TLS connect, the header, Start, Start-Ok and the broker's
 * own authentication: everything on the client's path to Open-Ok but one round trip.
 *
 * Guarantees:
 * - each connection is handed to one client, never back to the pool;
 * - demand-driven and bounded: no pool for a key until a client of it comes; each client (pooled
 *   or not) tops it up to `size`; a connection parked longer than `maxIdleMs` (under RabbitMQ's
 *   10 s handshake_timeout) is closed, and replaced only if a client came since it was parked;
 * - fail closed, lose nothing: a connection that closed, errored or heard anything while parked
 *   is dropped, never handed out; with none usable the client's login runs cold, as without a pool;
 * - an instance change (backend password rotation, update, delete, a config reload that changes
 *   it) drops the instance's connections; `close()` (gateway stop) closes every one and waits.
 */
export class AmqpWarmPool implements WarmUpstreams {
  private readonly states = new Map<string, KeyState>()
  private readonly logins = new Set<AbortController>()
  private readonly pending = new Set<Promise<unknown>>()
  private readonly login: PoolLogin
  private readonly now: () => number
  private closed = false

  constructor(private readonly options: AmqpWarmPoolOptions) {
    this.login = options.login ?? loginAhead
    this.now = options.now ?? Date.now
  }

  /** A parked connection for this client, or undefined (then the upstream stage opens one). */
  take(ctx: Admitted<unknown>, protocol: ProtocolName): Socket | undefined {
    if (this.closed || protocol !== 'amqp') return undefined
    const settings = this.options.settings()
    const instance = ctx.instance
    if (settings.size === 0 || instance.protocol !== 'amqp' || instance.backend.kind !== 'tcp') return undefined
    if (this.options.currentInstance !== undefined && this.options.currentInstance(instance.id) !== instance) return undefined
    const clientProperties = clientPropertiesOf(ctx.hello)
    if (clientProperties === undefined) return undefined
    const key = poolKeyOf(instance, clientProperties)
    const now = this.now()
    const state = this.stateFor(key, instance, now)
    state.lastDemandAt = now
    let taken: ParkedBackend | undefined
    while (taken === undefined && state.parked.length > 0) {
      const candidate = state.parked.shift() as ParkedBackend
      this.options.metrics.amqpPoolParked.dec({ instance: key.instanceId })
      if (candidate.usable(now, settings.maxIdleMs)) taken = candidate
      else if (now - candidate.parkedAt >= settings.maxIdleMs) this.expired(state, candidate)
      else this.failedWhileParked(state, candidate)
    }
    this.refill(state, settings)
    this.schedule(state, settings)
    if (taken === undefined) {
      this.options.metrics.amqpPoolMissed.inc({ instance: key.instanceId })
      return undefined
    }
    this.options.metrics.amqpPoolTaken.inc({ instance: key.instanceId })
    handOut(taken.socket, taken.handOver())
    return taken.socket
  }

  /** The instance changed or went away: its parked connections were made from what it was. */
  dropInstance(instanceId: string): void {
    for (const state of [...this.states.values()]) {
      if (state.key.instanceId === instanceId) this.drop(state, 'instance_changed')
    }
  }

  /** Gateway stop: no new logins, every parked connection closed; resolves once all are. */
  async close(): Promise<void> {
    this.closed = true
    for (const controller of this.logins) controller.abort()
    for (const state of [...this.states.values()]) this.drop(state, 'shutdown')
    while (this.pending.size > 0) await Promise.allSettled([...this.pending])
  }

  /** Parked connections per key now, oldest first (tests, and the gauge's meaning). */
  parkedCount(instanceId?: string): number {
    let n = 0
    for (const state of this.states.values()) if (instanceId === undefined || state.key.instanceId === instanceId) n += state.parked.length
    return n
  }

  private stateFor(key: PoolKey, instance: InstanceRecord, now: number): KeyState {
    const known = this.states.get(key.id)
    if (known !== undefined) return known
    const state: KeyState = { key, instance, parked: [], opening: 0, lastDemandAt: now, retryAfter: 0, quietRetire: true, timer: undefined, dropped: false }
    this.states.set(key.id, state)
    return state
  }

  private refill(state: KeyState, settings: WarmPoolSettings): void {
    if (this.closed || state.dropped || this.now() < state.retryAfter) return
    while (state.parked.length + state.opening < settings.size) {
      state.opening += 1
      this.track(this.openOne(state, settings))
    }
  }

  private async openOne(state: KeyState, settings: WarmPoolSettings): Promise<void> {
    const poolConnectionId = randomUUID()
    const controller = new AbortController()
    this.logins.add(controller)
    const timer = setTimeout(() => controller.abort(), settings.loginTimeoutMs)
    const properties = pooledClientProperties(poolConnectionId, this.options.processId, state.key.capabilities)
    const result = await this.login(state.instance, properties, controller.signal, settings)
      .catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))))
    clearTimeout(timer)
    this.logins.delete(controller)
    state.opening -= 1
    if (result instanceof Error) {
      if (!this.closed && !state.dropped) {
        this.options.metrics.amqpPoolFailed.inc({ instance: state.key.instanceId, stage: 'login' })
        this.options.logger.debug({ instance: state.key.instanceId, err: result.message }, 'warm pool login failed; clients log in cold')
        state.retryAfter = this.now() + RETRY_AFTER_FAILURE_MS
        this.schedule(state, this.options.settings())
      }
      return
    }
    const parked = new ParkedBackend(result.socket, result.tuned, poolConnectionId, this.now(), settings.maxFrameBytes, (lost) => this.lost(state, lost))
    if (this.closed || state.dropped) {
      this.retire(state, parked)
      return
    }
    state.parked.push(parked)
    this.options.metrics.amqpPoolParked.inc({ instance: state.key.instanceId })
    this.schedule(state, this.options.settings())
  }

  /** The broker closed or broke a parked connection (its 'close', 'end', 'error' or bytes). */
  private lost(state: KeyState, parked: ParkedBackend): void {
    const at = state.parked.indexOf(parked)
    if (at < 0) return
    state.parked.splice(at, 1)
    this.options.metrics.amqpPoolParked.dec({ instance: state.key.instanceId })
    this.failedWhileParked(state, parked)
    this.schedule(state, this.options.settings())
  }

  private failedWhileParked(state: KeyState, parked: ParkedBackend): void {
    this.options.metrics.amqpPoolFailed.inc({ instance: state.key.instanceId, stage: 'parked' })
    state.retryAfter = this.now() + RETRY_AFTER_FAILURE_MS
    this.retire(state, parked)
  }

  private expired(state: KeyState, parked: ParkedBackend): void {
    this.options.metrics.amqpPoolExpired.inc({ instance: state.key.instanceId })
    this.retire(state, parked)
  }

  /** The timer of a key: its oldest connection's expiry, or the end of a retry pause; none left = no pool. */
  private schedule(state: KeyState, settings: WarmPoolSettings): void {
    if (state.timer !== undefined) clearTimeout(state.timer)
    state.timer = undefined
    if (this.closed || state.dropped) return
    const now = this.now()
    const oldest = state.parked[0]
    let wakeAt: number
    if (oldest !== undefined) wakeAt = oldest.parkedAt + settings.maxIdleMs
    else if (state.opening > 0) return // openOne schedules again when it is done
    else if (now < state.retryAfter) wakeAt = state.retryAfter
    else {
      this.states.delete(state.key.id)
      return
    }
    state.timer = setTimeout(() => this.expire(state), Math.max(0, wakeAt - now))
    state.timer.unref()
  }

  private expire(state: KeyState): void {
    state.timer = undefined
    const settings = this.options.settings()
    const now = this.now()
    let wanted = false
    for (let oldest = state.parked[0]; oldest !== undefined && now - oldest.parkedAt >= settings.maxIdleMs; oldest = state.parked[0]) {
      state.parked.shift()
      this.options.metrics.amqpPoolParked.dec({ instance: state.key.instanceId })
      this.expired(state, oldest)
      if (state.lastDemandAt > oldest.parkedAt) wanted = true
    }
    if (wanted) this.refill(state, settings)
    this.schedule(state, settings)
  }

  private drop(state: KeyState, cause: 'instance_changed' | 'shutdown'): void {
    state.dropped = true
    if (state.timer !== undefined) clearTimeout(state.timer)
    state.timer = undefined
    this.states.delete(state.key.id)
    for (const parked of state.parked.splice(0)) {
      this.options.metrics.amqpPoolParked.dec({ instance: state.key.instanceId })
      this.options.metrics.amqpPoolDiscarded.inc({ instance: state.key.instanceId, cause })
      this.retire(state, parked)
    }
  }

  private retire(state: KeyState, parked: ParkedBackend): void {
    const vhost = state.quietRetire ? state.instance.backend.vhost ?? '/' : undefined
    this.track(parked.retire(vhost).then((outcome) => {
      if (outcome === 'refused') state.quietRetire = false
    }))
  }

  /** Work close() waits for; each piece handles its own failures, and a bug in one must not be an unhandled rejection. */
  private track(work: Promise<unknown>): void {
    const settled = work.catch((err: unknown) => this.options.logger.debug({ err: String(err) }, 'warm pool task failed'))
    this.pending.add(settled)
    void settled.finally(() => this.pending.delete(settled))
  }
}

/** The AMQP hello's client-properties (phases.ts AmqpHello), checked rather than assumed. */
function clientPropertiesOf(hello: unknown): FieldTable | undefined {
  if (typeof hello !== 'object' || hello === null) return undefined
  const properties = (hello as { clientProperties?: unknown }).clientProperties
  return properties instanceof Map ? properties as FieldTable : undefined
}
