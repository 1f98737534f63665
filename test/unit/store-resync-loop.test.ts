/**
 * The resync loop against a real Redis store reached through a socat relay the tests kill and
 * restart (a partition that heals). What `resync` does is the test's own; the store, its
 * connections and their reconnects are real.
 */
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { RedisStore } from '../../src/store/redis'
import { StoreFreshness } from '../../src/store/freshness'
import { ResyncLoop, type ResyncLoopOptions } from '../../src/store/resync-loop'
import { GLOBAL_SCOPE } from '../../src/store/records'
import { deleteRedisKeys, serviceAvailable, type Test } from '../helpers/services'
import { startSocatRelay, type SocatRelay } from '../helpers/socat-relay'
import { instance } from '../helpers/store-contract'

const RUN_PREFIX = `portcullis-test:resync-loop:${randomUUID()}:`
let cases = 0

interface Setup {
  relay: SocatRelay
  store: RedisStore
  freshness: StoreFreshness
  warnings: Array<{ msg: string; err?: unknown }>
  /** Connectivity as the test sees it, separately from the loop. */
  events: boolean[]
  loop(opts: Partial<ResyncLoopOptions>): ResyncLoop
}

async function setUp(t: Test): Promise<Setup> {
  const keyPrefix = `${RUN_PREFIX}${++cases}:`
  const relay = await startSocatRelay()
  const store = await RedisStore.open({ url: relay.url, keyPrefix })
  await store.put('instances', GLOBAL_SCOPE, 'x', instance('x'))
  const freshness = new StoreFreshness({ maxStaleMs: 30_000 })
  const warnings: Setup['warnings'] = []
  const events: boolean[] = []
  store.onConnectivity((up) => events.push(up))
  const loops: ResyncLoop[] = []
  t.teardown(async () => {
    for (const loop of loops) loop.close()
    freshness.close()
    await relay.restart().catch(() => undefined) // so that close() can QUIT politely
    await store.close()
    await relay.kill()
    await deleteRedisKeys(keyPrefix)
  })
  return {
    relay, store, freshness, warnings, events,
    loop(opts) {
      const loop = new ResyncLoop({
        connectivity: store, freshness, initialDelayMs: 20, maxDelayMs: 200,
        logger: { warn: (obj, msg) => warnings.push({ msg, ...('err' in obj ? { err: (obj as { err: unknown }).err } : {}) }) },
        ...opts,
      })
      loops.push(loop)
      return loop
    },
  }
}

function until(condition: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  return new Promise((resolve) => {
    const check = (): void => {
      if (condition()) resolve(true)
      else if (Date.now() >= deadline) resolve(false)
      else setTimeout(check, 10)
    }
    check()
  })
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Kills the relay and waits until the store has reported the loss. */
async function partition(s: Setup): Promise<void> {
  const downs = s.events.filter((up) => !up).length
  await s.relay.kill()
  await until(() => s.events.filter((up) => !up).length > downs)
}

t.test('resync loop', async (t) => {
  if (!(await serviceAvailable(t, 'redis', 6379))) return
  t.teardown(() => deleteRedisKeys(RUN_PREFIX))

  t.test('when the store is back it resyncs, and the view is fresh only once that has succeeded', async (t) => {
    const s = await setUp(t)
    const reads: unknown[] = []
    let release: () => void = () => undefined
    const gate = new Promise<void>((resolve) => { release = resolve })
    s.loop({
      resync: async () => {
        reads.push(await s.store.get('instances', GLOBAL_SCOPE, 'x'))
        await gate
      },
    })
    await partition(s)
    t.equal(s.freshness.state().name, 'reconnecting', 'lost')
    await sleep(300)
    t.equal(reads.length, 0, 'no resync while the store is down')
    await s.relay.restart()
    t.ok(await until(() => reads.length > 0), 'resynced once the store was back')
    t.match(reads[0], { id: 'x' }, 'its first read of the store succeeded')
    t.equal(s.freshness.state().name, 'reconnecting', 'not fresh while the resync is still running')
    release()
    t.ok(await until(() => s.freshness.state().name === 'fresh'), 'fresh once it succeeded')
    t.equal(reads.length, 1, 'one resync for one reconnect')
  })

  t.test('a failing resync is retried with growing delays until it succeeds; each failure is logged', async (t) => {
    const s = await setUp(t)
    const attempts: number[] = []
    s.loop({
      resync: async () => {
        attempts.push(Date.now())
        if (attempts.length <= 4) throw new Error(`not yet ${attempts.length}`)
        await s.store.get('instances', GLOBAL_SCOPE, 'x')
      },
    })
    await partition(s)
    await s.relay.restart()
    t.ok(await until(() => s.freshness.state().name === 'fresh'), 'fresh in the end')
    t.equal(attempts.length, 5)
    t.same(s.warnings.filter((w) => w.msg === 'store resync failed; retrying').map((w) => w.err), ['not yet 1', 'not yet 2', 'not yet 3', 'not yet 4'])
    const gaps = attempts.slice(1).map((at, i) => at - (attempts[i] as number))
    // Equal jitter: the i-th delay is within [base/2, base], base = 20 ms doubling (20, 40, 80, 160).
    gaps.forEach((gap, i) => t.ok(gap >= (20 * 2 ** i) / 2 - 2, `retry ${i + 1} came after ${gap} ms (≥ ${(20 * 2 ** i) / 2})`))
  })

  t.test('when the store drops during a resync, the loop waits for it and resyncs again once it is back', async (t) => {
    const s = await setUp(t)
    const calls: number[] = []
    s.loop({
      resync: async () => {
        calls.push(Date.now())
        if (calls.length === 1) await s.relay.kill() // the partition again, mid-resync
        await s.store.get('instances', GLOBAL_SCOPE, 'x')
      },
    })
    await partition(s)
    await s.relay.restart()
    t.ok(await until(() => calls.length === 1), 'first resync started')
    t.ok(await until(() => s.events.filter((up) => !up).length === 2), 'and the store dropped under it')
    await sleep(300)
    const whileDown = calls.length
    await sleep(700)
    t.equal(calls.length, whileDown, 'no retries while the store is down')
    t.equal(s.freshness.state().name, 'reconnecting')
    t.ok(s.warnings.some((w) => w.msg === 'store resync failed; retrying' && /STORE_UNAVAILABLE|failed|writeable|closed/i.test(String(w.err))), 'the failed run was logged with its error')
    const backAt = Date.now()
    await s.relay.restart()
    t.ok(await until(() => s.freshness.state().name === 'fresh'), 'fresh after the store came back')
    t.ok((calls.at(-1) as number) >= backAt, 'thanks to a resync run after it came back')
  })

  t.test('one resync at a time; changes during a run cause exactly one more run', async (t) => {
    const s = await setUp(t)
    let running = 0
    let most = 0
    let runs = 0
    let release: () => void = () => undefined
    const gate = new Promise<void>((resolve) => { release = resolve })
    s.loop({
      resync: async () => {
        runs++
        most = Math.max(most, ++running)
        try { await gate } finally { running-- }
      },
    })
    await partition(s)
    await s.relay.restart()
    t.ok(await until(() => runs === 1), 'first run started')
    for (let flap = 0; flap < 2; flap++) {
      await partition(s)
      await s.relay.restart()
      t.ok(await until(() => s.events.at(-1) === true), `flap ${flap + 1}: the store is back`)
    }
    t.equal(runs, 1, 'no second run while the first is in progress')
    release()
    t.ok(await until(() => s.freshness.state().name === 'fresh'), 'fresh')
    await sleep(200)
    t.equal(runs, 2, 'four changes during the run: one more run')
    t.equal(most, 1, 'never two at once')
  })

  t.test('a loss before start() is made good once it is started; close() stops the loop', async (t) => {
    const s = await setUp(t)
    let runs = 0
    const loop = s.loop({})
    await partition(s)
    await s.relay.restart()
    t.ok(await until(() => s.events.at(-1) === true), 'the store is back')
    t.equal(s.freshness.state().name, 'reconnecting', 'lost, and nothing re-read it yet')
    loop.start(async () => { runs++ })
    t.ok(await until(() => s.freshness.state().name === 'fresh'), 'fresh once started')
    t.equal(runs, 1)
    loop.close()
    await partition(s)
    await s.relay.restart()
    t.ok(await until(() => s.events.at(-1) === true), 'the store is back again')
    await sleep(200)
    t.equal(runs, 1, 'a closed loop does not resync')
    t.equal(s.freshness.state().name, 'fresh', 'nor touch the freshness')
  })
})
