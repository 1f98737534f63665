import t from 'tap'
import fc from 'fast-check'
import assert from 'node:assert/strict'
import { compilePolicies } from '../../src/policy/authorization/compile'
import { decide } from '../../src/policy/authorization/decide'
import {
  MQTT_ACTIONS, POLICY_VARIABLES,
  type Action, type MqttTopicAction, type PolicyDocument, type PolicyVariables, type Statement,
} from '../../src/policy/authorization/types'

/**
 * The compiled policies (topic tries, fallback matchers, per-action selection) against the
 * reference decide() (a regular expression per pattern per call), on random policy sets built
 * from a small alphabet so that patterns and resources collide often: literal levels, `+`, `#`,
 * `*`, variables alone and inside a level, malformed pieces a damaged store could hold (`a+`, a
 * `#` that is not last, `${` unclosed, an unknown variable), both effects, several instances.
 * Both answers must be equal — `allowed` and which statement decided.
 */
const RUNS = 600

const PATTERN_LEVELS = [
  'a', 'b', 'dev', '', '+', '#', '*', 'a*', '*b', '${clientId}', '${certCommonName}', 'd-${clientId}',
  '${clientId}${username}', 'a+', '${nope}', '${', '$share',
]
const PREFIXES = [
  'mqtt:p1:topic/', 'mqtt:p1:topic/', 'mqtt:p2:topic/', 'mqtt:*:topic/', 'mqtt:${clientId}:topic/', 'mqtt:p1:*',
  'mqtt:p*', '*', 'mqtt:p1:client/', 'amqp:p1:/:exchange/', 'mqtt:p1:topic', 'mqtt:p:x:topic/', '',
]
const ACTION_PATTERNS = [
  '*', 'mqtt:*', 'mqtt:Publish', 'mqtt:Subscribe', 'mqtt:Receive', 'mqtt:Connect', 'mqtt:P*', 'mqtt:*e', 'amqp:*', 'amqp:Publish', 'admin:List*',
]
const VALUES = ['a', 'dev', 'x1', 'b', '', 'a/b', '+', '#', 'p1', 'd-a', 'ab']
const TOPIC_LEVELS = ['a', 'b', 'dev', 'x1', '', '+', '#', 'd-a', 'a+', 'ab', 'aa', 'p1', '$share', 'd-']
const INSTANCES = ['p1', 'p2', 'p:x', 'p1:topic/a']
const TOPIC_ACTIONS = MQTT_ACTIONS.filter((a): a is MqttTopicAction => a !== 'mqtt:Connect')
const OTHER_ACTIONS: readonly Action[] = ['mqtt:Connect', 'amqp:Publish', 'admin:ListDevices', 'admin:CreateInstance']

/** Patterns the topic trie takes: this instance's literal prefix, no `*`, a `#` only last. */
const TRIE_LEVELS = ['a', 'b', 'dev', '', '+', '${clientId}', '${certCommonName}', 'd-${clientId}', '${clientId}-${username}']
const triePattern: fc.Arbitrary<string> = fc.tuple(fc.array(fc.constantFrom(...TRIE_LEVELS), { minLength: 1, maxLength: 3 }), fc.boolean())
  .map(([levels, hash]) => `mqtt:p1:topic/${[...levels, ...(hash ? ['#'] : [])].join('/')}`)

const resourcePattern: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: triePattern },
  { weight: 5, arbitrary: fc.tuple(fc.constantFrom(...PREFIXES), fc.array(fc.constantFrom(...PATTERN_LEVELS), { minLength: 1, maxLength: 4 })).map(([p, levels]) => p + levels.join('/')) },
  { weight: 1, arbitrary: fc.constantFrom('*', 'mqtt:*', 'mqtt:p1:topic/#', 'mqtt:p1:topic/', 'amqp:*') },
)

const statement: fc.Arbitrary<Statement> = fc.record({
  effect: fc.constantFrom('Allow' as const, 'Allow' as const, 'Deny' as const),
  actions: fc.array(fc.constantFrom(...ACTION_PATTERNS), { minLength: 1, maxLength: 3 }),
  resources: fc.array(resourcePattern, { minLength: 1, maxLength: 3 }),
})

const policies: fc.Arbitrary<PolicyDocument[]> = fc.array(fc.array(statement, { minLength: 1, maxLength: 5 }), { maxLength: 3 })
  .map((sets) => sets.map((statements, i) => ({ name: `policy-${i}`, statements })))

const variables: fc.Arbitrary<PolicyVariables> = fc.record(
  Object.fromEntries(POLICY_VARIABLES.map((name) => [name, fc.constantFrom(...VALUES)])) as Record<keyof PolicyVariables, fc.Arbitrary<string>>,
  { requiredKeys: [] },
)

/** Topic names and filters, with the session's own values mixed in so that variable levels match. */
const topic = (vars: PolicyVariables): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...TOPIC_LEVELS, ...Object.values(vars).filter((v): v is string => typeof v === 'string')), { minLength: 1, maxLength: 5 })
    .map((levels) => levels.join('/'))

/**
 * A topic made from one of the policies' own patterns, so that the interesting cases (a `+`
 * against a `#` filter level, `#` against the parent level, a variable level) come up often:
 * each wildcard level becomes a concrete level or a filter wildcard, a variable its value or a
 * near miss, and the topic is sometimes cut short or extended.
 */
function fromPattern(pattern: string, vars: PolicyVariables, dice: readonly number[]): string {
  const at = pattern.indexOf(':topic/')
  const levels = (at < 0 ? pattern : pattern.slice(at + 7)).split('/')
  let roll = 0
  const next = (n: number): number => (dice[roll++ % dice.length] ?? 0) % n
  const out: string[] = []
  for (const level of levels) {
    const pick = TOPIC_LEVELS[next(TOPIC_LEVELS.length)] as string
    if (level === '+' || level === '*' || level === '#') {
      out.push(next(3) === 0 ? level : pick)
      if (level !== '+' && next(2) === 0) out.push(pick)
    } else {
      const substituted = level.replace(/\$\{(\w+)\}/g, (_, name: string) => vars[name as keyof PolicyVariables] ?? '')
      const variant = next(8)
      // Mostly the level itself; sometimes a near miss: one character more or less, or another level.
      out.push(variant === 0 ? pick : variant === 1 ? `${substituted}b` : variant === 2 ? substituted.slice(0, -1) : substituted)
    }
  }
  const cut = next(4)
  if (cut === 0 && out.length > 1) out.pop()
  else if (cut === 1) out.push(TOPIC_LEVELS[next(TOPIC_LEVELS.length)] as string)
  return out.join('/')
}

const world = fc.tuple(variables, policies).chain(([vars, policies]) => {
  const patterns = policies.flatMap((p) => p.statements.flatMap((s) => s.resources))
  const derived = patterns.length === 0
    ? topic(vars)
    : fc.tuple(fc.constantFrom(...patterns), fc.array(fc.nat(), { minLength: 12, maxLength: 12 })).map(([p, dice]) => fromPattern(p, vars, dice))
  return fc.record({
    policies: fc.constant(policies),
    vars: fc.constant(vars),
    topics: fc.array(fc.oneof(topic(vars), derived, derived), { minLength: 1, maxLength: 6 }),
    others: fc.array(fc.oneof(
      fc.tuple(fc.constantFrom(...PREFIXES), topic(vars)).map(([p, t]) => p + t),
      fc.tuple(fc.constantFrom(...PREFIXES), derived).map(([p, t]) => p + t),
    ), { minLength: 1, maxLength: 4 }),
  })
})

t.test('topics(action, instance) answers as the reference on mqtt:<instance>:topic/<topic>', async (t) => {
  fc.assert(fc.property(world, ({ policies, vars, topics }) => {
    const compiled = compilePolicies(policies)
    for (const action of TOPIC_ACTIONS) {
      for (const instanceId of INSTANCES) {
        const decider = compiled.topics(action, instanceId)
        assert.equal(compiled.topics(action, instanceId), decider, 'deciders are cached per (action, instance)')
        for (const name of topics) {
          const resource = `mqtt:${instanceId}:topic/${name}`
          const expected = decide(policies, action, resource, vars)
          assert.deepEqual(decider.decide(name, vars), expected, `${action} ${resource} decide`)
          assert.equal(decider.allows(name, vars), expected.allowed, `${action} ${resource} allows`)
          assert.deepEqual(compiled.decide(action, resource, vars), expected, `${action} ${resource} compiled.decide`)
        }
      }
    }
  }), { numRuns: RUNS })
  t.pass(`${RUNS} policy sets agree`)
})

t.test('decide(action, resource) answers as the reference for every action and any resource string', async (t) => {
  fc.assert(fc.property(world, ({ policies, vars, others }) => {
    const compiled = compilePolicies(policies)
    for (const action of [...TOPIC_ACTIONS, ...OTHER_ACTIONS]) {
      for (const resource of others) {
        assert.deepEqual(compiled.decide(action, resource, vars), decide(policies, action, resource, vars), `${action} ${resource}`)
      }
    }
  }), { numRuns: RUNS })
  t.pass(`${RUNS} policy sets agree`)
})

t.test('patterns with many stars stay fast on a long adversarial resource', async (t) => {
  // A backtracking regex would take exponential time here; the compiled matcher is O(n·m).
  const star = 'mqtt:p1:topic/' + 'a*'.repeat(20) + 'b'
  const compiled = compilePolicies([{ name: 'stars', statements: [{ effect: 'Allow', actions: ['mqtt:Publish'], resources: [star] }] }])
  const long = 'a'.repeat(20_000)
  const started = process.hrtime.bigint()
  t.equal(compiled.topics('mqtt:Publish', 'p1').allows(long, {}), false)
  t.equal(compiled.topics('mqtt:Publish', 'p1').allows(`${long}b`, {}), true)
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  t.ok(ms < 500, `took ${ms.toFixed(1)} ms`)
})
