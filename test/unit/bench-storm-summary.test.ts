import t from 'tap'
import type { StormShare } from '../../bench/load/storm'
import { auditRefusals, dealDevices, summarizeStorm } from '../../bench/storm-summary'

function share(over: Partial<StormShare>): StormShare {
  return {
    devices: 0, connected: 0, connectMs: [], connectedAtMs: [], lastAttemptMs: [], attempts: 0, failures: {},
    unfinished: 0, lostAfterConnect: 0, startSpreadMs: 0, loopDelayP99Ms: 0, loopDelayMaxMs: 0, ...over,
  }
}

t.test('the shares of several generator processes add up to one storm', async (t) => {
  const s = summarizeStorm([
    share({ devices: 2, connected: 2, connectMs: [100, 900], connectedAtMs: [110, 950], lastAttemptMs: [100, 40], attempts: 3, failures: { 'closed:tls': 1 }, startSpreadMs: 12, loopDelayMaxMs: 30 }),
    share({ devices: 2, connected: 2, connectMs: [200, 300], connectedAtMs: [205, 2000], lastAttemptMs: [50, 60], attempts: 5, failures: { 'closed:tls': 2, 'timeout:mqtt': 1 }, startSpreadMs: 20, loopDelayMaxMs: 10 }),
  ])
  t.equal(s.devices, 4)
  t.equal(s.connected, 4)
  t.equal(s.timeToAllMs, 2000, 'the last CONNACK on the storm clock, whichever process had it')
  t.equal(s.attempts, 8)
  t.equal(s.failedAttempts, 4)
  t.same(s.failures, [{ key: 'closed:tls', count: 3 }, { key: 'timeout:mqtt', count: 1 }], 'largest first')
  t.equal(s.midHandshakeTimeouts, 1)
  t.equal(s.connectP50Ms, 200)
  t.equal(s.connectP99Ms, 900)
  t.equal(s.startSpreadMs, 20)
  t.equal(s.generatorLoopDelayMaxMs, 30)
})

t.test('a storm with a device left unconnected has no time to all', async (t) => {
  const s = summarizeStorm([share({ devices: 3, connected: 2, connectMs: [1, 2], connectedAtMs: [1, 2], lastAttemptMs: [1, 2], attempts: 9, unfinished: 1, failures: { 'timeout:tcp': 7 } })])
  t.equal(s.timeToAllMs, undefined)
  t.equal(s.unfinished, 1)
  t.equal(s.midHandshakeTimeouts, 0, 'a SYN nobody answered is not a timeout mid-handshake')
})

t.test('timeouts in TLS and while waiting for CONNACK both count as mid-handshake, with or without a detail', async (t) => {
  const s = summarizeStorm([share({ devices: 1, failures: { 'timeout:tls': 2, 'timeout:mqtt': 3, 'timeout:tcp': 4, 'closed:mqtt': 5, 'connack:mqtt:3': 6, 'timeout:accept': 7 } })])
  t.equal(s.midHandshakeTimeouts, 5)
  t.equal(s.acceptTimeouts, 7)
  t.equal(s.failedAttempts, 27)
})

t.test('devices are dealt round-robin to the processes, each with certificate n mod pool', async (t) => {
  const dealt = dealDevices(7, 2, 3)
  t.same(dealt[0], [{ n: 0, cert: 0 }, { n: 2, cert: 2 }, { n: 4, cert: 1 }, { n: 6, cert: 0 }])
  t.same(dealt[1], [{ n: 1, cert: 1 }, { n: 3, cert: 0 }, { n: 5, cert: 2 }])
  t.throws(() => dealDevices(1, 0, 1), RangeError)
})

t.test('gateway refusals are counted from its audit lines by reason, deadline refusals by stage', async (t) => {
  const lines = [
    { type: 'connection.rejected', reason: 'RATE_LIMITED', details: { detail: '1024 handshakes in flight (maxHandshakesInFlight) and none ended within 250 ms' } },
    { type: 'connection.rejected', reason: 'RATE_LIMITED', details: {} },
    { type: 'connection.rejected', reason: 'HANDSHAKE_TIMEOUT', details: { detail: 'deadline passed in stage tls' } },
    { type: 'connection.accepted', outcome: 'success' },
    { type: 'connection.closed', reason: 'RATE_LIMITED' },
  ].map((e) => JSON.stringify(e))
  const text = [...lines, '{"type":"connection.rejected", truncated', ''].join('\n')
  t.same(auditRefusals(text), { RATE_LIMITED: 2, 'HANDSHAKE_TIMEOUT (tls)': 1 })
})
