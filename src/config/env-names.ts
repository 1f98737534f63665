import type { z } from 'zod'

/**
 * The `PORTCULLIS_*` names the config schema offers, read off the schema itself (so a key added
 * to schema.ts is known here at once), for refusing an override that names no key with the
 * variable's name and the closest real one. A key is addressable down to an array or a scalar;
 * an array (listeners, instances…) is set whole, as JSON.
 */
export const PREFIX = 'PORTCULLIS_'

/** Whether `path` (camelCase segments) names a key of `schema`, and if not, the keys where it stops. */
export function lookUp(schema: z.ZodType, path: readonly string[]): { known: true } | { known: false; at: string[]; keys: string[] } {
  let nodes = [schema]
  for (const [i, segment] of path.entries()) {
    const next: z.ZodType[] = []
    const keys = new Set<string>()
    for (const node of nodes.flatMap(objectsOf)) {
      if (node.kind === 'any') return { known: true }
      for (const key of Object.keys(node.shape)) keys.add(key)
      const child = node.shape[segment]
      if (child !== undefined) next.push(child)
    }
    if (next.length === 0) return { known: false, at: path.slice(0, i), keys: [...keys] }
    nodes = next
  }
  return { known: true }
}

/** Every variable that names a key, e.g. PORTCULLIS_LIMITS__HANDSHAKE_TIMEOUT_MS. */
export function variableNames(schema: z.ZodType): string[] {
  const out: string[] = []
  const walk = (node: z.ZodType, path: string[]): void => {
    for (const object of objectsOf(node)) {
      if (object.kind === 'any') continue
      for (const [key, child] of Object.entries(object.shape)) {
        const childPath = [...path, key]
        out.push(variableOf(childPath))
        walk(child, childPath)
      }
    }
  }
  walk(schema, [])
  return [...new Set(out)].sort()
}

export function variableOf(path: readonly string[]): string {
  return `${PREFIX}${path.map((s) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('__')}`
}

/** The candidate closest to `name` (optimal string alignment distance), if it is close enough to be a typo. */
export function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined
  for (const candidate of candidates) {
    const distance = osaDistance(name, candidate)
    if (best === undefined || distance < best.distance) best = { name: candidate, distance }
  }
  const bare = name.length - PREFIX.length
  return best !== undefined && best.distance <= Math.max(1, Math.floor(bare / 4)) ? best.name : undefined
}

type ObjectNode = { kind: 'object'; shape: Record<string, z.ZodType> } | { kind: 'any' }

/** The object schemas a node can be, through defaults, optionals, pipes and unions. */
function objectsOf(node: z.ZodType): ObjectNode[] {
  const def = (node as unknown as { _zod: { def: ZodDef } })._zod.def
  switch (def.type) {
    case 'object':
      return [{ kind: 'object', shape: def.shape ?? {} }]
    case 'record':
      return [{ kind: 'any' }]
    case 'default': case 'prefault': case 'optional': case 'nullable': case 'readonly': case 'catch': case 'nonoptional':
      return def.innerType === undefined ? [] : objectsOf(def.innerType)
    case 'pipe':
      return def.in === undefined ? [] : objectsOf(def.in)
    case 'union':
      return (def.options ?? []).flatMap(objectsOf)
    case 'intersection':
      return [def.left, def.right].flatMap((s) => (s === undefined ? [] : objectsOf(s)))
    case 'lazy':
      return def.getter === undefined ? [] : objectsOf(def.getter())
    default:
      return []
  }
}

interface ZodDef {
  type: string
  shape?: Record<string, z.ZodType>
  innerType?: z.ZodType
  in?: z.ZodType
  options?: z.ZodType[]
  left?: z.ZodType
  right?: z.ZodType
  getter?: () => z.ZodType
}

function osaDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 0; j <= b.length; j++) (d[0] as number[])[j] = j
  for (let i = 1; i <= a.length; i++) {
    const row = d[i] as number[]
    const prev = d[i - 1] as number[]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1)
    }
  }
  return (d[a.length] as number[])[b.length] as number
}
