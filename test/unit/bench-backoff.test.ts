import t from 'tap'
import { backoffWindow, DEFAULT_BACKOFF, fullJitterDelay } from '../../bench/load/backoff'

/** A small deterministic generator (LCG, Numerical Recipes constants) in [0, 1). */
function seeded(seed: number): () => number {
  let x = seed >>> 0
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    return x / 2 ** 32
  }
}

t.test('the backoff window doubles from the base after each failure and stops at the cap', async (t) => {
  const b = { baseMs: 1000, capMs: 30_000 }
  t.same([1, 2, 3, 4, 5, 6, 7, 50].map((k) => backoffWindow(k, b)), [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000])
  t.equal(backoffWindow(10_000, b), 30_000, 'a huge failure count is still the cap, not Infinity or NaN')
})

t.test('a window is refused for a failure count that is not a positive integer', async (t) => {
  t.throws(() => backoffWindow(0, DEFAULT_BACKOFF), RangeError)
  t.throws(() => backoffWindow(1.5, DEFAULT_BACKOFF), RangeError)
})

t.test('full jitter delays fall in [0, window) at both ends of the random range', async (t) => {
  const b = { baseMs: 1000, capMs: 30_000 }
  t.equal(fullJitterDelay(3, b, () => 0), 0)
  t.equal(fullJitterDelay(3, b, () => 0.999_999_9), 3999)
  t.equal(fullJitterDelay(9, b, () => 0.5), 15_000, 'half of the capped window')
})

t.test('full jitter spreads a storm uniformly over the window (mean about half of it)', async (t) => {
  const b = { baseMs: 1000, capMs: 30_000 }
  const random = seeded(42)
  const delays = Array.from({ length: 20_000 }, () => fullJitterDelay(4, b, random))
  const mean = delays.reduce((a, d) => a + d, 0) / delays.length
  t.ok(Math.abs(mean - 4000) < 100, `mean ${mean.toFixed(0)} ms is about 4,000`)
  t.ok(delays.every((d) => d >= 0 && d < 8000 && Number.isInteger(d)), 'every delay is a whole ms in [0, 8000)')
  const firstHalf = delays.filter((d) => d < 4000).length / delays.length
  t.ok(Math.abs(firstHalf - 0.5) < 0.02, `${(100 * firstHalf).toFixed(1)} % in the first half`)
})

t.test('the default is mqtt.js-like: 1 s first, capped at 30 s', async (t) => {
  t.same(DEFAULT_BACKOFF, { baseMs: 1000, capMs: 30_000 })
})
