import { readFileSync } from 'node:fs'
import { performance, type EventLoopUtilization } from 'node:perf_hooks'

/**
 * How many handshakes may be in flight at once, found from what this process can finish rather
 * than fixed (issue 15: "refused early and cheaply, never timed out mid-handshake").
 *
 * A handshake is mostly CPU (ECDHE, signatures, chain checks). When the event loop is saturated,
 * every handshake admitted shares the same core with all the others, so by Little's law one
 * admitted now takes about inFlight ÷ (handshakes completed per second). A fixed ceiling sized for
 * an idle core (maxHandshakesInFlight) is several seconds of queued work once the core is shared —
 * with other processes, or with other workers — and then handshakes already paid for run into
 * `handshakeTimeoutMs`. So, sampled every `sampleMs`:
 *
 * - loop saturated and the limit was pressed: limit = completion rate × target, where the target
 *   is a fraction of the handshake deadline (gate refusals before TLS are what is left over);
 * - loop not saturated and the limit was pressed: there is CPU to spare, so it grows;
 * - the limit not pressed: nothing is learnt, it stays;
 * - and first of all, an admitted handshake that passed its deadline (HANDSHAKE_TIMEOUT) means
 *   the estimate was too high — the core's share fell after the handshake was admitted — so the
 *   limit and the estimate are halved at once, whatever else the sample says.
 *
 * "Saturated" is the event-loop thread's demand for CPU: the share of the interval it was running
 * or waiting to run (Linux's /proc/self/schedstat, main thread), else the loop's own utilisation.
 * Utilisation alone can miss a core shared with other processes or workers: a starved loop that
 * wakes for its events waits for the CPU while libuv still counts it as idle in epoll (a probe on a
 * loaded machine: 0.6–0.8 utilisation with 0.09 of a core obtained), and then the limit would grow
 * exactly when it must shrink.
 *
 * It only ever uses that demand and the completions it is told of, never the age of a single
 * handshake: a client that stalls its own handshake costs no CPU and must not make the gateway
 * refuse everybody else. Slow networks do not trip it either (long handshakes with an idle, asleep
 * loop mean "not saturated").
 */
export interface AdaptiveLimitOptions {
  /** The ceiling: limits.maxHandshakesInFlight. */
  readonly max: number
  /** What an admitted handshake should take at most when the core is the bottleneck. */
  readonly targetMs: number
  readonly initial?: number
  readonly floor?: number
}

/** One sampling interval, as the sampler saw it. */
export interface AdmissionSample {
  readonly elapsedMs: number
  /** The loop's demand for CPU over the interval, 0..1 (or more where the two readings overlap). */
  readonly demand: number
  readonly completions: number
  /** Whether a handshake found the limit full during the interval. */
  readonly pressed: boolean
  /** Admitted handshakes refused HANDSHAKE_TIMEOUT during the interval. */
  readonly deadlinesPassed?: number
}

/** Above this the loop has no time left to give a new handshake without slowing the others. */
export const SATURATED = 0.8
/**
 * Before anything is measured, assume a handshake costs 20 ms of wall time (3–4 ms of CPU on a
 * core shared five ways): 125 in flight for the default 2.5 s target.
 */
const ASSUMED_HANDSHAKE_MS = 20
const DEFAULT_FLOOR = 16
/** Weight of the newest saturated sample in the completion-rate estimate. */
const RATE_WEIGHT = 0.5

export class AdaptiveLimit {
  readonly max: number
  readonly floor: number
  readonly targetMs: number
  private value: number
  /** Handshakes completed per second while saturated: what this process can do. */
  private capacity = 0

  constructor(options: AdaptiveLimitOptions) {
    this.max = options.max
    this.floor = Math.min(options.max, options.floor ?? DEFAULT_FLOOR)
    this.targetMs = options.targetMs
    this.value = this.clamp(options.initial ?? Math.floor(options.targetMs / ASSUMED_HANDSHAKE_MS))
  }

  get current(): number {
    return this.value
  }

  /** Completions per second measured under saturation (0 until the loop has been saturated). */
  get completionRate(): number {
    return this.capacity
  }

  observe(sample: AdmissionSample): void {
    if ((sample.deadlinesPassed ?? 0) > 0) {
      this.value = this.clamp(Math.floor(this.value / 2))
      this.capacity /= 2
      return
    }
    if (!sample.pressed || sample.elapsedMs <= 0) return
    if (sample.demand >= SATURATED) {
      // No completion yet (the first of a storm's handshakes are still sharing the core): no
      // estimate to act on, so keep the limit rather than collapse it.
      if (sample.completions === 0) return
      const rate = sample.completions * 1000 / sample.elapsedMs
      this.capacity = this.capacity === 0 ? rate : this.capacity + RATE_WEIGHT * (rate - this.capacity)
      this.value = this.clamp(Math.round(this.capacity * this.targetMs / 1000))
      return
    }
    this.value = this.clamp(this.value + Math.max(this.floor, Math.ceil(this.value / 2)))
  }

  private clamp(n: number): number {
    return Math.max(this.floor, Math.min(this.max, n))
  }
}

/**
 * Feeds an AdaptiveLimit from the real event loop: an unref'd timer every `sampleMs` reads the
 * main thread's CPU demand since the last sample and the completions counted meanwhile. The
 * per-connection cost is an integer increment (`completed`) and a boolean (`limitReached`); the
 * readings are here, four times a second.
 */
export class AdmissionSampler {
  private completions = 0
  private pressed = false
  private deadlines = 0
  private readonly demand: DemandMeter
  private lastAt = performance.now()
  private readonly timer: NodeJS.Timeout

  constructor(private readonly limit: AdaptiveLimit, sampleMs = 250) {
    this.demand = schedstat() !== undefined ? new SchedstatDemand() : new UtilizationDemand()
    this.timer = setInterval(() => this.sample(), sampleMs)
    this.timer.unref()
  }

  completed(): void {
    this.completions++
  }

  limitReached(): void {
    this.pressed = true
  }

  deadlinePassed(): void {
    this.deadlines++
  }

  close(): void {
    clearInterval(this.timer)
  }

  private sample(): void {
    const now = performance.now()
    const elapsedMs = now - this.lastAt
    this.limit.observe({
      elapsedMs, demand: this.demand.since(elapsedMs), completions: this.completions, pressed: this.pressed, deadlinesPassed: this.deadlines,
    })
    this.lastAt = now
    this.completions = 0
    this.pressed = false
    this.deadlines = 0
  }
}

interface DemandMeter {
  /** Demand over the last `elapsedMs`, and start the next interval. */
  since(elapsedMs: number): number
}

/** Running + waiting for a CPU, from the kernel's scheduler statistics of the main thread. */
class SchedstatDemand implements DemandMeter {
  private last = schedstat() ?? { runNs: 0, waitNs: 0 }

  since(elapsedMs: number): number {
    const now = schedstat()
    if (now === undefined || elapsedMs <= 0) return 0
    const busyNs = (now.runNs - this.last.runNs) + (now.waitNs - this.last.waitNs)
    this.last = now
    return busyNs / (elapsedMs * 1e6)
  }
}

/** Where schedstat cannot be read: libuv's own account (blind to CPU taken by others). */
class UtilizationDemand implements DemandMeter {
  private last: EventLoopUtilization = performance.eventLoopUtilization()

  since(): number {
    const delta = performance.eventLoopUtilization(this.last)
    this.last = performance.eventLoopUtilization()
    return delta.utilization
  }
}

/** /proc/self/schedstat: "<ns on a CPU> <ns runnable, waiting for one> <timeslices>" of the main thread. */
function schedstat(): { runNs: number; waitNs: number } | undefined {
  try {
    const [run, wait] = readFileSync('/proc/self/schedstat', 'utf8').split(' ')
    const runNs = Number(run)
    const waitNs = Number(wait)
    return Number.isFinite(runNs) && Number.isFinite(waitNs) ? { runNs, waitNs } : undefined
  } catch {
    return undefined
  }
}
