import t from 'tap'
import { canonicalJson } from '../../src/audit/canonical-json'

/**
 * canonicalJson writes plain JSON values with one JSON.stringify of a sorted copy. Its output must
 * be byte for byte that of the member-by-member walk the rules describe; this reference is that
 * walk, written independently.
 */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${Array.from(value as unknown[], (v) => reference(v)).join(',')}]`
  const record = value as Record<string, unknown>
  return `{${Object.keys(record).sort().filter((k) => record[k] !== undefined).map((k) => `${JSON.stringify(k)}:${reference(record[k])}`).join(',')}}`
}

const cases: Array<[string, unknown]> = [
  ['the design example', { b: [1, { d: true, c: null }], a: 'x' }],
  ['an audit event', { id: 'u', time: '2026-12-02T00:00:00.000Z', type: 'connection.accepted', outcome: 'success', actor: { kind: 'client', clientId: 'c' }, source: { ip: '192.0.2.1', port: 1 }, details: { connId: 'c1', bytes: 0 }, prev: '0'.repeat(64) }],
  ['index-like keys, which JavaScript orders first', { b: 1, 10: 'ten', 2: 'two', a: { 1: 'x', '01': 'y' } }],
  ['undefined members and undefined array elements', { a: undefined, b: [undefined, 1], c: 'x' }],
  ['numbers', { a: -0, b: 1e21, c: 0.1 + 0.2, d: Number.NaN, e: -Number.MAX_VALUE }],
  ['strings needing escapes', { 'k"\n': 'line\nbreak \u0001 \ud800 é', 'ü': 'ü', Z: 'z', a: 'a' }],
  ['a Date (toJSON must not be called)', { at: new Date(0), a: 1 }],
  ['a class instance', { x: new (class { a = 1; b = 2 })() }],
  ['a function member', { f: () => 1, a: 1 }],
  ['an own __proto__ key', JSON.parse('{"__proto__":{"x":1},"a":"b"}') as unknown],
  ['an object without a prototype', Object.assign(Object.create(null) as object, { b: 1, a: 2 })],
  ['a sparse array', [1, , 3]],
  ['deep nesting', JSON.parse(`${'{"a":'.repeat(40)}1${'}'.repeat(40)}`) as unknown],
  ['scalars', 'x'],
  ['null', null],
  ['an empty object', {}],
]

for (const [what, value] of cases) {
  t.test(`canonical form equals the member-by-member walk: ${what}`, async (t) => {
    t.equal(canonicalJson(value), reference(value))
  })
}

t.test('random plain JSON values come out as the walk writes them', async (t) => {
  let seed = 7
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  const gen = (depth: number): unknown => {
    switch (depth > 3 ? rand(4) : rand(6)) {
      case 0: return rand(2) === 0 ? null : rand(1000) - 500
      case 1: return String.fromCharCode(...Array.from({ length: rand(6) }, () => 32 + rand(400)))
      case 2: return rand(2) === 0
      case 3: return rand(3) === 0 ? undefined : rand(100) / 7
      case 4: return Array.from({ length: rand(4) }, () => gen(depth + 1))
      default: {
        const o: Record<string, unknown> = {}
        for (let i = rand(5); i > 0; i--) o[rand(3) === 0 ? String(rand(20)) : `k${String.fromCharCode(65 + rand(50))}`] = gen(depth + 1)
        return o
      }
    }
  }
  for (let i = 0; i < 2000; i++) {
    const value = gen(0)
    if (canonicalJson(value) !== reference(value)) {
      t.fail(`differs for ${JSON.stringify(value)}`)
      return
    }
  }
  t.pass('2,000 values')
})
