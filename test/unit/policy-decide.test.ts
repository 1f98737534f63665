import t from 'tap'
import { compilePolicies } from '../../src/policy/authorization/compile'
import { decide } from '../../src/policy/authorization/decide'
import type { Action, Decision, MqttTopicAction, PolicyDocument, PolicyVariables } from '../../src/policy/authorization/types'

/**
 * The reference decision (decide.ts), rule by rule, on the worked examples of DESIGN §4 and the
 * authorization issue. Each case is also put to the compiled form (compile.ts), which must
 * answer the same; the property test covers the compiled form at large.
 */

const policy = (name: string, ...statements: PolicyDocument['statements']): PolicyDocument => ({ name, statements })

/** The fleet policy of the issue, on instance `prod`. */
const fleet = policy('fleet',
  { effect: 'Allow', actions: ['mqtt:Publish'], resources: ['mqtt:prod:topic/devices/${certCommonName}/#'] },
  { effect: 'Allow', actions: ['mqtt:Subscribe', 'mqtt:Receive'], resources: ['mqtt:prod:topic/commands/${certCommonName}'] },
)
const orders = policy('orders-publisher', { effect: 'Allow', actions: ['amqp:Publish'], resources: ['amqp:prod:/:exchange/orders'] })
const ops = policy('ops', { effect: 'Allow', actions: ['admin:RevokeDevice', 'admin:List*'], resources: ['*'] })
const wildcards = policy('wildcards',
  { effect: 'Allow', actions: ['mqtt:Subscribe', 'mqtt:Publish'], resources: ['mqtt:prod:topic/sensors/+/temp', 'mqtt:prod:topic/logs/#', 'mqtt:prod:topic/exact/a/b'] },
)
const stars = policy('stars',
  { effect: 'Allow', actions: ['mqtt:*'], resources: ['mqtt:prod:topic/a*', 'mqtt:*:topic/shared/x'] },
)
const connect = policy('connect', { effect: 'Allow', actions: ['mqtt:Connect'], resources: ['mqtt:prod:client/${certCommonName}'] })
const everything = policy('everything', { effect: 'Allow', actions: ['*'], resources: ['*'] })
const quarantine = policy('quarantine',
  { effect: 'Allow', actions: ['mqtt:Publish'], resources: ['mqtt:prod:topic/status'] },
  { effect: 'Deny', actions: ['mqtt:Publish', 'mqtt:Subscribe'], resources: ['mqtt:prod:topic/devices/sensor-7/firmware/#'] },
)
const perClient = policy('per-client',
  { effect: 'Allow', actions: ['mqtt:Publish'], resources: ['mqtt:prod:topic/c/${clientId}/out', 'mqtt:prod:topic/u/dev-${username}'] },
)

const CN: PolicyVariables = { certCommonName: 'sensor-7', clientId: 'c-7' }
type Expected = 'implicit deny' | readonly [allowed: boolean, policy: string, statement: number]
type Case = readonly [what: string, policies: readonly PolicyDocument[], action: Action, resource: string, vars: PolicyVariables, expected: Expected]

const cases: readonly Case[] = [
  // The fleet policy: a device publishes under its own name and hears only its own commands.
  ['fleet: a device publishes under devices/<its CN>/…', [fleet], 'mqtt:Publish', 'mqtt:prod:topic/devices/sensor-7/temp', CN, [true, 'fleet', 0]],
  ['fleet: `#` covers the parent level devices/<CN>', [fleet], 'mqtt:Publish', 'mqtt:prod:topic/devices/sensor-7', CN, [true, 'fleet', 0]],
  ['fleet: `#` covers any depth', [fleet], 'mqtt:Publish', 'mqtt:prod:topic/devices/sensor-7/a/b/c', CN, [true, 'fleet', 0]],
  ['fleet: another device\'s topic is refused', [fleet], 'mqtt:Publish', 'mqtt:prod:topic/devices/sensor-8/temp', CN, 'implicit deny'],
  ['fleet: a longer name is another level, refused', [fleet], 'mqtt:Publish', 'mqtt:prod:topic/devices/sensor-77/temp', CN, 'implicit deny'],
  ['fleet: publishing to the commands topic is not granted', [fleet], 'mqtt:Publish', 'mqtt:prod:topic/commands/sensor-7', CN, 'implicit deny'],
  ['fleet: subscribing to its own commands', [fleet], 'mqtt:Subscribe', 'mqtt:prod:topic/commands/sensor-7', CN, [true, 'fleet', 1]],
  ['fleet: receiving its own commands', [fleet], 'mqtt:Receive', 'mqtt:prod:topic/commands/sensor-7', CN, [true, 'fleet', 1]],
  ['fleet: the filter commands/+ is wider than the grant', [fleet], 'mqtt:Subscribe', 'mqtt:prod:topic/commands/+', CN, 'implicit deny'],
  ['fleet: the filter commands/# is wider than the grant', [fleet], 'mqtt:Subscribe', 'mqtt:prod:topic/commands/#', CN, 'implicit deny'],
  ['fleet: subscribing to devices/<CN>/# is not granted', [fleet], 'mqtt:Subscribe', 'mqtt:prod:topic/devices/sensor-7/#', CN, 'implicit deny'],
  ['fleet: the grant is for instance prod only', [fleet], 'mqtt:Publish', 'mqtt:staging:topic/devices/sensor-7/temp', CN, 'implicit deny'],

  // Variables: a missing or empty value matches nothing; a value cannot carry topic structure.
  ['a session without a certificate CN matches no ${certCommonName} pattern', [fleet], 'mqtt:Publish', 'mqtt:prod:topic/devices//temp', { clientId: 'c-7' }, 'implicit deny'],
  ['an empty CN matches nothing, not the empty level', [fleet], 'mqtt:Publish', 'mqtt:prod:topic/devices//temp', { certCommonName: '' }, 'implicit deny'],
  ['a CN of `+` does not widen the grant', [fleet], 'mqtt:Publish', 'mqtt:prod:topic/devices/+/temp', { certCommonName: '+' }, 'implicit deny'],
  ['a CN of `#` does not widen the grant', [fleet], 'mqtt:Subscribe', 'mqtt:prod:topic/commands/#', { certCommonName: '#' }, 'implicit deny'],
  ['a CN holding `/` does not reach another device\'s levels', [fleet], 'mqtt:Publish', 'mqtt:prod:topic/devices/a/b/temp', { certCommonName: 'a/b' }, 'implicit deny'],
  ['a value is matched literally, its `*` is no wildcard', [fleet], 'mqtt:Publish', 'mqtt:prod:topic/devices/sensor-7/x', { certCommonName: 'sensor-*' }, 'implicit deny'],
  ['a variable inside a level', [perClient], 'mqtt:Publish', 'mqtt:prod:topic/u/dev-alice', { username: 'alice' }, [true, 'per-client', 0]],
  ['a variable inside a level, another user', [perClient], 'mqtt:Publish', 'mqtt:prod:topic/u/dev-bob', { username: 'alice' }, 'implicit deny'],
  ['the clientId variable', [perClient], 'mqtt:Publish', 'mqtt:prod:topic/c/c-7/out', CN, [true, 'per-client', 0]],

  // MQTT wildcards in patterns (MQTT 3.1.1 §4.7.1): topic names and filter subsets.
  ['`+` matches one level', [wildcards], 'mqtt:Publish', 'mqtt:prod:topic/sensors/kitchen/temp', {}, [true, 'wildcards', 0]],
  ['`+` matches an empty level', [wildcards], 'mqtt:Publish', 'mqtt:prod:topic/sensors//temp', {}, [true, 'wildcards', 0]],
  ['`+` does not match two levels', [wildcards], 'mqtt:Publish', 'mqtt:prod:topic/sensors/a/b/temp', {}, 'implicit deny'],
  ['the filter sensors/+/temp is covered by the pattern sensors/+/temp', [wildcards], 'mqtt:Subscribe', 'mqtt:prod:topic/sensors/+/temp', {}, [true, 'wildcards', 0]],
  ['a `#` filter level is not covered by `+`', [wildcards], 'mqtt:Subscribe', 'mqtt:prod:topic/sensors/#', {}, 'implicit deny'],
  ['`#` matches its parent level', [wildcards], 'mqtt:Subscribe', 'mqtt:prod:topic/logs', {}, [true, 'wildcards', 0]],
  ['`#` covers the filter logs/#', [wildcards], 'mqtt:Subscribe', 'mqtt:prod:topic/logs/#', {}, [true, 'wildcards', 0]],
  ['`#` covers the filter logs/+', [wildcards], 'mqtt:Subscribe', 'mqtt:prod:topic/logs/+', {}, [true, 'wildcards', 0]],
  ['`#` covers the filter logs/a/+/b', [wildcards], 'mqtt:Subscribe', 'mqtt:prod:topic/logs/a/+/b', {}, [true, 'wildcards', 0]],
  ['`#` does not cover a longer first level', [wildcards], 'mqtt:Subscribe', 'mqtt:prod:topic/logsx', {}, 'implicit deny'],
  ['a literal pattern covers the same topic', [wildcards], 'mqtt:Subscribe', 'mqtt:prod:topic/exact/a/b', {}, [true, 'wildcards', 0]],
  ['a literal pattern does not cover the filter exact/a/+', [wildcards], 'mqtt:Subscribe', 'mqtt:prod:topic/exact/a/+', {}, 'implicit deny'],
  ['a literal pattern does not cover the filter exact/+/b', [wildcards], 'mqtt:Subscribe', 'mqtt:prod:topic/exact/+/b', {}, 'implicit deny'],
  ['a literal pattern does not cover the filter exact/#', [wildcards], 'mqtt:Subscribe', 'mqtt:prod:topic/exact/#', {}, 'implicit deny'],

  // `*` is any run of characters, `/`, `+` and `#` included.
  ['`*` matches the empty run', [stars], 'mqtt:Publish', 'mqtt:prod:topic/a', {}, [true, 'stars', 0]],
  ['`*` runs across levels', [stars], 'mqtt:Publish', 'mqtt:prod:topic/ab/c/d', {}, [true, 'stars', 0]],
  ['`*` covers a `#` filter', [stars], 'mqtt:Subscribe', 'mqtt:prod:topic/a/#', {}, [true, 'stars', 0]],
  ['`*` after a literal still needs the literal', [stars], 'mqtt:Publish', 'mqtt:prod:topic/b', {}, 'implicit deny'],
  ['`*` in the instance part covers every instance', [stars], 'mqtt:Receive', 'mqtt:staging:topic/shared/x', {}, [true, 'stars', 0]],
  ['`mqtt:*` covers mqtt:Connect, but the resource must match as well', [stars], 'mqtt:Connect', 'mqtt:prod:client/a', {}, 'implicit deny'],

  // mqtt:Connect on the clientId resource.
  ['mqtt:Connect with the clientId equal to the certificate CN', [connect], 'mqtt:Connect', 'mqtt:prod:client/sensor-7', CN, [true, 'connect', 0]],
  ['mqtt:Connect with another clientId', [connect], 'mqtt:Connect', 'mqtt:prod:client/c-7', CN, 'implicit deny'],
  ['mqtt:Connect without a certificate', [connect], 'mqtt:Connect', 'mqtt:prod:client/sensor-7', { clientId: 'sensor-7' }, 'implicit deny'],

  // AMQP sub-account allowed one exchange.
  ['amqp: publishing to the orders exchange', [orders], 'amqp:Publish', 'amqp:prod:/:exchange/orders', {}, [true, 'orders-publisher', 0]],
  ['amqp: another exchange', [orders], 'amqp:Publish', 'amqp:prod:/:exchange/payments', {}, 'implicit deny'],
  ['amqp: a longer exchange name', [orders], 'amqp:Publish', 'amqp:prod:/:exchange/orders2', {}, 'implicit deny'],
  ['amqp: the same exchange in another vhost', [orders], 'amqp:Publish', 'amqp:prod:staging:exchange/orders', {}, 'implicit deny'],
  ['amqp: consuming is not granted', [orders], 'amqp:Consume', 'amqp:prod:/:queue/orders', {}, 'implicit deny'],
  ['amqp: declaring the exchange is not granted', [orders], 'amqp:Declare', 'amqp:prod:/:exchange/orders', {}, 'implicit deny'],

  // Admin: an ops account may revoke devices and list, not create instances.
  ['admin: ops may revoke a device', [ops], 'admin:RevokeDevice', 'admin:instances/prod/devices/d1', {}, [true, 'ops', 0]],
  ['admin: admin:List* covers ListDevices', [ops], 'admin:ListDevices', 'admin:instances/prod/devices', {}, [true, 'ops', 0]],
  ['admin: admin:List* covers ListAudit', [ops], 'admin:ListAudit', 'admin:audit', {}, [true, 'ops', 0]],
  ['admin: ops may not create an instance', [ops], 'admin:CreateInstance', 'admin:instances', {}, 'implicit deny'],
  ['admin: ops may not read one device (GetDevice is no List)', [ops], 'admin:GetDevice', 'admin:instances/prod/devices/d1', {}, 'implicit deny'],

  // Evaluation order: an explicit Deny beats every Allow, wherever it stands.
  ['an explicit Deny beats an Allow of another policy listed first', [fleet, quarantine], 'mqtt:Publish', 'mqtt:prod:topic/devices/sensor-7/firmware/v2', CN, [false, 'quarantine', 1]],
  ['an explicit Deny beats `*` on `*`', [everything, quarantine], 'mqtt:Subscribe', 'mqtt:prod:topic/devices/sensor-7/firmware', CN, [false, 'quarantine', 1]],
  ['the Deny applies only where it matches', [fleet, quarantine], 'mqtt:Publish', 'mqtt:prod:topic/devices/sensor-7/temp', CN, [true, 'fleet', 0]],
  ['the Deny covers only its actions', [everything, quarantine], 'mqtt:Receive', 'mqtt:prod:topic/devices/sensor-7/firmware', CN, [true, 'everything', 0]],
  ['the first applying Allow in policy order is named', [quarantine, everything], 'mqtt:Publish', 'mqtt:prod:topic/status', CN, [true, 'quarantine', 0]],
  ['no policy at all is the implicit deny', [], 'mqtt:Publish', 'mqtt:prod:topic/status', CN, 'implicit deny'],
  ['a Deny alone denies by name, not implicitly', [quarantine], 'mqtt:Subscribe', 'mqtt:prod:topic/devices/sensor-7/firmware/#', CN, [false, 'quarantine', 1]],
]

const expectedDecision = (expected: Expected): Decision =>
  expected === 'implicit deny' ? { allowed: false } : { allowed: expected[0], by: { policy: expected[1], statement: expected[2] } } as Decision

t.test('the reference decision, rule by rule', async (t) => {
  for (const [what, policies, action, resource, vars, expected] of cases) {
    t.same(decide(policies, action, resource, vars), expectedDecision(expected), what)
  }
})

t.test('the compiled form answers every case as the reference', async (t) => {
  for (const [what, policies, action, resource, vars, expected] of cases) {
    const compiled = compilePolicies(policies)
    const want = expectedDecision(expected)
    t.same(compiled.decide(action, resource, vars), want, `decide: ${what}`)
    const topic = /^mqtt:([^:]*):topic\/(.*)$/.exec(resource)
    if (topic !== null && action !== 'mqtt:Connect' && action.startsWith('mqtt:')) {
      const decider = compiled.topics(action as MqttTopicAction, topic[1]!)
      t.same(decider.decide(topic[2]!, vars), want, `topics().decide: ${what}`)
      t.equal(decider.allows(topic[2]!, vars), want.allowed, `topics().allows: ${what}`)
    }
  }
})

t.test('an implicit deny names no statement', async (t) => {
  const decision = decide([fleet], 'mqtt:Publish', 'mqtt:prod:topic/elsewhere', CN)
  t.notOk('by' in decision, 'no `by` member')
  t.notOk('by' in compilePolicies([fleet]).decide('mqtt:Publish', 'mqtt:prod:topic/elsewhere', CN))
})

t.test('a variable name outside the known five never matches, not even through the prototype', async (t) => {
  const odd = policy('odd', { effect: 'Allow', actions: ['*'], resources: ['mqtt:prod:topic/${constructor}', 'mqtt:prod:topic/x/${toString}'] })
  const vars = { certCommonName: 'function Object() { [native code] }' }
  t.same(decide([odd], 'mqtt:Publish', 'mqtt:prod:topic/function Object() { [native code] }', vars), { allowed: false })
  t.equal(compilePolicies([odd]).topics('mqtt:Publish', 'prod').allows('x/undefined', vars), false)
})

t.test('a `$share/<group>/` filter is decided as written: the caller strips the prefix first', async (t) => {
  // MQTT 5 §4.8.2: the module does not special-case shared subscriptions.
  t.same(decide([fleet], 'mqtt:Subscribe', 'mqtt:prod:topic/$share/g/commands/sensor-7', CN), { allowed: false })
  t.same(decide([fleet], 'mqtt:Subscribe', 'mqtt:prod:topic/commands/sensor-7', CN), { allowed: true, by: { policy: 'fleet', statement: 1 } })
})
