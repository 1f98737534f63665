import t from 'tap'
import { toRedactedJson } from '../../src/audit/redact'

/**
 * toRedactedJson copies flat objects (what every connection's audit events hold) without the JSON
 * round trip; the result must be exactly the round trip's, key order included, since the chain
 * hash and the written line are computed from it.
 */
function roundTrip(value: Record<string, unknown>): unknown {
  return JSON.parse(JSON.stringify(value, (key, v: unknown) => {
    if (key !== '' && /passw(or)?d|passphrase|secret|private_?key|token|authorization|master_?key/i.test(key)) return '[REDACTED]'
    return typeof v === 'bigint' ? v.toString() : v
  }))
}

const cases: Array<[string, Record<string, unknown>]> = [
  ['strings, numbers, booleans', { connId: 'c1', listener: 'mqtts', bytesUpstream: 12, ok: true, ratio: 0.5 }],
  ['undefined members left out', { a: 'x', b: undefined, c: 'y' }],
  ['a secret-named member redacted, even undefined', { accessKeyId: 'AK', accessKeySecret: 'sk', password: undefined, sessionToken: 3 }],
  ['negative zero written as 0', { n: -0 }],
  ['non-finite numbers become null', { a: Number.NaN, b: Number.POSITIVE_INFINITY }],
  ['integer-like keys first, as JSON orders them', { b: 'b', 2: 'two', a: 'a', 1: 'one' }],
  ['a Date becomes its ISO string', { at: new Date(0) }],
  ['nested objects and arrays', { after: { id: 'd', status: 'ACTIVE', secret: 'x' }, list: [1, 'a', { token: 't' }] }],
  ['a bigint becomes a decimal string', { big: 10n }],
  ['an own __proto__ member', JSON.parse('{"__proto__":{"x":1},"a":"b"}') as Record<string, unknown>],
  ['an object with toJSON', { toJSON: () => ({ replaced: true }), a: 'b' }],
  ['an empty object', {}],
]

for (const [what, value] of cases) {
  t.test(`flat copy equals the JSON round trip: ${what}`, async (t) => {
    const got = toRedactedJson(value)
    const want = roundTrip(value)
    t.same(got, want)
    t.equal(JSON.stringify(got), JSON.stringify(want), 'same members in the same order')
  })
}

t.test('a class instance is copied through JSON too (own enumerable members only)', async (t) => {
  class Facts { constructor(readonly a = 'x') {} get hidden(): string { return 'no' } }
  t.same(toRedactedJson(new Facts() as unknown as Record<string, unknown>), { a: 'x' })
})
