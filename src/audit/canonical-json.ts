/**
 * Canonical JSON, so that anyone can recompute an audit event's hash (`portcullis audit verify`,
 * or a third party's own tool) from the JSON line alone.
 *
 * The rules, applied recursively:
 * - an object is written as `{` + its members sorted by key + `}`; keys are sorted by UTF-16 code
 *   units (JavaScript's default `Array.prototype.sort`), each member as `"key":value`, separated by
 *   `,`; members whose value is `undefined` are left out (as JSON.stringify does);
 * - an array is written as `[` + its elements in order, separated by `,` + `]`;
 * - strings, numbers, booleans and null are written exactly as ECMAScript `JSON.stringify` writes
 *   them (shortest round-trip number form, `\u` + four hex digits for control characters);
 * - no whitespace anywhere.
 *
 * For the values an audit event holds (strings, finite numbers, booleans, null, arrays, objects)
 * this is RFC 8785 (JSON Canonicalization Scheme). Example: `{"b":[1,{"d":true,"c":null}],"a":"x"}`
 * is canonically `{"a":"x","b":[1,{"c":null,"d":true}]}`.
 */
export function canonicalJson(value: unknown): string {
  // Plain JSON values (every event the audit log builds): a copy with each object's members
  // inserted in sorted order, written by one native JSON.stringify, which then writes exactly the
  // form below. Anything else takes the general walk.
  const sorted = sortedCopy(value, 0)
  if (sorted !== NOT_PLAIN) return JSON.stringify(sorted) ?? 'null'
  return canonicalWalk(value)
}

const NOT_PLAIN = Symbol('not plain JSON')
/** Deeper than this is left to the walk (JSON.stringify would recurse as deep, and so would it). */
const MAX_FAST_DEPTH = 32

/**
 * `value` with every object's members re-inserted in canonical order, or NOT_PLAIN when
 * JSON.stringify could write it differently from canonicalWalk: a key that looks like an array
 * index (JavaScript orders those first, numerically, whatever the insertion order), `__proto__`,
 * an object that is not plain (a Date, a class instance: JSON.stringify would call toJSON or the
 * walk would see other members), a function, a symbol or a bigint.
 */
function sortedCopy(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
    case 'undefined':
      return value
    case 'object':
      break
    default:
      return NOT_PLAIN
  }
  if (value === null) return null
  if (depth > MAX_FAST_DEPTH) return NOT_PLAIN
  const proto: unknown = Object.getPrototypeOf(value)
  if (Array.isArray(value)) {
    if (proto !== Array.prototype) return NOT_PLAIN
    const out: unknown[] = new Array(value.length)
    for (let i = 0; i < value.length; i++) {
      const element = sortedCopy(value[i], depth + 1)
      if (element === NOT_PLAIN) return NOT_PLAIN
      // An undefined element is written null by both, as a hole is.
      out[i] = element === undefined ? null : element
    }
    return out
  }
  if (proto !== Object.prototype && proto !== null) return NOT_PLAIN
  const record = value as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const key of sortKeys(Object.keys(record))) {
    const first = key.charCodeAt(0)
    if ((first >= 48 && first <= 57) || key === '__proto__') return NOT_PLAIN
    const member = sortedCopy(record[key], depth + 1)
    if (member === NOT_PLAIN) return NOT_PLAIN
    if (member !== undefined) out[key] = member
  }
  return out
}

/**
 * Sorts in place by UTF-16 code units, as `Array.prototype.sort()` does. An event's objects have a
 * dozen keys or fewer: an insertion sort of those allocates nothing (the built-in sort copies
 * the array first), which matters on a path that runs for every audit event.
 */
function sortKeys(keys: string[]): string[] {
  if (keys.length > 24) return keys.sort()
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i] as string
    let j = i - 1
    while (j >= 0 && (keys[j] as string) > key) {
      keys[j + 1] = keys[j] as string
      j--
    }
    keys[j + 1] = key
  }
  return keys
}

/** The rules above, applied member by member. */
function canonicalWalk(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    // JSON.stringify(undefined) is undefined; inside arrays JSON writes null, so do the same.
    return JSON.stringify(value) ?? 'null'
  }
  // Built by concatenation rather than map/join: V8 turns the appends into one rope without the
  // intermediate arrays.
  if (Array.isArray(value)) {
    let out = '['
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalWalk(value[i])
    return out + ']'
  }
  const record = value as Record<string, unknown>
  let out = '{'
  let first = true
  for (const key of Object.keys(record).sort()) {
    const member = record[key]
    if (member === undefined) continue
    out += `${first ? '' : ','}${JSON.stringify(key)}:${canonicalWalk(member)}`
    first = false
  }
  return out + '}'
}
