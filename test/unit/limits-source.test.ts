import t from 'tap'
import { TokenBuckets } from '../../src/proxy/limits/token-buckets'
import { SourceCounter } from '../../src/proxy/limits/source-counter'
import { SourceLimits, connectionLimitsFrom } from '../../src/proxy/limits/source-limits'
import { FailedAuthThrottle } from '../../src/proxy/limits/failed-auth'
import { configSchema } from '../../src/config/schema'
import { AuditLog } from '../../src/audit/audit-log'

t.test('a token bucket admits its burst at once, then refills at perSecond', async (t) => {
  const buckets = new TokenBuckets({ perSecond: 10, burst: 3 })
  const at = 1_000_000
  t.same([1, 2, 3, 4].map(() => buckets.take('a', at)), [true, true, true, false], 'burst of 3, then empty')
  t.notOk(buckets.take('a', at + 50), 'half a token after 50 ms is not a token')
  t.ok(buckets.take('a', at + 100), 'one token 100 ms later at 10/s')
  t.notOk(buckets.take('a', at + 100))
  t.same([1, 2, 3, 4].map(() => buckets.take('a', at + 60_000)), [true, true, true, false], 'refills to the burst, never beyond')
  t.ok(buckets.take('b', at), 'another source has its own bucket')
})

t.test('token buckets are bounded: past maxKeys the oldest bucket is dropped', async (t) => {
  const buckets = new TokenBuckets({ perSecond: 1, burst: 1 }, 2)
  t.ok(buckets.take('a', 0))
  t.ok(buckets.take('b', 0))
  t.ok(buckets.take('c', 0))
  t.equal(buckets.size, 2)
  t.notOk(buckets.take('c', 0), 'c is remembered (empty)')
  t.ok(buckets.take('a', 0), 'a was forgotten: it starts again from a full bucket')
})

t.test('a source counter admits up to max per source and frees on release', async (t) => {
  const counter = new SourceCounter(2)
  t.ok(counter.tryAcquire('a'))
  t.ok(counter.tryAcquire('a'))
  t.notOk(counter.tryAcquire('a'))
  t.ok(counter.tryAcquire('b'), 'other sources are unaffected')
  counter.release('a')
  t.ok(counter.tryAcquire('a'))
  counter.release('a')
  counter.release('a')
  counter.release('a')
  t.equal(counter.count('a'), 0, 'never below zero')
})

t.test('source limits: refusal reasons in order, each connection counted once and released once', async (t) => {
  const failedAuth = new FailedAuthThrottle(2)
  const limits = new SourceLimits({ rate: new TokenBuckets({ perSecond: 1, burst: 3 }), concurrent: new SourceCounter(2), failedAuth }, () => 0)
  const [s1, s2, s3, s4] = [{}, {}, {}, {}]
  t.equal(limits.admit(s1!, '192.0.2.1'), undefined)
  t.equal(limits.admit(s2!, '192.0.2.1'), undefined)
  t.ok(limits.admitted(s1!))
  t.match(limits.admit(s3!, '192.0.2.1'), { reason: 'CONNECTION_LIMIT' }, 'the third concurrent one')
  limits.release(s1!)
  limits.release(s1!)
  t.notOk(limits.admitted(s1!))
  t.match(limits.admit(s4!, '192.0.2.1'), { reason: 'RATE_LIMITED', detail: /connectRatePerSource/ }, 'a slot is free, but the burst of 3 is spent')
  t.equal(limits.admit({}, '192.0.2.2'), undefined, 'another source is unaffected')
  await failedAuth.recordFailure('192.0.2.2')
  t.equal(limits.admit({}, '192.0.2.2'), undefined, 'one failure of two allowed')
  await failedAuth.recordFailure('192.0.2.2')
  t.match(limits.admit({}, '192.0.2.2'), { reason: 'RATE_LIMITED', detail: /failed to authenticate 2 times/ })
})

t.test('the failed-auth throttle counts refusals that are failed authentications, from the audit log, per source and per minute', async (t) => {
  let now = 1_000_000
  const throttle = new FailedAuthThrottle(3, 100, () => now)
  const audit = new AuditLog({ sinks: [] })
  t.teardown(() => audit.close())
  audit.subscribe((e) => throttle.observe(e))
  const refuse = (reason: string, ip = '198.51.100.9'): void => {
    audit.record({ type: 'connection.rejected', outcome: 'failure', reason: reason as never, actor: { kind: 'client' }, source: { ip, port: 1 }, details: {} })
  }
  for (const reason of ['TLS_HANDSHAKE_FAILED', 'RATE_LIMITED', 'BLACKLISTED', 'PROTOCOL_ERROR']) refuse(reason)
  audit.record({ type: 'connection.closed', outcome: 'success', reason: 'CLIENT_CLOSED' as never, actor: { kind: 'client' }, source: { ip: '198.51.100.9', port: 1 }, details: {} })
  await new Promise((resolve) => setImmediate(resolve))
  t.notOk(throttle.blocked('198.51.100.9'), 'other refusals are not failed logins')
  refuse('BAD_CREDENTIALS')
  refuse('CLIENT_CERT_UNTRUSTED')
  await new Promise((resolve) => setImmediate(resolve))
  t.notOk(throttle.blocked('198.51.100.9'), 'two of three')
  refuse('ACCESS_KEY_INACTIVE')
  await new Promise((resolve) => setImmediate(resolve))
  t.ok(throttle.blocked('198.51.100.9'), 'the third failure within the minute blocks the source')
  t.notOk(throttle.blocked('198.51.100.10'), 'only that source')
  now += 61_000
  t.notOk(throttle.blocked('198.51.100.9'), 'the block ends with the minute')
})

t.test('connectionLimitsFrom: per-source limits off by default, the handshake gate always on', async (t) => {
  const defaults = configSchema.parse({}).limits
  t.equal(defaults.connectRatePerSource, undefined)
  t.equal(defaults.maxConnectionsPerSource, undefined)
  t.equal(defaults.failedAuthPerSource, undefined)
  t.equal(defaults.maxHandshakesInFlight, 1024)
  t.equal(defaults.slowConsumerTimeoutMs, 60_000)
  const built = connectionLimitsFrom(defaults)
  t.equal(built.failedAuth, undefined)
  const refusals = Array.from({ length: 1000 }, () => built.sources.admit({}, '127.0.0.1')).filter((r) => r !== undefined)
  t.same(refusals, [], '1000 connections from one source: nothing refused by default')
  t.equal(built.handshakes.max, 1024)
  t.throws(() => configSchema.parse({ limits: { connectRatePerSource: { perSecond: 1 } } }), 'burst is required')
  t.throws(() => configSchema.parse({ limits: { failedAuthPerSource: { perMinute: 5, perHour: 1 } } }), 'unknown keys refused')
})

t.test('the source-limits stage checks the real source once, and lets through a socket the listener admitted at accept', async (t) => {
  const { sourceLimits, handshakeSlot } = await import('../../src/proxy/stages/source-limits')
  const { proxied } = await import('../helpers/contexts')
  const { socketPair } = await import('../helpers/socket-pair')
  const { HandshakeGate } = await import('../../src/proxy/limits/handshake-gate')
  const sources = new SourceLimits({ concurrent: new SourceCounter(1) })
  const deps = { connectionLimits: { sources, handshakes: new HandshakeGate(1, 0, 0) } }
  const a = socketPair().gateway
  const b = socketPair().gateway
  const c = socketPair().gateway
  t.equal(sourceLimits(proxied(a, { source: { ip: '203.0.113.9', port: 1 } }), deps).kind, 'next')
  t.equal(sourceLimits(proxied(a, { source: { ip: '203.0.113.9', port: 1 } }), deps).kind, 'next', 'the same socket is not counted twice')
  t.match(sourceLimits(proxied(b, { source: { ip: '203.0.113.9', port: 2 } }), deps), { kind: 'reject', reason: 'CONNECTION_LIMIT' })
  t.equal(sourceLimits(proxied(c, { source: { ip: '203.0.113.10', port: 1 } }), deps).kind, 'next', 'keyed by the PROXY header\'s source, not the socket')
  t.equal((handshakeSlot(proxied(a), deps) as { kind: string }).kind, 'next')
  t.match(await handshakeSlot(proxied(b), deps), { kind: 'reject', reason: 'RATE_LIMITED', detail: /maxHandshakesInFlight/ })
  t.equal(sourceLimits(proxied(b), {}).kind, 'next', 'deps without limits (hand-built in tests): nothing applies')
})
