import t from 'tap'
import fc from 'fast-check'
import assert from 'node:assert/strict'
import { blacklistAddress } from '../../../src/proxy/stages/blacklist'
import { tunnelAfterTls } from '../../../src/proxy/stages/tunnel'
import { freshState } from '../../../src/proxy/stages/fresh-state'
import { BlacklistIndex } from '../../../src/policy/blacklist'
import { StoreFreshness } from '../../../src/store/freshness'
import type { BlacklistRecord, InstanceRecord } from '../../../src/store/records'
import { REFUSAL_REASONS } from '../../../src/reasons'
import { socketPair } from '../../helpers/socket-pair'
import { instance, proxied, secured } from '../../helpers/contexts'

/**
 * The synchronous rule stages before the protocol reads a byte — blacklist-address, tunnel (after
 * TLS) and fresh-state — over an in-memory socket pair, against independent models of their rules:
 * each answers its input phase unchanged or its one refusal reason, at once, without writing to
 * or closing the client (only the runner does that).
 */
const RUNS = 300
const NOW = Date.parse('2026-11-24T08:00:00Z')

function untouched(written: () => Buffer, socket: { destroyed: boolean }): void {
  assert.equal(written().length, 0, 'nothing written')
  assert.equal(socket.destroyed, false, 'the client is not closed by the stage')
}

// Blacklist (DESIGN §1 "Account blacklist"): ip entries, exact or CIDR, global or scoped, maybe expired.
const octet = fc.integer({ min: 0, max: 255 })
const ipv4 = fc.tuple(fc.constantFrom(10, 192), fc.constantFrom(0, 168), fc.integer({ min: 0, max: 3 }), octet).map((o) => o.join('.'))
const ipEntry: fc.Arbitrary<BlacklistRecord> = fc.record({
  id: fc.uuid(),
  value: fc.oneof(ipv4, fc.tuple(ipv4, fc.integer({ min: 8, max: 32 })).map(([ip, bits]) => `${ip}/${bits}`), fc.string({ maxLength: 12 })),
  scoped: fc.boolean(),
  expires: fc.option(fc.integer({ min: -3_600_000, max: 3_600_000 }), { nil: undefined }),
}).map(({ id, value, scoped, expires }) => ({
  id, kind: 'ip' as const, value, createdAt: '',
  ...(scoped ? { instanceId: 'inst-test' } : {}),
  ...(expires !== undefined ? { expiresAt: new Date(NOW + expires).toISOString() } : {}),
}))
const otherEntry: fc.Arbitrary<BlacklistRecord> = fc.record({
  id: fc.uuid(), kind: fc.constantFrom('clientId' as const, 'username' as const, 'accessKey' as const), value: ipv4, createdAt: fc.constant(''),
}, { noNullPrototype: true })

function toInt(ip: string): number | undefined {
  const parts = ip.split('.').map(Number)
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined
  return parts.reduce((v, p) => v * 256 + p, 0)
}

/** The model: an unexpired global ip entry naming the address or a range holding it. */
function modelBans(entries: readonly BlacklistRecord[], ip: string, now: number): boolean {
  return entries.some((e) => {
    if (e.kind !== 'ip' || e.instanceId !== undefined) return false
    if (e.expiresAt !== undefined && Date.parse(e.expiresAt) <= now) return false
    if (!e.value.includes('/')) return e.value === ip
    const [base = '', bitsText = ''] = e.value.split('/')
    const bits = Number(bitsText)
    const b = toInt(base)
    const a = toInt(ip)
    if (b === undefined || a === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return false
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
    return ((a & mask) >>> 0) === ((b & mask) >>> 0)
  })
}

t.test('blacklist-address refuses BLACKLISTED exactly when an unexpired global ip entry names the source, and touches nothing', async (t) => {
  const realNow = Date.now
  t.teardown(() => { Date.now = realNow })
  Date.now = () => NOW
  fc.assert(fc.property(fc.array(fc.oneof(ipEntry, otherEntry), { maxLength: 8 }), ipv4, (entries, ip) => {
    const { gateway, written } = socketPair()
    const ctx = proxied(gateway, { source: { ip, port: 1 } })
    const step = blacklistAddress(ctx, { blacklist: { current: () => BlacklistIndex.build(entries) } })
    assert.equal(step.kind === 'reject', modelBans(entries, ip, NOW), `${ip} against ${JSON.stringify(entries)}`)
    if (step.kind === 'reject') assert.equal(step.reason, 'BLACKLISTED')
    else assert.equal(step.ctx, ctx, 'the same phase, unchanged')
    untouched(written, gateway)
  }), { numRuns: RUNS })
  t.pass(`${RUNS} blacklists`)
})

// Tunnel (DESIGN §1): Any Tunnel admits all; Single Tunnel only its bound VPC.
const vpc = fc.option(fc.constantFrom('vpc-a', 'vpc-b', 'vpce-c'), { nil: undefined })

t.test('tunnel (after TLS) refuses TUNNEL_DENIED exactly when a Single Tunnel instance is reached from another network', async (t) => {
  fc.assert(fc.property(fc.option(fc.record({ accessType: fc.constantFrom('ANY_TUNNEL' as const, 'SINGLE_TUNNEL' as const), vpcId: vpc }), { nil: undefined }), vpc, (rule, sourceVpc) => {
    const { gateway, written } = socketPair()
    const target: InstanceRecord | undefined = rule === undefined ? undefined : instance({ accessType: rule.accessType, ...(rule.vpcId !== undefined ? { vpcId: rule.vpcId } : {}) })
    const ctx = secured(gateway, { source: { ip: '192.0.2.1', port: 1, ...(sourceVpc !== undefined ? { vpcId: sourceVpc } : {}) }, ...(target !== undefined ? { instance: target } : {}) })
    const step = tunnelAfterTls(ctx)
    const denied = rule !== undefined && rule.accessType === 'SINGLE_TUNNEL' && (rule.vpcId === undefined || rule.vpcId !== sourceVpc)
    assert.equal(step.kind === 'reject', denied)
    if (step.kind === 'reject') assert.equal(step.reason, 'TUNNEL_DENIED')
    else assert.equal(step.ctx, ctx)
    untouched(written, gateway)
  }), { numRuns: RUNS })
  t.pass(`${RUNS} rules`)
})

// Freshness (DESIGN §4 "Admission on stale state"): any history of store losses and resyncs.
const history = fc.array(fc.oneof(fc.record({ op: fc.constant('lost' as const), dt: fc.integer({ min: 0, max: 500 }) }), fc.record({ op: fc.constant('synced' as const), dt: fc.integer({ min: 0, max: 500 }) })), { maxLength: 10 })

t.test('fresh-state refuses BACKEND_UNAVAILABLE exactly when the store has been lost (or not re-read) for maxStaleMs', async (t) => {
  fc.assert(fc.property(history, fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 0, max: 2000 }), (events, maxStaleMs, wait) => {
    let clock = 0
    const freshness = new StoreFreshness({ maxStaleMs, now: () => clock })
    let since: number | undefined
    for (const { op, dt } of events) {
      clock += dt
      if (op === 'lost') {
        freshness.lost(clock)
        since ??= clock
      } else {
        freshness.synced()
        since = undefined
      }
    }
    clock += wait
    const { gateway, written } = socketPair()
    const ctx = secured(gateway)
    const step = freshState(ctx, { freshness })
    freshness.close()
    assert.equal(step.kind === 'reject', since !== undefined && clock - since >= maxStaleMs)
    if (step.kind === 'reject') {
      assert.equal(step.reason, 'BACKEND_UNAVAILABLE')
      assert.ok(REFUSAL_REASONS.includes(step.reason))
    } else {
      assert.equal(step.ctx, ctx)
    }
    untouched(written, gateway)
  }), { numRuns: RUNS })
  t.pass(`${RUNS} histories`)
})
