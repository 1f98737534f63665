import { monitorEventLoopDelay } from 'node:perf_hooks'
import { connect as tlsConnect, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls'
import { fullJitterDelay, type Backoff } from './backoff'
import { ConnectTemplate, DISCONNECT } from './mqtt-wire'
import { classifyError, failureKey, type Failure, type StormPhase } from './storm-outcome'

/**
 * One generator process's share of a reconnect storm (issue 15): every device it plays starts its
 * first attempt at the same instant (`startAt`, a wall-clock time shared by the processes of the
 * pool), on a raw `tls.connect` with its own client certificate and a pre-encoded CONNECT, and
 * after a failure retries with exponential backoff and full jitter (backoff.ts) until it has a
 * CONNACK 0 or the storm's deadline passes. Connected devices stay connected, silent (keepalive
 * 0), until stormRelease(), as a fleet does after it came back.
 *
 * No mqtt.js: a device costs the generator one TLS client handshake and two small writes, so that
 * the endpoint and not the generator is what a storm measures (its event-loop delay is reported
 * to show whether that held).
 */
export interface StormTarget {
  host: string
  port: number
  servername: string
  /** The server CA, PEM: devices verify the endpoint as real ones do. */
  ca: string
}

export interface StormPrepareArgs {
  target: StormTarget
  /** The client certificates this process needs (an index into the run's pool, and the PEMs). */
  certs: Array<{ index: number; cert: string; key: string }>
  /** The devices this process plays: fleet number and the pool index of its certificate. */
  devices: Array<{ n: number; cert: number }>
  /** Client identifiers are this prefix and 12 digits of the fleet number. */
  clientIdPrefix: string
  /** A device's own limit for one attempt, TCP connect to CONNACK (mqtt.js `connectTimeout`). */
  attemptTimeoutMs: number
  backoff: Backoff
}

export interface StormRunArgs {
  /** Wall-clock ms (performance.timeOrigin + now()) at which every device starts. */
  startAt: number
  /** Wall-clock ms after which no attempt starts and unfinished ones are abandoned. */
  deadline: number
}

export interface StormShare {
  devices: number
  connected: number
  /** Per connected device: its first attempt's start → CONNACK 0, ms. */
  connectMs: number[]
  /** Per connected device: startAt → CONNACK 0, ms (the storm's clock). */
  connectedAtMs: number[]
  /** Per connected device: the successful attempt alone, start → CONNACK 0, ms. */
  lastAttemptMs: number[]
  attempts: number
  /** Failed attempts by failureKey(). */
  failures: Record<string, number>
  /** Devices still trying (or waiting to retry) when the deadline passed. */
  unfinished: number
  /** Connected devices whose connection the endpoint closed before the release. */
  lostAfterConnect: number
  /** Latest first-attempt start after startAt, ms: how long starting them all took this process. */
  startSpreadMs: number
  /** This process's event-loop delay during the storm, ms (a busy generator delays every CONNACK it reads). */
  loopDelayP99Ms: number
  loopDelayMaxMs: number
}

const wall = (): number => performance.timeOrigin + performance.now()

let prepared: { args: StormPrepareArgs; contexts: Map<number, SecureContext>; template: ConnectTemplate } | undefined
let held: TLSSocket[] = []

/** Builds the secure contexts (PEM and key parsing happen here, not during the storm). */
export async function stormPrepare(args: StormPrepareArgs): Promise<{ contexts: number; devices: number }> {
  const contexts = new Map<number, SecureContext>()
  for (const c of args.certs) contexts.set(c.index, createSecureContext({ ca: args.target.ca, cert: c.cert, key: c.key }))
  prepared = { args, contexts, template: new ConnectTemplate(args.clientIdPrefix) }
  return { contexts: contexts.size, devices: args.devices.length }
}

export async function stormRun(run: StormRunArgs): Promise<StormShare> {
  if (prepared === undefined) throw new Error('stormRun before stormPrepare')
  const { args, contexts, template } = prepared
  const share: StormShare = {
    devices: args.devices.length, connected: 0, connectMs: [], connectedAtMs: [], lastAttemptMs: [], attempts: 0,
    failures: {}, unfinished: 0, lostAfterConnect: 0, startSpreadMs: 0, loopDelayP99Ms: 0, loopDelayMaxMs: 0,
  }
  const loop = monitorEventLoopDelay({ resolution: 10 })
  const wait = run.startAt - wall()
  if (wait > 0) await new Promise((r) => setTimeout(r, wait))
  loop.enable()
  await new Promise<void>((resolveAll) => {
    let open = args.devices.length
    const settled = (): void => {
      if (--open === 0) resolveAll()
    }
    const devices = args.devices.map((d) => {
      const context = contexts.get(d.cert)
      if (context === undefined) throw new Error(`no certificate ${d.cert} for device ${d.n}`)
      return new Device(context, template.encode(d.n), args, run, share, settled)
    })
    // Every device's first attempt in this turn: as close to "at once" as one process gets.
    for (const device of devices) device.attempt()
    share.startSpreadMs = wall() - run.startAt
    if (devices.length === 0) resolveAll()
  })
  loop.disable()
  share.loopDelayP99Ms = loop.percentile(99) / 1e6
  share.loopDelayMaxMs = loop.max / 1e6
  return share
}

/**
 * Connects every device once, `concurrency` at a time per process, and disconnects it: the
 * endpoint then knows the fleet (Portcullis registers a device certificate it sees for the first
 * time and caches its verified chain), as it does before an outage, and its connection code is
 * warm. Unmeasured.
 */
export async function stormPrime(a: { concurrency: number }): Promise<{ connected: number; failures: number; firstError?: string }> {
  if (prepared === undefined) throw new Error('stormPrime before stormPrepare')
  const { args, contexts, template } = prepared
  let next = 0
  let connected = 0
  let failures = 0
  let firstError: string | undefined
  await Promise.all(Array.from({ length: a.concurrency }, async () => {
    while (next < args.devices.length) {
      const d = args.devices[next++]
      const context = d === undefined ? undefined : contexts.get(d.cert)
      if (d === undefined || context === undefined) continue
      try {
        await connectOnce(args.target, context, template.encode(d.n), args.attemptTimeoutMs)
        connected++
      } catch (err) {
        failures++
        firstError ??= err instanceof Error ? err.message : String(err)
      }
    }
  }))
  await new Promise((r) => setTimeout(r, 200))
  return { connected, failures, ...(firstError !== undefined ? { firstError } : {}) }
}

/** TLS + CONNECT, CONNACK 0, DISCONNECT; rejects on anything else. */
function connectOnce(t: StormTarget, context: SecureContext, connect: Buffer, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: t.host, port: t.port, servername: t.servername, secureContext: context }, () => s.write(connect))
    const timer = setTimeout(() => done(new Error(`no CONNACK within ${timeoutMs} ms`)), timeoutMs)
    let reply = Buffer.alloc(0)
    let finished = false
    const done = (err?: Error): void => {
      if (finished) return
      finished = true
      clearTimeout(timer)
      s.removeAllListeners('data')
      if (err === undefined) {
        s.end(DISCONNECT)
        setTimeout(() => s.destroy(), 1000).unref()
        resolve()
      } else {
        s.destroy()
        reject(err)
      }
    }
    s.on('data', (chunk: Buffer) => {
      reply = Buffer.concat([reply, chunk])
      if (reply.length >= 4) done(reply[0] === 0x20 && reply[3] === 0 ? undefined : new Error(`CONNACK ${reply.subarray(0, 4).toString('hex')}`))
    })
    s.once('error', (err) => done(err))
    s.once('close', () => done(new Error('closed before CONNACK')))
  })
}

/** Closes every connected device (DISCONNECT, then the socket). */
export async function stormRelease(): Promise<{ closed: number }> {
  const closed = held.length
  for (const s of held) {
    s.removeAllListeners('close')
    s.end(DISCONNECT)
    setTimeout(() => s.destroy(), 1000).unref()
  }
  held = []
  prepared = undefined
  await new Promise((r) => setTimeout(r, 1200))
  return { closed }
}

class Device {
  private failuresInARow = 0
  private firstStart = 0
  private attemptStart = 0
  private phase: StormPhase = 'tcp'
  private socket: TLSSocket | undefined
  private timer: NodeJS.Timeout | undefined
  private reply: Buffer | undefined
  private live = false
  private connected = false

  constructor(
    private readonly context: SecureContext,
    private readonly connect: Buffer,
    private readonly args: StormPrepareArgs,
    private readonly run: StormRunArgs,
    private readonly share: StormShare,
    private readonly settled: () => void,
  ) {}

  attempt(): void {
    const now = wall()
    if (now >= this.run.deadline) return this.abandon()
    this.share.attempts++
    if (this.firstStart === 0) this.firstStart = now
    this.attemptStart = now
    this.phase = 'tcp'
    this.reply = undefined
    this.live = true
    const t = this.args.target
    const s = tlsConnect({ host: t.host, port: t.port, servername: t.servername, secureContext: this.context })
    this.socket = s
    s.once('connect', () => { if (this.socket === s) this.phase = 'accept' })
    // The first secret is derived from the ServerHello: from then on the endpoint is working on it.
    s.once('keylog', () => { if (this.socket === s && this.phase === 'accept') this.phase = 'tls' })
    s.once('secureConnect', () => {
      if (this.socket !== s) return
      this.phase = 'mqtt'
      s.setNoDelay(true)
      s.write(this.connect)
    })
    s.on('data', (chunk: Buffer) => this.onData(s, chunk))
    s.on('error', (err: NodeJS.ErrnoException) => { if (this.socket === s) this.fail(classifyError(err, this.phase)) })
    s.on('close', () => {
      if (this.socket !== s) return
      if (this.connected) {
        this.share.lostAfterConnect++
        return
      }
      this.fail({ kind: 'closed', phase: this.phase })
    })
    // Never past the deadline: a device still in an attempt then is unfinished, not a timeout.
    const limit = Math.min(this.args.attemptTimeoutMs, Math.max(1, this.run.deadline - now))
    const timedOut = limit === this.args.attemptTimeoutMs
    this.timer = setTimeout(() => (timedOut ? this.fail({ kind: 'timeout', phase: this.phase }) : this.abandon()), limit)
  }

  private onData(s: TLSSocket, chunk: Buffer): void {
    if (this.socket !== s || this.connected) return
    this.reply = this.reply === undefined ? chunk : Buffer.concat([this.reply, chunk])
    if (this.reply.length < 4) return
    // CONNACK: 0x20, remaining length 2, flags, return code (MQTT 3.1.1 §3.2).
    const rc = this.reply[0] === 0x20 ? this.reply[3] : undefined
    if (rc === 0) return this.succeed(s)
    this.fail({ kind: rc === undefined ? 'other' : 'connack', phase: 'mqtt', detail: rc === undefined ? `first packet 0x${(this.reply[0] ?? 0).toString(16)}` : String(rc) })
  }

  private succeed(s: TLSSocket): void {
    clearTimeout(this.timer)
    const now = wall()
    this.connected = true
    this.live = false
    this.share.connected++
    this.share.connectMs.push(now - this.firstStart)
    this.share.connectedAtMs.push(now - this.run.startAt)
    this.share.lastAttemptMs.push(now - this.attemptStart)
    held.push(s)
    this.settled()
  }

  private fail(f: Failure): void {
    if (!this.live) return
    this.live = false
    clearTimeout(this.timer)
    const s = this.socket
    this.socket = undefined
    s?.destroy()
    const key = failureKey(f)
    this.share.failures[key] = (this.share.failures[key] ?? 0) + 1
    this.failuresInARow++
    const delay = fullJitterDelay(this.failuresInARow, this.args.backoff)
    if (wall() + delay >= this.run.deadline) return this.abandon()
    setTimeout(() => this.attempt(), delay)
  }

  /** The deadline passed: whatever this device was doing is dropped, and it counts as unfinished. */
  private abandon(): void {
    clearTimeout(this.timer)
    const s = this.socket
    this.socket = undefined
    this.live = false
    s?.destroy()
    this.share.unfinished++
    this.settled()
  }
}
