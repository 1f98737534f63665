/**
 * The AMQP side of a session's authorizer (src/authorization/enforced-session.ts `amqp`): it
 * remembers verdicts per name and, in front of them, the last name allowed, so that a stream of
 * publishes to one exchange costs a few compares. What must not change with that: every call is
 * counted, every denial is audited, and a policy change or a mode switched off applies to the
 * very next call. Decided by real compiled policies (src/policy/authorization/compile.ts).
 */
import t from 'tap'
import type { DecisionCounters } from '../../src/authorization/decision-counters'
import { compilePolicies } from '../../src/policy/authorization/compile'
import type { AmqpAction, CompiledPolicies, PolicyDocument } from '../../src/policy/authorization/types'
import type { SessionIdentity } from '../../src/proxy/session-registry'
import { enforcedSession, type EnforcedSessionFixture } from '../helpers/authorization'

const INSTANCE = 'broker-a'

function policy(...statements: PolicyDocument['statements']): CompiledPolicies {
  return compilePolicies([{ name: 'tenant', statements }])
}

const PUBLISH_X = policy({ effect: 'Allow', actions: ['amqp:Publish'], resources: [`amqp:${INSTANCE}:/:exchange/x`, `amqp:${INSTANCE}:/:exchange/amq.default`] })
const NOTHING = policy()

const session = (): EnforcedSessionFixture => enforcedSession(
  { protocol: 'amqp', instanceId: INSTANCE, vhost: '/', accessKeyId: 'AK1', accountId: 'tenant', sourceIp: '127.0.0.1', sourcePort: 1 } as SessionIdentity,
  'account:tenant', PUBLISH_X,
)

const tally = (counters: DecisionCounters, action: AmqpAction): { allowed: number; denied: number } => ({ ...counters.tally('amqp', action) })

t.test('a stream of publishes to one exchange is counted call by call', async (t) => {
  const s = session()
  for (let i = 0; i < 5; i++) t.ok(s.az.amqp('amqp:Publish', 'exchange', 'x'))
  t.same(tally(s.counters, 'amqp:Publish'), { allowed: 5, denied: 0 })
  t.same(s.denials, [])
})

t.test('a denied name between allowed ones is denied and audited every time', async (t) => {
  const s = session()
  const answers = ['x', 'nope', 'x', 'nope', '', 'x'].map((name) => s.az.amqp('amqp:Publish', 'exchange', name))
  t.same(answers, [true, false, true, false, true, true])
  t.same(tally(s.counters, 'amqp:Publish'), { allowed: 4, denied: 2 })
  t.same(s.denials.map((d) => d.resource), [`amqp:${INSTANCE}:/:exchange/nope`, `amqp:${INSTANCE}:/:exchange/nope`])
})

t.test('the last name allowed answers only for its own action and kind', async (t) => {
  const s = session()
  t.ok(s.az.amqp('amqp:Publish', 'exchange', 'x'))
  t.notOk(s.az.amqp('amqp:Declare', 'exchange', 'x'), 'another action on the same name')
  t.notOk(s.az.amqp('amqp:Publish', 'queue', 'x'), 'another kind with the same name')
  t.ok(s.az.amqp('amqp:Publish', 'exchange', 'x'))
  t.same(tally(s.counters, 'amqp:Declare'), { allowed: 0, denied: 1 })
  t.same(tally(s.counters, 'amqp:Publish'), { allowed: 2, denied: 1 })
})

t.test('a policy change applies to the very next call on the name last allowed', async (t) => {
  const s = session()
  t.ok(s.az.amqp('amqp:Publish', 'exchange', 'x'))
  t.ok(s.az.amqp('amqp:Publish', 'exchange', 'x'))
  s.use(NOTHING)
  t.notOk(s.az.amqp('amqp:Publish', 'exchange', 'x'), 'the allow is gone')
  t.same(s.denials.map((d) => d.resource), [`amqp:${INSTANCE}:/:exchange/x`])
  s.use(PUBLISH_X)
  t.ok(s.az.amqp('amqp:Publish', 'exchange', 'x'), 'and back')
  t.same(tally(s.counters, 'amqp:Publish'), { allowed: 3, denied: 1 })
})

t.test('an instance switched off allows everything, and enforces again once switched back', async (t) => {
  const s = session()
  t.notOk(s.az.amqp('amqp:Publish', 'exchange', 'nope'))
  s.setEnforces(false)
  t.ok(s.az.amqp('amqp:Publish', 'exchange', 'nope'), 'mode off')
  t.ok(s.az.amqp('amqp:Publish', 'exchange', 'nope'), 'still off')
  s.setEnforces(true)
  t.notOk(s.az.amqp('amqp:Publish', 'exchange', 'nope'), 'the allow of mode off is not remembered')
  t.same(tally(s.counters, 'amqp:Publish'), { allowed: 2, denied: 2 })
})
