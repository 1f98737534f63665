import type { Config } from './schema'

/**
 * What a config reload changed (DESIGN §4 "Operations and keys"), as the audit event
 * `admin.config.reload` records it and the reload answer lists it: one entry per changed leaf
 * key, by path, with values only where they cannot be secrets.
 *
 * Paths: object keys joined by dots; `listeners` and `instances` are keyed by their `name` / `id`
 * (`listeners[mqtts].port`, `instances[prod].backend.password`), so that reordering the list is
 * no change and an edit names the listener rather than an index. Any other array (`networks`,
 * `audit.sinks`, `hostnames`, `trustedCidrs`) is one value: compared whole, shown whole.
 *
 * Secrets: a key named like a secret (password, secret, token, credential) or a URL (a Redis URL
 * may carry `:password@`) never has its value shown, and values shown whole (arrays, added
 * sections) have such keys replaced by REDACTED, at any depth. A config has no other secret-bearing
 * keys today; the list is deliberately broader than the schema needs.
 */
export interface ConfigChange {
  readonly path: string
  readonly kind: 'added' | 'removed' | 'changed'
  /** Absent for an added key, and for a secret (then `redacted` is true). */
  readonly before?: unknown
  readonly after?: unknown
  readonly redacted?: true
}

export const REDACTED = '[redacted]'
const SECRET_KEY = /password|secret|token|credential|^url$|privateKey/i

/** Arrays whose elements carry an identity, and the key that holds it. */
const KEYED_ARRAYS: Readonly<Record<string, string>> = { listeners: 'name', instances: 'id' }

export function diffConfig(before: Config, after: Config): ConfigChange[] {
  const out: ConfigChange[] = []
  walk(before, after, '', false, out)
  return out
}

/** Whether a key's value must not be shown (exported for the tests and the reload plan). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key)
}

/** A copy of `value` with every secret-named key's value replaced by REDACTED, at any depth. */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets)
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isSecretKey(k) && v !== undefined ? REDACTED : redactSecrets(v)]))
  }
  return value
}

function walk(a: unknown, b: unknown, path: string, secret: boolean, out: ConfigChange[]): void {
  if (isPlainObject(a) && isPlainObject(b)) {
    for (const key of unionKeys(a, b)) {
      const child = path === '' ? key : `${path}.${key}`
      const identity = path === '' ? KEYED_ARRAYS[key] : undefined
      if (identity !== undefined && Array.isArray(a[key]) && Array.isArray(b[key])) {
        walkKeyed(a[key], b[key], key, identity, out)
      } else {
        walk(a[key], b[key], child, secret || isSecretKey(key), out)
      }
    }
    return
  }
  if (sameValue(a, b)) return
  const kind = a === undefined ? 'added' : b === undefined ? 'removed' : 'changed'
  if (secret) {
    out.push({ path, kind, redacted: true })
    return
  }
  out.push({
    path, kind,
    ...(a !== undefined ? { before: redactSecrets(a) } : {}),
    ...(b !== undefined ? { after: redactSecrets(b) } : {}),
  })
}

function walkKeyed(a: readonly unknown[], b: readonly unknown[], name: string, identity: string, out: ConfigChange[]): void {
  const index = (list: readonly unknown[]): Map<string, unknown> => {
    const map = new Map<string, unknown>()
    for (const [i, item] of list.entries()) {
      const id = isPlainObject(item) && typeof item[identity] === 'string' ? item[identity] : `#${i}`
      map.set(id, item)
    }
    return map
  }
  const before = index(a)
  const after = index(b)
  for (const id of new Set([...before.keys(), ...after.keys()])) {
    walk(before.get(id), after.get(id), `${name}[${id}]`, false, out)
  }
}

function unionKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Structural equality of config values (JSON data: no functions, dates or cycles). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameValue(x, b[i]))
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = unionKeys(a, b)
    return keys.every((k) => sameValue(a[k], b[k]))
  }
  return false
}
