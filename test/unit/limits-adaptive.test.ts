import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import t from 'tap'
import { AdaptiveLimit, SATURATED } from '../../src/proxy/limits/adaptive-limit'
import { HandshakeGate } from '../../src/proxy/limits/handshake-gate'

const sample = (over: Partial<{ elapsedMs: number; demand: number; completions: number; pressed: boolean; deadlinesPassed: number }>) => ({
  elapsedMs: 250, demand: 1, completions: 0, pressed: true, ...over,
})

t.test('starts at the target ÷ 20 ms (or the ceiling when that is lower) and never leaves [floor, max]', async (t) => {
  t.equal(new AdaptiveLimit({ max: 1024, targetMs: 2500 }).current, 125, 'the default deadline of 10 s: 2.5 s ÷ 20 ms')
  t.equal(new AdaptiveLimit({ max: 1024, targetMs: 100 }).current, 16, 'never under the floor')
  t.equal(new AdaptiveLimit({ max: 2, targetMs: 2500 }).current, 2, 'a ceiling under the start is the limit')
  const limit = new AdaptiveLimit({ max: 1024, targetMs: 2500, initial: 64 })
  limit.observe(sample({ completions: 1 }))
  t.equal(limit.current, 16, 'a saturated core completing 4/s: 4 × 2.5 s = 10, held at the floor')
  for (let i = 0; i < 20; i++) limit.observe(sample({ demand: 0.2 }))
  t.equal(limit.current, 1024, 'growing stops at maxHandshakesInFlight')
})

t.test('a saturated loop sets the limit to what it completes within the target', async (t) => {
  // The table: completions in one 250 ms sample on a saturated loop → the limit for a 2.5 s target.
  const table: Array<[number, number]> = [[75, 750], [25, 250], [10, 100], [250, 1024]]
  for (const [completions, expected] of table) {
    const limit = new AdaptiveLimit({ max: 1024, targetMs: 2500 })
    limit.observe(sample({ completions }))
    t.equal(limit.current, expected, `${completions} per 250 ms → ${expected}`)
    t.equal(limit.completionRate, completions * 4)
  }
})

t.test('the rate estimate moves halfway to each new saturated sample', async (t) => {
  const limit = new AdaptiveLimit({ max: 4096, targetMs: 1000 })
  limit.observe(sample({ completions: 100 }))
  t.equal(limit.completionRate, 400)
  limit.observe(sample({ completions: 50 }))
  t.equal(limit.completionRate, 300, 'a core that became shared halfway: 200/s measured, 300/s estimated')
  t.equal(limit.current, 300)
  limit.observe(sample({ completions: 50 }))
  t.equal(limit.current, 250)
})

t.test('what does not move it', async (t) => {
  const limit = new AdaptiveLimit({ max: 1024, targetMs: 2500, initial: 64 })
  limit.observe(sample({ completions: 10, pressed: false }))
  t.equal(limit.current, 64, 'not pressed: nothing learnt, even on a saturated loop (the load is not handshakes)')
  limit.observe(sample({ completions: 0 }))
  t.equal(limit.current, 64, 'saturated with no completion yet: no estimate, the limit stays rather than collapse')
  limit.observe(sample({ demand: 0.5, completions: 0, pressed: false }))
  t.equal(limit.current, 64, 'long handshakes on an idle loop (slow networks, stalled clients) without pressure: stays')
})

t.test('a handshake that passed its deadline halves the limit and the estimate at once', async (t) => {
  const limit = new AdaptiveLimit({ max: 1024, targetMs: 2500 })
  limit.observe(sample({ completions: 100 }))
  t.equal(limit.current, 1000)
  limit.observe(sample({ completions: 100, deadlinesPassed: 3 }))
  t.equal(limit.current, 500, 'whatever the sample says otherwise')
  t.equal(limit.completionRate, 200)
  limit.observe(sample({ completions: 100 }))
  t.equal(limit.current, 750, 'the estimate climbs back halfway per sample, not in one step')
  limit.observe(sample({ pressed: false, deadlinesPassed: 1 }))
  t.equal(limit.current, 375, 'even when not pressed')
})

t.test('the gate hears of deadlines from the audit: only HANDSHAKE_TIMEOUT refusals count', async (t) => {
  const gate = new HandshakeGate(1024, 0, 0, { targetMs: 2500, sampleMs: 20, initial: 64 })
  t.teardown(() => gate.close())
  const event = (type: string, reason: string) => ({ type, reason }) as unknown as Parameters<HandshakeGate['observe']>[0]
  gate.observe(event('connection.rejected', 'RATE_LIMITED'))
  gate.observe(event('session.kicked', 'HANDSHAKE_TIMEOUT'))
  await new Promise((resolve) => setTimeout(resolve, 60))
  t.equal(gate.limit, 64, 'other events leave it')
  gate.observe(event('connection.rejected', 'HANDSHAKE_TIMEOUT'))
  await new Promise((resolve) => setTimeout(resolve, 60))
  t.equal(gate.limit, 32)
})

t.test('pressed on a loop with time to spare, it grows by half (at least the floor)', async (t) => {
  const limit = new AdaptiveLimit({ max: 1024, targetMs: 2500, initial: 64 })
  limit.observe(sample({ demand: SATURATED - 0.01, completions: 3 }))
  t.equal(limit.current, 96)
  limit.observe(sample({ demand: 0.1, completions: 3 }))
  t.equal(limit.current, 144)
  const small = new AdaptiveLimit({ max: 1024, targetMs: 2500, initial: 16 })
  small.observe(sample({ demand: 0.1 }))
  t.equal(small.current, 32, 'at least floor (16) more')
})

t.test('the gate admits up to the adaptive limit, and a waiter gets a slot only under it', async (t) => {
  const gate = new HandshakeGate(1024, 4, 1000, { targetMs: 2500, sampleMs: 60_000, initial: 64 })
  t.teardown(() => gate.close())
  t.equal(gate.limit, 64)
  const holders = Array.from({ length: 64 }, () => ({}))
  for (const h of holders) t.equal(gate.acquire(h), true)
  const waiting = gate.acquire({})
  t.type(waiting, Promise, 'the 65th queues (the limit, not maxHandshakesInFlight, is full)')
  gate.release(holders[0] as object)
  t.equal(await waiting, true, 'a released slot goes to the waiter')
  t.equal(gate.inFlight, 64)
})

t.test('close refuses the waiters and stops the sampler', async (t) => {
  const gate = new HandshakeGate(1, 4, 10_000, { targetMs: 2500, initial: 64 })
  gate.acquire({})
  const waiting = gate.acquire({})
  gate.close()
  t.equal(await waiting, false)
})

/**
 * Keeps the loop busy for `ms` while releasing and re-taking 5 slots every 10 ms of busy time:
 * about 500 completions per second on a saturated loop. Answers the lowest limit seen.
 */
async function saturate(gate: HandshakeGate, held: object[], ms: number): Promise<number> {
  const end = Date.now() + ms
  let next = Date.now()
  let lowest = gate.limit
  while (Date.now() < end) {
    if (Date.now() >= next) {
      for (let i = 0; i < 5 && held.length > 0; i++) gate.release(held.shift() as object)
      // New handshakes take whatever slots the limit allows; the rest are refused or queued.
      while (true) {
        const fresh = {}
        if (gate.acquire(fresh) !== true) break
        held.push(fresh)
      }
      next += 10
      lowest = Math.min(lowest, gate.limit)
    }
    // Let the sampler's timer run between busy slices, keeping utilisation near 1.
    if (Date.now() % 50 === 0) await new Promise<void>((resolve) => setImmediate(resolve))
  }
  return lowest
}

t.test('the real sampler sees a saturated loop and lowers the limit to what completes', async (t) => {
  const gate = new HandshakeGate(1024, 0, 0, { targetMs: 100, sampleMs: 50, initial: 64 })
  t.teardown(() => gate.close())
  const held = Array.from({ length: 64 }, () => ({}))
  for (const h of held) gate.acquire(h)
  const lowest = await saturate(gate, held, 400)
  t.ok(lowest < 64 && lowest >= 16, `lowered from 64 to ${lowest} (about 500/s × 0.1 s = 50)`)
  t.ok(gate.completionRate > 0, `completion rate measured: ${Math.round(gate.completionRate)}/s`)
})

t.test('once a rate is measured, a newcomer whose turn would come after the wait is refused at once', async (t) => {
  // A long queue, so that only the rate can stop it.
  const waitMs = 100
  const fresh = new HandshakeGate(1024, 100_000, waitMs, { targetMs: 100, sampleMs: 50, initial: 64 })
  t.teardown(() => fresh.close())
  const held = Array.from({ length: 64 }, () => ({}))
  for (const h of held) fresh.acquire(h)
  // saturate() queues one waiter per slice as well (handed a slot or refused within the wait).
  await saturate(fresh, held, 400)
  const measured = fresh.completionRate
  t.ok(measured > 0, `completion rate measured: ${Math.round(measured)}/s`)
  const queuedBefore = fresh.waiting
  let queued = 0
  let refused: number | undefined
  for (let i = 0; i < 10_000 && refused === undefined; i++) {
    const answer = fresh.acquire({})
    if (answer === false) refused = i
    else if (answer !== true) queued++
  }
  const fits = Math.floor((measured * waitMs) / 1000)
  t.ok(refused !== undefined, 'a newcomer is refused while the queue is still far from its length')
  t.equal(queuedBefore + queued, fits, `queued as many as ${Math.round(measured)}/s serves in ${waitMs} ms (${fits}), then refused at once`)
})

t.test('a loop starved by other processes on its core reads as saturated: the limit shrinks to what completes', async (t) => {
  if (!existsSync('/proc/self/schedstat') || spawnSync('taskset', ['-V']).status !== 0) {
    t.comment('skipped: needs Linux schedstat and taskset (util-linux)')
    return
  }
  // Pin this process and two busy loops to one CPU: the loop below always has work, as a gateway in
  // a storm has, and gets a third of the core. The busy loops are Node itself, exec'd by taskset
  // (so the kill reaches them), and end by themselves after 20 s should this test die first.
  const mask = spawnSync('taskset', ['-p', String(process.pid)], { encoding: 'utf8' }).stdout.trim().split(' ').pop() as string
  spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)])
  const hogs = [0, 1].map(() => spawn('taskset', ['-c', '0', process.execPath, '-e', 'const end = Date.now() + 20_000; while (Date.now() < end);'], { stdio: 'ignore' }))
  t.teardown(() => {
    for (const hog of hogs) hog.kill('SIGKILL')
    spawnSync('taskset', ['-a', '-p', mask, String(process.pid)])
  })
  await new Promise((resolve) => setTimeout(resolve, 150)) // the busy loops are running
  const gate = new HandshakeGate(1024, 0, 0, { targetMs: 100, sampleMs: 50, initial: 64 })
  t.teardown(() => gate.close())
  const held = Array.from({ length: 64 }, () => ({}))
  for (const h of held) gate.acquire(h)
  let highest = gate.limit
  const seen: number[] = []
  // Each completion costs 1 ms of CPU, as a handshake does, and the next is always ready
  // (setImmediate): the loop never sleeps, it only waits for the CPU.
  const end = performance.now() + 800
  await new Promise<void>((resolve) => {
    const turn = (): void => {
      const busy = performance.now() + 1
      while (performance.now() < busy);
      gate.release(held.shift() as object)
      while (true) {
        const fresh = {}
        if (gate.acquire(fresh) !== true) break
        held.push(fresh)
      }
      highest = Math.max(highest, gate.limit)
      seen.push(gate.limit)
      if (performance.now() < end) setImmediate(turn)
      else resolve()
    }
    setImmediate(turn)
  })
  const median = [...seen].sort((a, b) => a - b)[Math.floor(seen.length / 2)] as number
  t.ok(median < 64, `lowered from 64: ${median} for most of the time, ${gate.limit} at the end (completion rate ${Math.round(gate.completionRate)}/s)`)
  t.ok(highest <= 64, `never raised while starved (at most ${highest})`)
})
