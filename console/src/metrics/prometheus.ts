/**
 * A parser for the Prometheus text exposition format (version 0.0.4) that `GET /metrics` answers:
 * `name{label="value",...} value [timestamp]` per line, `#` lines are HELP/TYPE comments. Label
 * values escape `\\`, `\"` and `\n`. Values may be `NaN`, `+Inf`, `-Inf`.
 */
export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/

export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const sample = parseLine(line)
    if (sample !== undefined) samples.push(sample)
  }
  return samples
}

function parseLine(line: string): Sample | undefined {
  const name = NAME.exec(line)?.[0]
  if (name === undefined) return undefined
  let rest = line.slice(name.length)
  const labels: Record<string, string> = {}
  if (rest.startsWith('{')) {
    const end = parseLabels(rest, labels)
    if (end < 0) return undefined
    rest = rest.slice(end)
  }
  const valueText = rest.trim().split(/\s+/)[0] ?? ''
  const value = parseValue(valueText)
  return value === undefined ? undefined : { name, labels, value }
}

/** Reads `{a="x",b="y"}` into `labels`; answers the index after `}`, or -1 when malformed. */
function parseLabels(text: string, labels: Record<string, string>): number {
  let i = 1
  for (;;) {
    while (text[i] === ' ' || text[i] === ',') i++
    if (text[i] === '}') return i + 1
    const name = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i))?.[0]
    if (name === undefined || text[i + name.length] !== '=' || text[i + name.length + 1] !== '"') return -1
    i += name.length + 2
    let value = ''
    for (;;) {
      const c = text[i]
      if (c === undefined) return -1
      if (c === '"') break
      if (c === '\\') {
        const next = text[i + 1]
        value += next === 'n' ? '\n' : next ?? ''
        i += 2
        continue
      }
      value += c
      i++
    }
    labels[name] = value
    i++
  }
}

function parseValue(text: string): number | undefined {
  if (text === 'NaN') return NaN
  if (text === '+Inf') return Infinity
  if (text === '-Inf') return -Infinity
  if (text === '') return undefined
  const value = Number(text)
  return Number.isNaN(value) ? undefined : value
}

/** The sum of a metric's samples whose labels match `where`. */
export function total(samples: readonly Sample[], name: string, where: Record<string, string> = {}): number {
  let sum = 0
  for (const s of samples) {
    if (s.name !== name) continue
    if (Object.entries(where).every(([k, v]) => s.labels[k] === v)) sum += s.value
  }
  return sum
}

/** A metric's samples summed per value of one label. */
export function byLabel(samples: readonly Sample[], name: string, label: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const s of samples) {
    if (s.name !== name) continue
    const key = s.labels[label] ?? ''
    out.set(key, (out.get(key) ?? 0) + s.value)
  }
  return out
}
