import { PortcullisError } from '../../errors'
import { isPolicyVariable, type Token } from './pattern'
import type { PolicyVariable, PolicyVariables } from './types'

/**
 * The topic parts of one instance's MQTT topic patterns (those without `*`, see compile.ts) as a
 * trie over topic levels, walked once per PUBLISH, delivery or SUBSCRIBE filter:
 *
 *        root ── "devices" ── ${certCommonName} ── #            Allow devices/${certCommonName}/#
 *          │                        └── "firmware" ── #         Deny  devices/${certCommonName}/firmware/#
 *          └──── + ── "alerts"                                  Allow +/alerts
 *
 * Each node has literal children, one `+` child, children for levels that are exactly a
 * variable (compared with the session's value at decision time), children for levels mixing
 * literals and variables, and terminals for each effect: the patterns that end at the node, and
 * those whose next and last level is `#` (MQTT 3.1.1 §4.7.1.2: `a/#` matches `a` and everything
 * under it). A terminal holds the smallest ordinal (policy order) of its patterns.
 *
 * Denys and Allows share the trie, so a topic is read once. Deny precedence (DESIGN §4): the
 * first Deny reached ends the walk; an Allow reached only notes that the answer may be yes, and
 * from then on the walk enters only the subtrees that still hold a Deny (`denyBelow`).
 *
 * The walk reads the topic with indexOf('/') and compares in place (startsWith at an offset):
 * it splits nothing and allocates nothing. The same rule serves topic names (Publish, Receive)
 * and filters (Subscribe): a filter's `+` or `#` level is matched only by a pattern wildcard that
 * covers it — a literal level compares characters, and `+` refuses a level that is `#` — so a
 * filter is allowed only when it is a subset of the pattern.
 */

/**
 * No terminal: larger than every ordinal. The walk uses the module-local constant: an exported
 * one compiles to a property read of `exports` on every use.
 */
const NO_MATCH = 0x7fffffff
export const NONE = NO_MATCH

/** What a walk found. */
export const WALK_NOTHING = 0
export const WALK_ALLOW = 1
export const WALK_DENY = 2
const NOTHING = WALK_NOTHING
const ALLOW = WALK_ALLOW
const DENY = WALK_DENY

const HASH_CHAR = 0x23
/** Up to this many literal children are compared in a row; past it they are hashed. */
const SMALL = 8

interface LiteralEdge {
  readonly key: string
  readonly hash: number
  readonly node: TrieNode
  next: LiteralEdge | undefined
}

interface VariableEdge {
  readonly name: PolicyVariable
  readonly node: TrieNode
}

interface MixedEdge {
  readonly key: string
  readonly matcher: LevelMatcher
  readonly node: TrieNode
}

class TrieNode {
  small: LiteralEdge[] | undefined = undefined
  hashed: Map<number, LiteralEdge> | undefined = undefined
  plus: TrieNode | undefined = undefined
  variables: VariableEdge[] | undefined = undefined
  mixed: MixedEdge[] | undefined = undefined
  /** Smallest ordinal of the Deny / Allow patterns that end here. */
  denyEnd = NO_MATCH
  allowEnd = NO_MATCH
  /** Smallest ordinal of the Deny / Allow patterns whose last level, below this node, is `#`. */
  denyHash = NO_MATCH
  allowHash = NO_MATCH
  /** Some Deny terminal is at this node or under it. */
  denyBelow = false
}

/** FNV-1a over the UTF-16 code units of text[start, end). */
function fnv(text: string, start: number, end: number): number {
  let h = 0x811c9dc5
  for (let i = start; i < end; i += 1) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  return h
}

/** The literal child for topic[start, end): the characters are compared, a hash alone decides nothing. */
function literalChild(node: TrieNode, topic: string, start: number, end: number): TrieNode | undefined {
  const length = end - start
  const small = node.small
  if (small !== undefined) {
    for (let i = 0; i < small.length; i += 1) {
      const edge = small[i]!
      if (edge.key.length === length && topic.startsWith(edge.key, start)) return edge.node
    }
    return undefined
  }
  if (node.hashed === undefined) return undefined
  for (let edge = node.hashed.get(fnv(topic, start, end)); edge !== undefined; edge = edge.next) {
    if (edge.key.length === length && topic.startsWith(edge.key, start)) return edge.node
  }
  return undefined
}

function addLiteral(node: TrieNode, key: string): TrieNode {
  const found = literalChild(node, key, 0, key.length)
  if (found !== undefined) return found
  const edge: LiteralEdge = { key, hash: fnv(key, 0, key.length), node: new TrieNode(), next: undefined }
  if (node.hashed === undefined && (node.small?.length ?? 0) < SMALL) {
    ;(node.small ??= []).push(edge)
    return edge.node
  }
  if (node.hashed === undefined) {
    const previous = node.small ?? []
    node.small = undefined
    node.hashed = new Map()
    for (const e of previous) chain(node.hashed, { ...e, next: undefined })
  }
  chain(node.hashed, edge)
  return edge.node
}

function chain(map: Map<number, LiteralEdge>, edge: LiteralEdge): void {
  edge.next = map.get(edge.hash)
  map.set(edge.hash, edge)
}

function addVariable(node: TrieNode, name: PolicyVariable): TrieNode {
  const edges = (node.variables ??= [])
  const found = edges.find((e) => e.name === name)
  if (found !== undefined) return found.node
  const edge = { name, node: new TrieNode() }
  edges.push(edge)
  return edge.node
}

function addMixed(node: TrieNode, level: readonly Token[]): TrieNode {
  const parts = level.map((token): readonly [boolean, string] => {
    if (token.kind === 'literal') return [true, token.text]
    if (token.kind === 'variable' && isPolicyVariable(token.name)) return [false, token.name]
    throw new PortcullisError('INTERNAL', `topic trie: unexpected ${token.kind} token in a level`)
  })
  const key = JSON.stringify(parts)
  const edges = (node.mixed ??= [])
  const found = edges.find((e) => e.key === key)
  if (found !== undefined) return found.node
  const edge = { key, matcher: new LevelMatcher(parts), node: new TrieNode() }
  edges.push(edge)
  return edge.node
}

/** The session's value for a variable level: set, non-empty, and free of `+` and `#`. */
function value(vars: PolicyVariables, name: PolicyVariable): string | undefined {
  const v = vars[name]
  // `/` needs no check: a value compared inside one level [start, end) cannot hold one.
  return typeof v === 'string' && v !== '' && v.indexOf('+') < 0 && v.indexOf('#') < 0 ? v : undefined
}

/** One level made of literals and variables (`dev-${clientId}`): a fixed sequence, so at most one way to match. */
class LevelMatcher {
  constructor(private readonly parts: readonly (readonly [literal: boolean, text: string])[]) {}

  matches(topic: string, start: number, end: number, vars: PolicyVariables): boolean {
    let pos = start
    for (let i = 0; i < this.parts.length; i += 1) {
      const part = this.parts[i]!
      const piece = part[0] ? part[1] : value(vars, part[1] as PolicyVariable)
      if (piece === undefined || pos + piece.length > end || !topic.startsWith(piece, pos)) return false
      pos += piece.length
    }
    return pos === end
  }
}

export class TopicTrie {
  private readonly root = new TrieNode()
  private empty = true

  get isEmpty(): boolean {
    return this.empty
  }

  /**
   * Adds one pattern's topic levels (as parsePattern gives them) under `ordinal`. The caller
   * sends no pattern with `*` or with a variable no session can have.
   */
  insert(levels: readonly (readonly Token[])[], ordinal: number, deny: boolean): void {
    this.empty = false
    const path: TrieNode[] = [this.root]
    let node = this.root
    let hash = false
    for (const level of levels) {
      const head = level[0]
      if (head?.kind === 'hash') {
        hash = true
        break
      }
      if (head?.kind === 'plus') node = node.plus ??= new TrieNode()
      else if (head === undefined) node = addLiteral(node, '')
      else if (level.length === 1 && head.kind === 'literal') node = addLiteral(node, head.text)
      else if (level.length === 1 && head.kind === 'variable' && isPolicyVariable(head.name)) node = addVariable(node, head.name)
      else node = addMixed(node, level)
      path.push(node)
    }
    if (deny) {
      if (hash) node.denyHash = Math.min(node.denyHash, ordinal)
      else node.denyEnd = Math.min(node.denyEnd, ordinal)
      for (const n of path) n.denyBelow = true
    } else if (hash) node.allowHash = Math.min(node.allowHash, ordinal)
    else node.allowEnd = Math.min(node.allowEnd, ordinal)
  }

  /** WALK_DENY when a Deny matches `topic`, else WALK_ALLOW when an Allow does, else WALK_NOTHING. */
  walk(topic: string, vars: PolicyVariables): number {
    return walkFrom(this.root, topic, 0, vars, false)
  }

  /** The smallest ordinal of a Deny (`deny`) or Allow pattern that matches `topic`, or NONE. */
  first(topic: string, vars: PolicyVariables, deny: boolean): number {
    return firstFrom(this.root, topic, 0, vars, deny)
  }
}

/**
 * `start` is where the next level of `topic` begins, or -1 when every level has been matched;
 * `allowed`: an Allow has matched already, so only a Deny can change the answer. The hot path:
 * recursion over the few branches that match, no allocation.
 */
function walkFrom(node: TrieNode, topic: string, start: number, vars: PolicyVariables, allowed: boolean): number {
  if (start < 0) {
    if (node.denyEnd !== NO_MATCH || node.denyHash !== NO_MATCH) return DENY
    return allowed || node.allowEnd !== NO_MATCH || node.allowHash !== NO_MATCH ? ALLOW : NOTHING
  }
  if (node.denyHash !== NO_MATCH) return DENY
  if (node.allowHash !== NO_MATCH) allowed = true
  if (allowed && !node.denyBelow) return ALLOW
  let end = topic.indexOf('/', start)
  const next = end < 0 ? -1 : end + 1
  if (end < 0) end = topic.length
  let found: number
  const literal = literalChild(node, topic, start, end)
  if (literal !== undefined) {
    found = walkFrom(literal, topic, next, vars, allowed)
    if (found === DENY) return DENY
    if (found === ALLOW) allowed = true
  }
  const plus = node.plus
  if (plus !== undefined && (!allowed || plus.denyBelow) && !(end - start === 1 && topic.charCodeAt(start) === HASH_CHAR)) {
    found = walkFrom(plus, topic, next, vars, allowed)
    if (found === DENY) return DENY
    if (found === ALLOW) allowed = true
  }
  const variables = node.variables
  if (variables !== undefined) {
    for (let i = 0; i < variables.length; i += 1) {
      const edge = variables[i]!
      if (allowed && !edge.node.denyBelow) continue
      const v = value(vars, edge.name)
      if (v === undefined || v.length !== end - start || !topic.startsWith(v, start)) continue
      found = walkFrom(edge.node, topic, next, vars, allowed)
      if (found === DENY) return DENY
      if (found === ALLOW) allowed = true
    }
  }
  const mixed = node.mixed
  if (mixed !== undefined) {
    for (let i = 0; i < mixed.length; i += 1) {
      const edge = mixed[i]!
      if (allowed && !edge.node.denyBelow) continue
      if (!edge.matcher.matches(topic, start, end, vars)) continue
      found = walkFrom(edge.node, topic, next, vars, allowed)
      if (found === DENY) return DENY
      if (found === ALLOW) allowed = true
    }
  }
  return allowed ? ALLOW : NOTHING
}

/** Visits every matching branch and answers the smallest ordinal of one effect (for `decide`, which names it). */
function firstFrom(node: TrieNode, topic: string, start: number, vars: PolicyVariables, deny: boolean): number {
  const end = deny ? node.denyEnd : node.allowEnd
  const hash = deny ? node.denyHash : node.allowHash
  if (start < 0) return Math.min(end, hash)
  let best = hash
  let stop = topic.indexOf('/', start)
  const next = stop < 0 ? -1 : stop + 1
  if (stop < 0) stop = topic.length
  const literal = literalChild(node, topic, start, stop)
  if (literal !== undefined) best = Math.min(best, firstFrom(literal, topic, next, vars, deny))
  if (node.plus !== undefined && !(stop - start === 1 && topic.charCodeAt(start) === HASH_CHAR)) best = Math.min(best, firstFrom(node.plus, topic, next, vars, deny))
  for (const edge of node.variables ?? []) {
    const v = value(vars, edge.name)
    if (v !== undefined && v.length === stop - start && topic.startsWith(v, start)) best = Math.min(best, firstFrom(edge.node, topic, next, vars, deny))
  }
  for (const edge of node.mixed ?? []) {
    if (edge.matcher.matches(topic, start, stop, vars)) best = Math.min(best, firstFrom(edge.node, topic, next, vars, deny))
  }
  return best
}
