/**
 * `--output json|table`. json (the default) is the API's answer exactly, indented, for scripts and
 * `jq`. table is for people: a list (`{items}` or an array) as aligned columns, one object as
 * key/value lines with nested keys dotted (`backend.host`). Multi-line values (PEM) are shortened
 * to their first line in a table; `--output json` shows them whole.
 */
export const OUTPUT_FORMATS = ['json', 'table'] as const
export type OutputFormat = (typeof OUTPUT_FORMATS)[number]

export interface Column {
  /** A dotted path into the item: `authorization.mode`. */
  key: string
  header?: string
}

export interface PrintOptions {
  /** The columns of a list (default: the scalar fields of its items, at most MAX_AUTO_COLUMNS). */
  columns?: readonly (string | Column)[]
  /** Renders the table form itself (explain, keys status): the value is the API's answer. */
  table?: (value: unknown) => string
}

const MAX_AUTO_COLUMNS = 8
/** Wider than a device id (64 hex digits): ids are never cut. */
const MAX_CELL = 72

export function render(value: unknown, format: OutputFormat, options: PrintOptions = {}): string {
  if (format === 'json') return `${JSON.stringify(value, null, 2)}\n`
  if (options.table !== undefined) return options.table(value)
  const list = listOf(value)
  if (list !== undefined) return renderList(list, options.columns)
  if (isObject(value)) return renderObject(value)
  return `${cell(value, Infinity)}\n`
}

/** `{items: [...]}` (a listed page, nextToken followed) or a bare array. */
function listOf(value: unknown): unknown[] | undefined {
  if (Array.isArray(value)) return value
  if (isObject(value) && Array.isArray(value['items']) && Object.keys(value).every((k) => k === 'items' || k === 'nextToken')) return value['items']
  return undefined
}

export function renderList(items: readonly unknown[], wanted?: readonly (string | Column)[]): string {
  if (items.length === 0) return '(none)\n'
  const columns = (wanted ?? autoColumns(items)).map((c) => (typeof c === 'string' ? { key: c } : c))
  const rows = items.map((item) => columns.map((c) => cell(at(item, c.key), MAX_CELL)))
  return aligned([columns.map((c) => c.header ?? headerOf(c.key)), ...rows])
}

export function renderObject(value: Record<string, unknown>): string {
  const pairs: Array<[string, string]> = []
  flatten(value, '', pairs)
  if (pairs.length === 0) return '(empty)\n'
  const width = Math.max(...pairs.map(([k]) => k.length))
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${v}`.trimEnd()).join('\n') + '\n'
}

/** Rows of cells, each column as wide as its widest cell, two spaces apart. */
export function aligned(rows: readonly (readonly string[])[]): string {
  const widths: number[] = []
  for (const row of rows) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)))
  return rows.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n') + '\n'
}

function autoColumns(items: readonly unknown[]): string[] {
  const keys: string[] = []
  for (const item of items.slice(0, 50)) {
    if (!isObject(item)) continue
    for (const [k, v] of Object.entries(item)) if (!keys.includes(k) && isScalarish(v)) keys.push(k)
  }
  return keys.slice(0, MAX_AUTO_COLUMNS)
}

function flatten(value: Record<string, unknown>, prefix: string, out: Array<[string, string]>): void {
  for (const [k, v] of Object.entries(value)) {
    const key = prefix === '' ? k : `${prefix}.${k}`
    if (isObject(v) && Object.keys(v).length > 0) flatten(v, key, out)
    else out.push([key, cell(v, Infinity)])
  }
}

function at(item: unknown, path: string): unknown {
  let node: unknown = item
  for (const part of path.split('.')) node = isObject(node) ? node[part] : undefined
  return node
}

function cell(value: unknown, max: number): string {
  let text: string
  if (value === undefined || value === null) text = '-'
  else if (typeof value === 'string') text = shortLines(value)
  else if (Array.isArray(value) && value.every((v) => !isObject(v) && !Array.isArray(v))) text = value.length === 0 ? '-' : value.map(String).join(',')
  else if (typeof value === 'object') text = JSON.stringify(value)
  else text = String(value)
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

function shortLines(text: string): string {
  const lines = text.trimEnd().split('\n')
  return lines.length <= 1 ? text : `${lines[0] ?? ''} … (${lines.length} lines)`
}

function headerOf(key: string): string {
  return key.replace(/\./g, ' ').replace(/([a-z0-9])([A-Z])/g, '$1 $2').toUpperCase()
}

function isScalarish(v: unknown): boolean {
  return v === null || typeof v !== 'object' || (Array.isArray(v) && v.every((x) => typeof x !== 'object'))
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
