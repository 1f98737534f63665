import fc from 'fast-check'

/** fast-check arbitraries shared by the property tests (test/codec/*-property, test/unit/stages/*-property). */

/** Arbitrary octets, `min` to `max` of them. */
export const bytes = (max: number, min = 0): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ minLength: min, maxLength: max }).map((a) => Buffer.from(a))

/** `base` with a few octets set, dropped or inserted (at least `minEdits` edits, at most 4). */
export function mutated(base: fc.Arbitrary<Buffer>, minEdits = 1): fc.Arbitrary<Buffer> {
  return fc.tuple(base, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'drop', 'insert')), { minLength: minEdits, maxLength: 4 }))
    .map(([b, edits]) => {
      let out = Buffer.from(b)
      for (const [at, value, op] of edits) {
        const i = out.length === 0 ? 0 : at % out.length
        if (op === 'set' && out.length > 0) out[i] = value
        else if (op === 'drop') out = Buffer.concat([out.subarray(0, i), out.subarray(i + 1)])
        else out = Buffer.concat([out.subarray(0, i), Buffer.from([value]), out.subarray(i)])
      }
      return out
    })
}
