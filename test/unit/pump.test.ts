import t from 'tap'
import { PassThrough, Writable } from 'node:stream'
import { pump, TickBudget } from '../../src/proxy/pump'

/** A sink that accepts writes but completes them only when told to: a slow reader. */
function slowSink(highWaterMark: number) {
  const pending: Array<() => void> = []
  const received: Buffer[] = []
  const sink = new Writable({
    highWaterMark,
    write(chunk: Buffer, _enc, done) {
      received.push(chunk)
      pending.push(done)
    },
  })
  return { sink, received, release: () => { for (const done of pending.splice(0)) done() } }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r))

t.test('moves every byte, in order, and coalesces a burst into one write', async (t) => {
  const from = new PassThrough()
  const writes: Buffer[][] = []
  const to = new Writable({
    writev(chunks, done) { writes.push(chunks.map((c) => c.chunk as Buffer)); done() },
    write(chunk: Buffer, _e, done) { writes.push([chunk]); done() },
  })
  pump(from, to as never, { coalesce: true })
  for (let i = 0; i < 10; i++) from.write(Buffer.from([i]))
  await turn()
  const all = Buffer.concat(writes.flat())
  t.same([...all], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'all bytes, in order')
  t.ok(writes.length < 10, `a burst of 10 chunks took ${writes.length} write call(s)`)
})

t.test('a full destination pauses the source until it drains', async (t) => {
  const from = new PassThrough()
  const { sink, received, release } = slowSink(4)
  pump(from, sink as never)
  from.write(Buffer.alloc(8))
  await turn()
  t.ok(from.isPaused(), 'paused while the destination is full')
  release()
  await turn()
  t.notOk(from.isPaused(), 'reading again after drain')
  t.equal(received.length, 1)
})

t.test('a spent budget pauses every source sharing it until the next turn, and no longer', async (t) => {
  const budget = new TickBudget(16)
  const a = new PassThrough()
  const b = new PassThrough()
  const sinkA = new PassThrough()
  const sinkB = new PassThrough()
  sinkA.resume()
  sinkB.resume()
  pump(a, sinkA, { budget })
  pump(b, sinkB, { budget })
  a.write(Buffer.alloc(20))
  await new Promise((r) => process.nextTick(r))
  t.ok(a.isPaused(), 'the source that spent the budget waits')
  await turn()
  await turn()
  t.notOk(a.isPaused(), 'and reads again on the next turn')
  b.write(Buffer.alloc(4))
  await new Promise((r) => process.nextTick(r))
  t.notOk(b.isPaused(), 'a small write within the budget does not pause')
})

t.test('stop() detaches without closing either side', async (t) => {
  const from = new PassThrough()
  const to = new PassThrough()
  const got: Buffer[] = []
  to.on('data', (c: Buffer) => got.push(c))
  const p = pump(from, to)
  from.write(Buffer.from('a'))
  await turn()
  p.stop()
  from.write(Buffer.from('b'))
  await turn()
  t.equal(Buffer.concat(got).toString(), 'a')
  t.notOk(to.destroyed || from.destroyed)
})

t.test('a destination that does not drain within the stall timeout is reported once, and one that drains is not', async (t) => {
  const from = new PassThrough()
  const { sink, release } = slowSink(4)
  let stalls = 0
  const started = Date.now()
  let stalledAfter = 0
  pump(from, sink as never, { stall: { timeoutMs: 150, onStall: () => { stalls++; stalledAfter = Date.now() - started } } })
  from.write(Buffer.alloc(8))
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(stalls, 0, 'not before the timeout')
  await new Promise((resolve) => setTimeout(resolve, 250))
  t.equal(stalls, 1, 'reported once the wait outlasted the timeout')
  t.ok(stalledAfter >= 145, `after ${stalledAfter} ms`)
  release()

  const from2 = new PassThrough()
  const slow = slowSink(4)
  let stalls2 = 0
  pump(from2, slow.sink as never, { stall: { timeoutMs: 150, onStall: () => { stalls2++ } } })
  // Pauses and drains again and again, each wait shorter than the timeout: a slow but live reader.
  for (let i = 0; i < 6; i++) {
    from2.write(Buffer.alloc(8))
    await new Promise((resolve) => setTimeout(resolve, 60))
    slow.release()
    await turn()
  }
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(stalls2, 0, 'a reader that keeps draining is not a slow consumer')
})

t.test('stop() disarms the stall timer, and onEnd takes over the half-close', async (t) => {
  const from = new PassThrough()
  const { sink } = slowSink(4)
  let stalls = 0
  const p = pump(from, sink as never, { stall: { timeoutMs: 50, onStall: () => { stalls++ } } })
  from.write(Buffer.alloc(8))
  await turn()
  p.stop()
  await new Promise((resolve) => setTimeout(resolve, 120))
  t.equal(stalls, 0, 'a stopped pump reports nothing')

  const a = new PassThrough()
  const b = new PassThrough()
  let ended = 0
  pump(a, b, { onEnd: () => { ended++ } })
  b.resume()
  a.end()
  await turn()
  t.equal(ended, 1, 'onEnd called')
  t.notOk(b.writableEnded, 'the destination is not half-closed for the caller')
})
