/**
 * The MQTT side of a session's authorizer (src/authorization/enforced-session.ts `mqttTopic`): the
 * last topic allowed per action answers the next identical topic without a trie walk. What must
 * not change with that: every call is counted, every denial is audited, the memo answers only for
 * its own action, and a policy change or a mode switched off applies to the very next call.
 * Decided by real compiled policies (src/policy/authorization/compile.ts).
 */
import t from 'tap'
import type { DecisionCounters } from '../../src/authorization/decision-counters'
import { compilePolicies } from '../../src/policy/authorization/compile'
import type { CompiledPolicies, MqttTopicAction, PolicyDocument } from '../../src/policy/authorization/types'
import type { SessionIdentity } from '../../src/proxy/session-registry'
import { enforcedSession, type EnforcedSessionFixture } from '../helpers/authorization'

const INSTANCE = 'plant-a'

function policy(...statements: PolicyDocument['statements']): CompiledPolicies {
  return compilePolicies([{ name: 'fleet', statements }])
}

const TELEMETRY = policy(
  { effect: 'Allow', actions: ['mqtt:Publish'], resources: [`mqtt:${INSTANCE}:topic/telemetry/+`] },
  { effect: 'Allow', actions: ['mqtt:Receive'], resources: [`mqtt:${INSTANCE}:topic/commands/#`] },
)
const NOTHING = policy()

const session = (): EnforcedSessionFixture => enforcedSession(
  { protocol: 'mqtt', instanceId: INSTANCE, caId: 'ca1', deviceId: 'd1', clientId: 'dev-1', sourceIp: '127.0.0.1', sourcePort: 1 } as SessionIdentity,
  'account:fleet', TELEMETRY,
)

const tally = (counters: DecisionCounters, action: MqttTopicAction): { allowed: number; denied: number } => ({ ...counters.tally('mqtt', action) })

t.test('a stream of publishes to one topic is counted call by call', async (t) => {
  const s = session()
  // A new string each time, as the filter decodes each PUBLISH's topic afresh.
  for (let i = 0; i < 5; i++) t.ok(s.az.mqttTopic('mqtt:Publish', ['telemetry', 'temp'].join('/')))
  t.same(tally(s.counters, 'mqtt:Publish'), { allowed: 5, denied: 0 })
  t.same(s.denials, [])
})

t.test('a denied topic between allowed ones is denied and audited every time', async (t) => {
  const s = session()
  const answers = ['telemetry/temp', 'telemetry/temp/x', 'telemetry/temp', 'admin/reboot', 'telemetry/hum', 'telemetry/temp'].map((topic) => s.az.mqttTopic('mqtt:Publish', topic))
  t.same(answers, [true, false, true, false, true, true])
  t.same(tally(s.counters, 'mqtt:Publish'), { allowed: 4, denied: 2 })
  t.same(s.denials.map((d) => d.resource), [`mqtt:${INSTANCE}:topic/telemetry/temp/x`, `mqtt:${INSTANCE}:topic/admin/reboot`])
})

t.test('the last topic allowed answers only for its own action', async (t) => {
  const s = session()
  t.ok(s.az.mqttTopic('mqtt:Publish', 'telemetry/temp'))
  t.notOk(s.az.mqttTopic('mqtt:Receive', 'telemetry/temp'), 'receiving what it may publish')
  t.notOk(s.az.mqttTopic('mqtt:Subscribe', 'telemetry/temp'), 'subscribing to it')
  t.ok(s.az.mqttTopic('mqtt:Receive', 'commands/reboot'))
  t.notOk(s.az.mqttTopic('mqtt:Publish', 'commands/reboot'), 'publishing what it may receive')
  t.ok(s.az.mqttTopic('mqtt:Publish', 'telemetry/temp'))
  t.same(tally(s.counters, 'mqtt:Publish'), { allowed: 2, denied: 1 })
  t.same(tally(s.counters, 'mqtt:Receive'), { allowed: 1, denied: 1 })
  t.same(tally(s.counters, 'mqtt:Subscribe'), { allowed: 0, denied: 1 })
})

t.test('a policy change applies to the very next call on the topic last allowed', async (t) => {
  const s = session()
  t.ok(s.az.mqttTopic('mqtt:Publish', 'telemetry/temp'))
  t.ok(s.az.mqttTopic('mqtt:Publish', 'telemetry/temp'))
  s.use(NOTHING)
  t.notOk(s.az.mqttTopic('mqtt:Publish', 'telemetry/temp'), 'the allow is gone')
  t.same(s.denials.map((d) => d.resource), [`mqtt:${INSTANCE}:topic/telemetry/temp`])
  s.use(TELEMETRY)
  t.ok(s.az.mqttTopic('mqtt:Publish', 'telemetry/temp'), 'and back')
  t.same(tally(s.counters, 'mqtt:Publish'), { allowed: 3, denied: 1 })
})

t.test('an instance switched off allows everything, and enforces again once switched back', async (t) => {
  const s = session()
  t.notOk(s.az.mqttTopic('mqtt:Publish', 'admin/reboot'))
  s.setEnforces(false)
  t.ok(s.az.mqttTopic('mqtt:Publish', 'admin/reboot'), 'mode off')
  t.ok(s.az.mqttTopic('mqtt:Publish', 'admin/reboot'), 'still off')
  s.setEnforces(true)
  t.notOk(s.az.mqttTopic('mqtt:Publish', 'admin/reboot'), 'the allow of mode off is not remembered')
  t.same(tally(s.counters, 'mqtt:Publish'), { allowed: 2, denied: 2 })
})
