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
  if (value === null || typeof value !== 'object') {
    // JSON.stringify(undefined) is undefined; inside arrays JSON writes null, so do the same.
    return JSON.stringify(value) ?? 'null'
  }
  // Built by concatenation rather than map/join: this runs for every audit event (twice per
  // connection), and V8 turns the appends into one rope without the intermediate arrays.
  if (Array.isArray(value)) {
    let out = '['
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i])
    return out + ']'
  }
  const record = value as Record<string, unknown>
  let out = '{'
  let first = true
  for (const key of Object.keys(record).sort()) {
    const member = record[key]
    if (member === undefined) continue
    out += `${first ? '' : ','}${JSON.stringify(key)}:${canonicalJson(member)}`
    first = false
  }
  return out + '}'
}
