import t from 'tap'
import { HandshakeGate } from '../../src/proxy/limits/handshake-gate'

t.test('admits up to max at once, synchronously', async (t) => {
  const gate = new HandshakeGate(2, 1, 100)
  const [a, b] = [{}, {}]
  t.equal(gate.acquire(a), true)
  t.equal(gate.acquire(b), true)
  t.equal(gate.acquire(a), true, 'a holder that holds a slot keeps it (counted once)')
  t.equal(gate.inFlight, 2)
})

t.test('the excess waits briefly for a slot and gets the first one released', async (t) => {
  const gate = new HandshakeGate(1, 2, 1000)
  const [a, b] = [{}, {}]
  t.equal(gate.acquire(a), true)
  const waiting = gate.acquire(b)
  t.type(waiting, Promise)
  t.equal(gate.waiting, 1)
  gate.release(a)
  t.equal(await waiting, true, 'handed the released slot')
  t.equal(gate.inFlight, 1)
  gate.release(a)
  t.equal(gate.inFlight, 1, 'releasing twice frees nothing more')
  gate.release(b)
  t.equal(gate.inFlight, 0)
})

t.test('refuses when the wait is over, and at once when the queue is full', async (t) => {
  const gate = new HandshakeGate(1, 1, 50)
  t.equal(gate.acquire({}), true)
  const started = Date.now()
  const waiting = gate.acquire({})
  t.equal(gate.acquire({}), false, 'queue of one is full: refused without waiting')
  t.equal(await waiting, false, 'no slot within the wait')
  const waited = Date.now() - started
  t.ok(waited >= 45 && waited < 1000, `gave up after about the wait (${waited} ms)`)
  t.equal(gate.waiting, 0, 'the queue is empty again')
  t.equal(new HandshakeGate(1, 5, 0).acquire({}), true)
  const noWait = new HandshakeGate(1, 5, 0)
  noWait.acquire({})
  t.equal(noWait.acquire({}), false, 'waitMs 0: no queue')
})
