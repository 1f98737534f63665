import { POLICY_VARIABLES, type PolicyVariable, type PolicyVariables } from './types'

/**
 * Resource and action patterns (DESIGN §4 "Accounts and authorization"), parsed once into tokens,
 * and the REFERENCE matchers: each call translates a pattern into a regular expression and tests
 * it. Simple and obviously right, not fast; the compiled form (compile.ts) must give the same
 * answers, and test/codec/policy-compile-property.test.ts holds the two together.
 *
 * A resource pattern is read in two parts. Everywhere, `*` matches any run of characters
 * (possibly empty, `/`, `+` and `#` included) and `${variable}` stands for the session's value,
 * matched literally. In an MQTT topic pattern (one that starts `mqtt:` and holds `:topic/`) the
 * text after the first `:topic/` is the topic part, read level by level (levels are separated by
 * `/`, MQTT 3.1.1 §4.7.1.1): a level that is exactly `+` matches one level, a last level that is
 * exactly `#` matches the rest including the parent level (MQTT 3.1.1 §4.7.1.2-3). A `+` or `#`
 * anywhere else is an ordinary character; the admin API refuses such patterns (document.ts), so
 * this only says what a malformed stored pattern means: it matches those characters literally.
 *
 * The topic part is found in the pattern as written, before any substitution, so a session value
 * holding `:topic/` cannot move it.
 */

export type Token =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'star' }
  /** `name` may be no known variable: such a pattern matches nothing. */
  | { readonly kind: 'variable'; readonly name: string }
  /** Only as a whole level of the topic part. */
  | { readonly kind: 'plus' }
  /** Only as the whole last level of the topic part. */
  | { readonly kind: 'hash' }

export interface ParsedPattern {
  readonly source: string
  /** Tokens before the topic part (up to and including `:topic/`), or of the whole pattern when it has no topic part. */
  readonly prefix: readonly Token[]
  /** The topic part's levels, each a list of tokens (an empty level has none); undefined when the pattern has no topic part. */
  readonly levels: readonly (readonly Token[])[] | undefined
}

export const TOPIC_MARKER = ':topic/'
const STAR: Token = Object.freeze({ kind: 'star' })
const PLUS: Token = Object.freeze({ kind: 'plus' })
const HASH: Token = Object.freeze({ kind: 'hash' })

/** Where the topic part of an MQTT topic pattern or resource starts, or -1. */
export function topicStart(text: string): number {
  if (!text.startsWith('mqtt:')) return -1
  const at = text.indexOf(TOPIC_MARKER, 5)
  return at < 0 ? -1 : at + TOPIC_MARKER.length
}

export function parsePattern(source: string): ParsedPattern {
  const start = topicStart(source)
  if (start < 0) return { source, prefix: tokenize(source), levels: undefined }
  const raw = source.slice(start).split('/')
  const levels = raw.map((level, i): readonly Token[] => {
    if (level === '+') return [PLUS]
    if (level === '#' && i === raw.length - 1) return [HASH]
    return tokenize(level)
  })
  return { source, prefix: tokenize(source.slice(0, start)), levels }
}

/**
 * Literals, `*` and `${name}`. A `${` with no `}` after it is literal text (the admin API
 * refuses it); consecutive literals are merged and consecutive stars collapse into one.
 */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = []
  let literal = ''
  const flush = (): void => {
    if (literal !== '') tokens.push({ kind: 'literal', text: literal })
    literal = ''
  }
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i]
    if (c === '*') {
      flush()
      if (tokens[tokens.length - 1]?.kind !== 'star') tokens.push(STAR)
    } else if (c === '$' && text[i + 1] === '{' && text.indexOf('}', i + 2) >= 0) {
      const close = text.indexOf('}', i + 2)
      flush()
      tokens.push({ kind: 'variable', name: text.slice(i + 2, close) })
      i = close
    } else {
      literal += c
    }
  }
  flush()
  return tokens
}

export function isPolicyVariable(name: string): name is PolicyVariable {
  return (POLICY_VARIABLES as readonly string[]).includes(name)
}

/**
 * The session's value for `name`, or undefined when it has none (or `name` is no known
 * variable): then every pattern that uses it matches nothing. Only the known names are read, so
 * `${constructor}` cannot reach the prototype.
 */
export function variableValue(vars: PolicyVariables, name: string): string | undefined {
  if (!isPolicyVariable(name)) return undefined
  const value = vars[name]
  return typeof value === 'string' && value !== '' ? value : undefined
}

/**
 * A session value may not carry MQTT level structure into the topic part: with `/`, `+` or `#`
 * a device could widen its own grant by choosing its clientId (`devices/${clientId}/#` with
 * clientId `+` would cover every device).
 */
export function isTopicSafe(value: string): boolean {
  return value.indexOf('/') < 0 && value.indexOf('+') < 0 && value.indexOf('#') < 0
}

const escape = (text: string): string => text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&')

/** An action pattern as a regular expression: `*` is any run of characters, the rest is literal. */
export function actionPatternRegExp(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map(escape).join('[\\s\\S]*')}$`)
}

/** REFERENCE: whether `action` is matched by an action pattern. */
export function matchesAction(pattern: string, action: string): boolean {
  return actionPatternRegExp(pattern).test(action)
}

/** REFERENCE: whether `resource` is matched by `pattern` for a session with `vars`. */
export function matchesResource(pattern: string, resource: string, vars: PolicyVariables): boolean {
  const regex = patternRegex(parsePattern(pattern), vars)
  return regex !== undefined && regex.test(resource)
}

/** The pattern as an anchored regular expression for these variables, or undefined when it can match nothing. */
function patternRegex(parsed: ParsedPattern, vars: PolicyVariables): RegExp | undefined {
  let source = ''
  for (const token of parsed.prefix) {
    const part = tokenRegex(token, vars, false)
    if (part === undefined) return undefined
    source += part
  }
  const levels = parsed.levels ?? []
  for (let i = 0; i < levels.length; i += 1) {
    const level = levels[i] as readonly Token[]
    if (level[0]?.kind === 'hash') {
      // `a/#` matches `a` itself and everything under it (MQTT 3.1.1 §4.7.1.2); a lone `#` matches all.
      source += i === 0 ? '[\\s\\S]*' : '(?:\\/[\\s\\S]*)?'
      break
    }
    if (i > 0) source += '\\/'
    for (const token of level) {
      const part = tokenRegex(token, vars, true)
      if (part === undefined) return undefined
      source += part
    }
  }
  return new RegExp(`^${source}$`)
}

function tokenRegex(token: Token, vars: PolicyVariables, inTopic: boolean): string | undefined {
  switch (token.kind) {
    case 'literal': return escape(token.text)
    case 'star': return '[\\s\\S]*'
    // One level, any characters but `/`, except a level that is a `#` filter: `a/+` does not cover `a/#`.
    case 'plus': return '(?!#(?:\\/|$))[^\\/]*'
    case 'hash': return '[\\s\\S]*'
    case 'variable': {
      const value = variableValue(vars, token.name)
      if (value === undefined || (inTopic && !isTopicSafe(value))) return undefined
      return escape(value)
    }
  }
}
