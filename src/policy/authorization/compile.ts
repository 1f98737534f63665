import { actionPatternRegExp, parsePattern, topicStart, TOPIC_MARKER, type ParsedPattern } from './pattern'
import { ResourceMatcher } from './resource-matcher'
import { NONE, TopicTrie, WALK_ALLOW, WALK_DENY, WALK_NOTHING } from './topic-trie'
import {
  ACTIONS, MQTT_ACTIONS,
  type Action, type CompiledPolicies, type Decision, type MqttTopicAction, type PolicyDocument, type PolicyVariables, type TopicDecider,
} from './types'

/**
 * The compiled form of a set of policies (types.ts CompiledPolicies): the same answers as the
 * reference `decide()` (decide.ts) for every action, resource and variables, prepared so that a
 * decision on the data path allocates nothing.
 *
 * - Per concrete action (ACTIONS), the statements whose action patterns match it are chosen
 *   once (on first use), Denys and Allows apart, each list in policy order.
 * - `topics(action, instanceId)` builds, once per pair, a TopicDecider: the patterns that start
 *   with the literal `mqtt:<instanceId>:topic/` and have no `*` go into a topic trie (topic-trie.ts,
 *   Denys and Allows together); the others that could match such a resource (a `*` anywhere, a
 *   variable before the topic part) go to a fallback list matched on the full resource string;
 *   the rest can never match and are dropped.
 * - Decisions are prebuilt and frozen, one per statement, so `allows` and `decide` return
 *   without allocating (`decide` on a topic resource slices it to reach the TopicDecider: the
 *   data path holds its TopicDeciders and calls them with the topic).
 *
 * Deny precedence (DESIGN §4): the first Deny found ends the search with a no; an Allow found
 * only lets the search skip what holds no Deny; the Deny fallbacks are tried before an Allow
 * may answer yes.
 */

const KNOWN_ACTIONS: ReadonlySet<string> = new Set(ACTIONS)
const IMPLICIT_DENY: Decision = Object.freeze({ allowed: false })
/** Past this many instances per action, deciders are built for each call rather than kept. */
const MAX_CACHED_DECIDERS = 1024

interface CompiledStatement {
  readonly ordinal: number
  readonly decision: Decision
  /** Every resource pattern, parsed and prepared. */
  readonly resources: readonly { readonly pattern: ParsedPattern; readonly matcher: ResourceMatcher }[]
  /** Those that can match something, for the resources the tries do not serve. */
  readonly matchers: readonly ResourceMatcher[]
  /** Whether an action pattern of the statement matches an action: see `actionTest`. */
  readonly hasAction: (action: string) => boolean
}

interface Selected {
  readonly deny: readonly CompiledStatement[]
  readonly allow: readonly CompiledStatement[]
}

export function compilePolicies(policies: readonly PolicyDocument[]): CompiledPolicies {
  return new CompiledPolicySet(policies)
}

class CompiledPolicySet implements CompiledPolicies {
  private readonly statements: CompiledStatement[] = []
  private readonly decisions: Decision[] = []
  private readonly byAction = new Map<string, Selected>()
  private readonly deciders = new Map<MqttTopicAction, Map<string, TopicDecider>>()

  constructor(policies: readonly PolicyDocument[]) {
    for (const policy of policies) {
      policy.statements.forEach((statement, index) => {
        const ordinal = this.statements.length
        const by = Object.freeze({ policy: policy.name, statement: index })
        const decision: Decision = Object.freeze(statement.effect === 'Allow' ? { allowed: true, by } : { allowed: false, by })
        const resources = statement.resources.map((source) => {
          const pattern = parsePattern(source)
          return { pattern, matcher: ResourceMatcher.compile(pattern) }
        })
        const matchers = resources.map((r) => r.matcher).filter((m) => !m.never)
        this.statements.push({ ordinal, decision, resources, matchers, hasAction: actionTest(statement.actions) })
        this.decisions.push(decision)
      })
    }
    for (const action of MQTT_ACTIONS) if (action !== 'mqtt:Connect') this.deciders.set(action, new Map())
  }

  decide(action: Action, resource: string, vars: PolicyVariables): Decision {
    const deciders = this.deciders.get(action as MqttTopicAction)
    if (deciders !== undefined) {
      const start = topicStart(resource)
      const instanceId = start < 0 ? '' : resource.slice(5, start - TOPIC_MARKER.length)
      if (start >= 0 && !instanceId.includes(':')) return this.topics(action as MqttTopicAction, instanceId).decide(resource.slice(start), vars)
    }
    const selected = this.selected(action)
    for (const statement of selected.deny) if (matchesAny(statement.matchers, resource, vars)) return statement.decision
    for (const statement of selected.allow) if (matchesAny(statement.matchers, resource, vars)) return statement.decision
    return IMPLICIT_DENY
  }

  topics(action: MqttTopicAction, instanceId: string): TopicDecider {
    const cache = this.deciders.get(action)
    let decider = cache?.get(instanceId)
    if (decider !== undefined) return decider
    decider = buildDecider(this.selected(action), instanceId, this.decisions)
    if (cache !== undefined && cache.size < MAX_CACHED_DECIDERS) cache.set(instanceId, decider)
    return decider
  }

  /** Chosen on first use and kept for the known actions (a session asks few of the ~60). */
  private selected(action: string): Selected {
    let selected = this.byAction.get(action)
    if (selected === undefined) {
      selected = this.select(action)
      if (KNOWN_ACTIONS.has(action)) this.byAction.set(action, selected)
    }
    return selected
  }

  private select(action: string): Selected {
    const chosen = this.statements.filter((s) => s.matchers.length > 0 && s.hasAction(action))
    return {
      deny: chosen.filter((s) => !s.decision.allowed),
      allow: chosen.filter((s) => s.decision.allowed),
    }
  }
}

/**
 * The statement's action patterns as one test, built once: names without `*` in a set, each
 * pattern with `*` as one regular expression (the reference matchesAction's own, which it
 * would build again for each of the ~60 actions).
 */
function actionTest(actions: readonly string[]): (action: string) => boolean {
  const exact = new Set(actions.filter((a) => !a.includes('*')))
  const globs = actions.filter((a) => a.includes('*')).map(actionPatternRegExp)
  return (action) => exact.has(action) || globs.some((g) => g.test(action))
}

function matchesAny(matchers: readonly ResourceMatcher[], resource: string, vars: PolicyVariables): boolean {
  for (let i = 0; i < matchers.length; i += 1) if (matchers[i]!.matches(resource, vars)) return true
  return false
}

/** A fallback pattern of one statement, matched on the full resource. */
interface Fallback {
  readonly ordinal: number
  readonly matcher: ResourceMatcher
}

function buildDecider(selected: Selected, instanceId: string, decisions: readonly Decision[]): TopicDecider {
  const prefix = `mqtt:${instanceId}${TOPIC_MARKER}`
  // An instance id with `:` would let a pattern's first `:topic/` fall inside it; such ids are
  // refused by the instance schema, and for any other the full-string matcher alone is exact.
  const plain = !instanceId.includes(':')
  const trie = new TopicTrie()
  const fallback: { deny: Fallback[]; allow: Fallback[] } = { deny: [], allow: [] }
  for (const [statements, deny] of [[selected.deny, true], [selected.allow, false]] as const) {
    for (const statement of statements) {
      for (const { pattern, matcher } of statement.resources) {
        const place = plain ? placement(pattern, matcher, prefix) : matcher.never ? 'never' : 'fallback'
        if (place === 'trie') trie.insert(pattern.levels ?? [], statement.ordinal, deny)
        else if (place === 'fallback') (deny ? fallback.deny : fallback.allow).push({ ordinal: statement.ordinal, matcher })
      }
    }
  }
  return new CompiledTopicDecider(prefix, trie.isEmpty ? undefined : trie, fallback.deny, fallback.allow, decisions)
}

/**
 * Where a pattern goes for resources `prefix<topic>`. Its leading literal text decides: one that
 * starts with the whole prefix is a topic pattern of this instance (the first `:topic/` of both
 * is the prefix's own, since the instance id holds no `:`); one that is a shorter prefix of it
 * could still match through a `*` or a variable; any other differs from every such resource.
 */
function placement(pattern: ParsedPattern, matcher: ResourceMatcher, prefix: string): 'trie' | 'fallback' | 'never' {
  if (matcher.never) return 'never'
  let lead = ''
  let literalOnly = true
  for (const token of pattern.prefix) {
    if (token.kind !== 'literal') {
      literalOnly = false
      break
    }
    lead += token.text
  }
  if (lead.length >= prefix.length) {
    if (!lead.startsWith(prefix)) return 'never'
    const star = (pattern.levels ?? []).some((level) => level.some((token) => token.kind === 'star'))
    return star ? 'fallback' : 'trie'
  }
  if (!prefix.startsWith(lead)) return 'never'
  // Nothing but a literal shorter than the prefix: every resource here is longer.
  if (literalOnly && pattern.levels === undefined) return 'never'
  return 'fallback'
}

class CompiledTopicDecider implements TopicDecider {
  constructor(
    private readonly prefix: string,
    private readonly trie: TopicTrie | undefined,
    private readonly denyFallback: readonly Fallback[],
    private readonly allowFallback: readonly Fallback[],
    private readonly decisions: readonly Decision[],
  ) {}

  allows(topic: string, vars: PolicyVariables): boolean {
    const found = this.trie === undefined ? WALK_NOTHING : this.trie.walk(topic, vars)
    if (found === WALK_DENY) return false
    if (this.denyFallback.length === 0 && this.allowFallback.length === 0) return found === WALK_ALLOW
    // Some pattern needs the whole resource string: built only then (not in the common case).
    const resource = this.prefix + topic
    if (anyFallback(this.denyFallback, resource, vars)) return false
    return found === WALK_ALLOW || anyFallback(this.allowFallback, resource, vars)
  }

  decide(topic: string, vars: PolicyVariables): Decision {
    const resource = this.denyFallback.length + this.allowFallback.length > 0 ? this.prefix + topic : ''
    const deny = Math.min(this.trie?.first(topic, vars, true) ?? NONE, firstFallback(this.denyFallback, resource, vars))
    if (deny !== NONE) return this.decisions[deny] as Decision
    const allow = Math.min(this.trie?.first(topic, vars, false) ?? NONE, firstFallback(this.allowFallback, resource, vars))
    if (allow !== NONE) return this.decisions[allow] as Decision
    return IMPLICIT_DENY
  }
}

function anyFallback(list: readonly Fallback[], resource: string, vars: PolicyVariables): boolean {
  for (let i = 0; i < list.length; i += 1) if (list[i]!.matcher.matches(resource, vars)) return true
  return false
}

/** Entries are in policy order, so the first that matches has the smallest ordinal. */
function firstFallback(list: readonly Fallback[], resource: string, vars: PolicyVariables): number {
  for (let i = 0; i < list.length; i += 1) if (list[i]!.matcher.matches(resource, vars)) return list[i]!.ordinal
  return NONE
}
