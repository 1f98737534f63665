/**
 * Reconnect delays of a device fleet (issue 15: "retry with jittered backoff as real clients do").
 * Exponential backoff with full jitter: after the k-th failure in a row a device waits a uniform
 * random time in [0, min(cap, base · 2^(k−1))). mqtt.js waits a fixed `reconnectPeriod` (1 s); the
 * exponent and the jitter are what fleets add so that a storm spreads out instead of returning in
 * waves, and full jitter (rather than "half" or "equal" jitter) spreads it most for the same cap.
 */
export interface Backoff {
  /** The first retry's window, ms (mqtt.js `reconnectPeriod` default: 1,000). */
  baseMs: number
  /** The longest window, ms. */
  capMs: number
}

export const DEFAULT_BACKOFF: Backoff = { baseMs: 1000, capMs: 30_000 }

/** The window after `failures` failures in a row (≥ 1): base · 2^(failures−1), at most cap. */
export function backoffWindow(failures: number, b: Backoff): number {
  if (!Number.isInteger(failures) || failures < 1) throw new RangeError(`failures must be a positive integer, not ${failures}`)
  // 2^31 already exceeds any cap in ms; stopping the exponent there keeps the product finite.
  return Math.min(b.capMs, b.baseMs * 2 ** Math.min(failures - 1, 31))
}

/** The delay before the next attempt: uniform in [0, window). `random` is Math.random's contract. */
export function fullJitterDelay(failures: number, b: Backoff, random: () => number = Math.random): number {
  return Math.floor(random() * backoffWindow(failures, b))
}
