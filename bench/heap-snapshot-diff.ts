import { readFileSync } from 'node:fs'

/**
 * What a V8 heap snapshot holds, by kind of object (issue 15: "where the ~67 KiB go"): self sizes
 * and counts summed per constructor name for objects, closures and Node's native (C++) entries,
 * and per node type for the rest (strings, code, arrays, hidden). Two summaries subtracted and
 * divided by the connections opened between them give the V8 heap each connection holds, by kind.
 */
export type HeapSummary = Map<string, { count: number; bytes: number }>

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } }
  nodes: number[]
  strings: string[]
}

/** Types whose name says what the object is; other types are grouped by type. */
const NAMED_TYPES = new Set(['object', 'closure', 'native', 'regexp'])

export function summarizeHeapSnapshot(json: string): HeapSummary {
  const snap = JSON.parse(json) as Snapshot
  const fields = snap.snapshot.meta.node_fields
  const types = snap.snapshot.meta.node_types[0]
  const stride = fields.length
  const typeAt = fields.indexOf('type')
  const nameAt = fields.indexOf('name')
  const sizeAt = fields.indexOf('self_size')
  const out: HeapSummary = new Map()
  for (let i = 0; i < snap.nodes.length; i += stride) {
    const type = types[snap.nodes[i + typeAt] ?? 0] ?? '?'
    const key = NAMED_TYPES.has(type) ? `${type === 'object' ? '' : `${type} `}${snap.strings[snap.nodes[i + nameAt] ?? 0] ?? '?'}` : `(${type})`
    const entry = out.get(key) ?? { count: 0, bytes: 0 }
    entry.count++
    entry.bytes += snap.nodes[i + sizeAt] ?? 0
    out.set(key, entry)
  }
  return out
}

export function summarizeHeapSnapshotFile(file: string): HeapSummary {
  return summarizeHeapSnapshot(readFileSync(file, 'utf8'))
}

/** after − before per unit (connection), largest growth first, down to `minBytes` per unit. */
export function diffPerUnit(before: HeapSummary, after: HeapSummary, units: number, minBytes = 16): Array<{ key: string; count: number; bytes: number }> {
  const keys = new Set([...before.keys(), ...after.keys()])
  const rows: Array<{ key: string; count: number; bytes: number }> = []
  for (const key of keys) {
    const a = after.get(key) ?? { count: 0, bytes: 0 }
    const b = before.get(key) ?? { count: 0, bytes: 0 }
    const bytes = (a.bytes - b.bytes) / units
    if (Math.abs(bytes) >= minBytes) rows.push({ key, count: (a.count - b.count) / units, bytes })
  }
  return rows.sort((x, y) => y.bytes - x.bytes)
}
