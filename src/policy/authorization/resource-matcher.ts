import { isPolicyVariable, isTopicSafe, parsePattern, variableValue, type ParsedPattern, type Token } from './pattern'
import type { PolicyVariables } from './types'

/**
 * A resource pattern prepared once for matching many resources: the compiled counterpart of
 * `matchesResource` (pattern.ts), for the patterns the topic trie does not take (AMQP, admin,
 * `mqtt:Connect`, and topic patterns with `*` or variables before the topic part). It builds no
 * regular expression and allocates nothing per call, and its time is bounded by
 * O(resource length × pattern length) whatever the number of `*` (a backtracking regex is
 * exponential in them, and the resource is chosen by the client).
 *
 * The pattern becomes pieces (literal, variable, `+`) in runs ("segments") separated by `*`.
 * A trailing `/#` is rewritten as two alternatives, `X` and `X/*` (`#` matches the parent level
 * too, MQTT 3.1.1 §4.7.1.2); a lone `#` topic part as `*`. Then the classic greedy glob match is
 * exact: a segment placed at a given position matches in at most one way (a `+` is always
 * followed by `/` or the end, so it takes the whole level), and the later it starts the later it
 * ends, so the leftmost placement of each segment between stars is never worse than another.
 */

const LITERAL = 0
const VARIABLE = 1
const PLUS = 2

type Piece =
  | { readonly kind: typeof LITERAL; readonly text: string }
  | { readonly kind: typeof VARIABLE; readonly name: string; readonly inTopic: boolean }
  | { readonly kind: typeof PLUS }

interface Alternative {
  /** Runs of pieces between stars; with no star there is exactly one (possibly empty). */
  readonly segments: readonly (readonly Piece[])[]
  readonly hasStar: boolean
  readonly anchoredStart: boolean
  readonly anchoredEnd: boolean
}

export class ResourceMatcher {
  private constructor(
    readonly source: string,
    private readonly alternatives: readonly Alternative[],
    /** Every variable the pattern uses, checked before any character is compared. */
    private readonly variables: readonly { readonly name: string; readonly inTopic: boolean }[],
  ) {}

  static compile(pattern: string | ParsedPattern): ResourceMatcher {
    const parsed = typeof pattern === 'string' ? parsePattern(pattern) : pattern
    const variables: { name: string; inTopic: boolean }[] = []
    const note = (tokens: readonly Token[], inTopic: boolean): void => {
      for (const token of tokens) if (token.kind === 'variable') variables.push({ name: token.name, inTopic })
    }
    note(parsed.prefix, false)
    for (const level of parsed.levels ?? []) note(level, true)
    // A variable no session can have (an unknown name) makes the pattern match nothing.
    const alternatives = variables.every((v) => isPolicyVariable(v.name)) ? expand(parsed).map(alternative) : []
    return new ResourceMatcher(parsed.source, alternatives, variables)
  }

  /** Whether nothing can ever match (an unknown variable). */
  get never(): boolean {
    return this.alternatives.length === 0
  }

  matches(resource: string, vars: PolicyVariables): boolean {
    for (let i = 0; i < this.variables.length; i += 1) {
      const variable = this.variables[i]!
      const value = variableValue(vars, variable.name)
      if (value === undefined || (variable.inTopic && !isTopicSafe(value))) return false
    }
    for (let i = 0; i < this.alternatives.length; i += 1) {
      if (matchAlternative(this.alternatives[i]!, resource, vars)) return true
    }
    return false
  }
}

type Item = Piece | 'star'

/** The pattern as flat items, once or twice (a trailing `/#`). */
function expand(parsed: ParsedPattern): Item[][] {
  const items: Item[] = []
  for (const token of parsed.prefix) items.push(item(token, false))
  const levels = parsed.levels
  if (levels === undefined) return [items]
  for (let i = 0; i < levels.length; i += 1) {
    const level = levels[i]!
    if (level[0]?.kind === 'hash') {
      if (i === 0) return [[...items, 'star']]
      return [items, [...items, { kind: LITERAL, text: '/' }, 'star']]
    }
    if (i > 0) items.push({ kind: LITERAL, text: '/' })
    for (const token of level) items.push(item(token, true))
  }
  return [items]
}

function item(token: Token, inTopic: boolean): Item {
  switch (token.kind) {
    case 'literal': return { kind: LITERAL, text: token.text }
    case 'variable': return { kind: VARIABLE, name: token.name, inTopic }
    case 'plus': return { kind: PLUS }
    case 'star': return 'star'
    // parsePattern only makes `hash` the whole last level, which expand() consumes first.
    case 'hash': return 'star'
  }
}

function alternative(items: readonly Item[]): Alternative {
  const segments: Piece[][] = [[]]
  for (const it of items) {
    if (it === 'star') {
      segments.push([])
      continue
    }
    const current = segments[segments.length - 1]!
    const last = current[current.length - 1]
    if (it.kind === LITERAL && last?.kind === LITERAL) current[current.length - 1] = { kind: LITERAL, text: last.text + it.text }
    else current.push(it)
  }
  const hasStar = segments.length > 1
  return {
    segments: hasStar ? segments.filter((s) => s.length > 0) : segments,
    hasStar,
    anchoredStart: items[0] !== undefined && items[0] !== 'star',
    anchoredEnd: items.length > 0 && items[items.length - 1] !== 'star',
  }
}

function matchAlternative(alt: Alternative, s: string, vars: PolicyVariables): boolean {
  const segments = alt.segments
  if (!alt.hasStar) return matchAt(segments[0]!, s, 0, vars) === s.length
  const n = segments.length
  let pos = 0
  let i = 0
  if (alt.anchoredStart) {
    pos = matchAt(segments[0]!, s, 0, vars)
    if (pos < 0) return false
    i = 1
  }
  const free = alt.anchoredEnd ? n - 1 : n
  for (; i < free; i += 1) {
    pos = findFrom(segments[i]!, s, pos, vars)
    if (pos < 0) return false
  }
  if (!alt.anchoredEnd) return true
  // Anchored start and end around at least one star: the last segment is not the first.
  const last = segments[n - 1]!
  const fixed = fixedLength(last, vars)
  if (fixed >= 0) return s.length - fixed >= pos && matchAt(last, s, s.length - fixed, vars) === s.length
  for (let q = pos; q <= s.length; q += 1) if (matchAt(last, s, q, vars) === s.length) return true
  return false
}

/** Where the leftmost placement of `segment` at or after `from` ends, or -1. */
function findFrom(segment: readonly Piece[], s: string, from: number, vars: PolicyVariables): number {
  const first = segment[0]!
  const lead = first.kind === LITERAL ? first.text : first.kind === VARIABLE ? (variableValue(vars, first.name) as string) : undefined
  for (let q = from; q <= s.length; q += 1) {
    if (lead !== undefined) {
      q = s.indexOf(lead, q)
      if (q < 0) return -1
    }
    const end = matchAt(segment, s, q, vars)
    if (end >= 0) return end
  }
  return -1
}

/** Where `segment` placed at `pos` ends, or -1. Variables are known to be set (checked in `matches`). */
function matchAt(segment: readonly Piece[], s: string, pos: number, vars: PolicyVariables): number {
  for (let i = 0; i < segment.length; i += 1) {
    const piece = segment[i]!
    if (piece.kind === PLUS) {
      let end = s.indexOf('/', pos)
      if (end < 0) end = s.length
      // `+` does not cover a level that is a `#` filter (`a/+` is no superset of `a/#`).
      if (end - pos === 1 && s.charCodeAt(pos) === 0x23) return -1
      pos = end
      continue
    }
    const text = piece.kind === LITERAL ? piece.text : (variableValue(vars, piece.name) as string)
    if (!s.startsWith(text, pos)) return -1
    pos += text.length
  }
  return pos
}

/** The length `segment` always spans, or -1 when it holds a `+`. */
function fixedLength(segment: readonly Piece[], vars: PolicyVariables): number {
  let length = 0
  for (let i = 0; i < segment.length; i += 1) {
    const piece = segment[i]!
    if (piece.kind === PLUS) return -1
    length += piece.kind === LITERAL ? piece.text.length : (variableValue(vars, piece.name) as string).length
  }
  return length
}
