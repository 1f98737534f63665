import t from 'tap'
import { StoreFreshness, type FreshnessState } from '../../src/store/freshness'
import { Metrics } from '../../src/observability/metrics'
import { watchFreshnessGauge } from '../../src/observability/freshness-gauge'

t.test('a new view is fresh and admits', async (t) => {
  const f = new StoreFreshness({ maxStaleMs: 1_000, now: () => 5_000 })
  t.same(f.state(), { name: 'fresh' })
  t.equal(f.admits(), true)
})

t.test('lost: reconnecting (admits) below maxStaleMs, stale (refuses) from maxStaleMs on', async (t) => {
  let now = 10_000
  const f = new StoreFreshness({ maxStaleMs: 1_000, now: () => now })
  t.teardown(() => f.close())
  f.lost()
  t.same(f.state(), { name: 'reconnecting', since: 10_000 })
  t.equal(f.admits(), true)
  now = 10_999
  t.same(f.state(), { name: 'reconnecting', since: 10_000 })
  t.equal(f.admits(), true, '1 ms before maxStaleMs it still admits')
  now = 11_000
  t.same(f.state(), { name: 'stale', since: 10_000 })
  t.equal(f.admits(), false, 'at maxStaleMs it refuses')
  t.equal(f.admits(10_500), true, 'an explicit `now` is used instead of the clock')
  t.same(f.state(10_500), { name: 'reconnecting', since: 10_000 })
})

t.test('lost is idempotent: a second loss keeps the first `since`', async (t) => {
  let now = 1_000
  const f = new StoreFreshness({ maxStaleMs: 1_000, now: () => now })
  t.teardown(() => f.close())
  f.lost()
  now = 1_800
  f.lost()
  t.same(f.state(), { name: 'reconnecting', since: 1_000 })
  now = 2_000
  t.equal(f.admits(), false, 'stale counted from the first loss')
})

t.test('synced makes it fresh again, and the next loss starts a new window', async (t) => {
  let now = 0
  const f = new StoreFreshness({ maxStaleMs: 100, now: () => now })
  t.teardown(() => f.close())
  f.lost()
  now = 500
  t.equal(f.state().name, 'stale')
  f.synced()
  t.same(f.state(), { name: 'fresh' })
  t.equal(f.admits(), true)
  f.lost()
  t.same(f.state(), { name: 'reconnecting', since: 500 })
})

t.test('listeners hear each change of state once, including the timed turn to stale', async (t) => {
  const f = new StoreFreshness({ maxStaleMs: 60 })
  t.teardown(() => f.close())
  const heard: FreshnessState['name'][] = []
  f.onChange((s) => heard.push(s.name))
  f.lost()
  f.lost()
  // The stale timer is unref'd (it must not keep a stopping gateway alive): wait with a timer that is not.
  await new Promise((resolve) => setTimeout(resolve, 120))
  t.same(heard, ['reconnecting', 'stale'], 'stale is announced without anyone asking')
  t.equal(f.admits(), false)
  f.synced()
  f.synced()
  t.same(heard, ['reconnecting', 'stale', 'fresh'])
})

t.test('no stale notice once synced before maxStaleMs; an unsubscribed or throwing listener does not break others', async (t) => {
  const warnings: string[] = []
  const f = new StoreFreshness({ maxStaleMs: 40, logger: { warn: (_o, msg) => warnings.push(msg) } })
  t.teardown(() => f.close())
  const heard: string[] = []
  f.onChange(() => { throw new Error('boom') })
  const off = f.onChange(() => heard.push('removed'))
  f.onChange((s) => heard.push(s.name))
  off()
  f.lost()
  f.synced()
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.same(heard, ['reconnecting', 'fresh'])
  t.equal(warnings.length, 2, 'the throwing listener is reported, each time')
})

t.test('maxStaleMs must be positive', async (t) => {
  t.throws(() => new StoreFreshness({ maxStaleMs: 0 }), RangeError)
})

t.test('portcullis_store_freshness{state} shows 1 for the current state and 0 for the others', async (t) => {
  let now = 0
  const f = new StoreFreshness({ maxStaleMs: 100, now: () => now })
  const metrics = new Metrics()
  const stop = watchFreshnessGauge(f, metrics)
  t.teardown(() => { stop(); f.close() })
  const series = async (): Promise<string[]> => (await metrics.render()).split('\n').filter((l) => l.startsWith('portcullis_store_freshness{'))
  t.same(await series(), ['portcullis_store_freshness{state="fresh"} 1', 'portcullis_store_freshness{state="reconnecting"} 0', 'portcullis_store_freshness{state="stale"} 0'])
  f.lost()
  t.same(await series(), ['portcullis_store_freshness{state="fresh"} 0', 'portcullis_store_freshness{state="reconnecting"} 1', 'portcullis_store_freshness{state="stale"} 0'])
  f.synced()
  now = 1_000
  t.match((await series())[0], / 1$/, 'fresh again')
})
