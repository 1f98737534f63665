/**
 * The cost of one authorization decision on the data path (DESIGN §4): `TopicDecider.allows()`
 * of the compiled policies, the call made on every PUBLISH, delivery and SUBSCRIBE filter of an
 * MQTT session under `authorization.mode: enforce`. A fleet-like set of 50 statements (literal
 * levels, `+`, `#`, `${certCommonName}` and `${clientId}` levels, a few Denys) is compiled, warmed
 * up, then each figure is the mean over ≥ 1,000,000 calls timed with process.hrtime.bigint().
 *
 * `node dist/bench/policy-decision.js` prints the figures as JSON.
 */
import { compilePolicies } from '../src/policy/authorization/compile'
import type { PolicyDocument, PolicyVariables, Statement, TopicDecider } from '../src/policy/authorization/types'

export interface PolicyDecisionFigures {
  statements: number
  nsPerAllowedPublish: number
  nsPerDeniedPublish: number
  nsPerSubscribe: number
  compileMicros: number
}

const CALLS = 1_000_000
const WARMUP = 200_000
const COMPILES = 2_000
const INSTANCE = 'prod'

/** 50 statements in three policies, as a fleet operator would attach them to a CA and an instance. */
export function fleetPolicies(): PolicyDocument[] {
  const topic = (t: string): string => `mqtt:${INSTANCE}:topic/${t}`
  const device: Statement[] = [
    { effect: 'Allow', actions: ['mqtt:Publish'], resources: [topic('devices/${certCommonName}/#')] },
    { effect: 'Allow', actions: ['mqtt:Subscribe', 'mqtt:Receive'], resources: [topic('commands/${certCommonName}'), topic('commands/${certCommonName}/+')] },
    { effect: 'Allow', actions: ['mqtt:Publish'], resources: [topic('telemetry/${certCommonName}/+/data')] },
    { effect: 'Allow', actions: ['mqtt:Publish', 'mqtt:Subscribe', 'mqtt:Receive'], resources: [topic('c/dev-${clientId}/out'), topic('c/dev-${clientId}/in')] },
    { effect: 'Deny', actions: ['mqtt:Publish'], resources: [topic('devices/${certCommonName}/firmware/#')] },
    { effect: 'Deny', actions: ['mqtt:*'], resources: [topic('$SYS/#'), topic('admin/+/secrets')] },
  ]
  const sites: Statement[] = []
  for (let i = 0; i < 40; i += 1) {
    sites.push(i % 4 === 0
      ? { effect: 'Allow', actions: ['mqtt:Subscribe', 'mqtt:Receive'], resources: [topic(`site/${i}/#`)] }
      : i % 4 === 1
        ? { effect: 'Allow', actions: ['mqtt:Publish', 'mqtt:Subscribe'], resources: [topic(`fleet/group-${i}/+/status`)] }
        : i % 4 === 2
          ? { effect: 'Allow', actions: ['mqtt:Receive'], resources: [topic(`config/${i}/current`), topic(`config/${i}/next`)] }
          : { effect: 'Allow', actions: ['mqtt:Publish'], resources: [topic(`metrics/${i}/+/+`)] })
  }
  const extra: Statement[] = [
    { effect: 'Deny', actions: ['mqtt:Publish', 'mqtt:Subscribe'], resources: [topic('fleet/group-1/quarantined/#')] },
    { effect: 'Allow', actions: ['mqtt:Subscribe'], resources: [topic('broadcast/#')] },
    { effect: 'Allow', actions: ['amqp:Publish'], resources: ['amqp:prod:/:exchange/orders'] },
    { effect: 'Deny', actions: ['mqtt:Subscribe'], resources: [topic('broadcast/internal/#')] },
  ]
  return [
    { name: 'fleet-device', statements: device },
    { name: 'fleet-sites', statements: sites },
    { name: 'fleet-extra', statements: extra },
  ]
}

const VARS: PolicyVariables = { certCommonName: 'sensor-0042', clientId: 'c-0042', deviceId: 'ab12' }
const ALLOWED_PUBLISH = ['devices/sensor-0042/temp', 'devices/sensor-0042/env/humidity', 'telemetry/sensor-0042/7/data', 'fleet/group-5/x/status', 'metrics/3/cpu/load', 'c/dev-c-0042/out', 'devices/sensor-0042', 'metrics/39/a/b']
const DENIED_PUBLISH = ['devices/sensor-0043/temp', 'devices/sensor-0042/firmware/v2', 'fleet/group-1/quarantined/x', 'telemetry/sensor-0042/7/other', 'metrics/3/cpu', '$SYS/broker/load', 'c/dev-c-0043/out', 'unknown/topic/here']
const SUBSCRIBE = ['commands/sensor-0042', 'commands/sensor-0042/+', 'site/8/#', 'broadcast/news', 'commands/+', 'broadcast/internal/x', 'site/9/#', 'fleet/group-9/+/status']

/** Mean ns per `allows` call over `calls` calls cycling through `topics`; checks the answers count. */
function time(decider: TopicDecider, topics: readonly string[], calls: number, expectAllowed: number): number {
  const mask = topics.length - 1
  let allowed = 0
  const started = process.hrtime.bigint()
  for (let i = 0; i < calls; i += 1) if (decider.allows(topics[i & mask]!, VARS)) allowed++
  const ns = Number(process.hrtime.bigint() - started)
  if (allowed !== expectAllowed) throw new Error(`expected ${expectAllowed} allowed decisions, got ${allowed}`)
  return ns / calls
}

function expectedAllowed(decider: TopicDecider, topics: readonly string[], calls: number): number {
  const perRound = topics.filter((t) => decider.allows(t, VARS)).length
  return (calls / topics.length) * perRound
}

export async function measurePolicyDecision(): Promise<PolicyDecisionFigures> {
  const policies = fleetPolicies()
  const statements = policies.reduce((n, p) => n + p.statements.length, 0)

  const compileStarted = process.hrtime.bigint()
  for (let i = 0; i < COMPILES; i += 1) {
    const c = compilePolicies(policies)
    c.topics('mqtt:Publish', INSTANCE)
    c.topics('mqtt:Subscribe', INSTANCE)
    c.topics('mqtt:Receive', INSTANCE)
  }
  const compileMicros = Number(process.hrtime.bigint() - compileStarted) / COMPILES / 1000

  const compiled = compilePolicies(policies)
  const publish = compiled.topics('mqtt:Publish', INSTANCE)
  const subscribe = compiled.topics('mqtt:Subscribe', INSTANCE)
  if (expectedAllowed(publish, ALLOWED_PUBLISH, ALLOWED_PUBLISH.length) !== ALLOWED_PUBLISH.length) throw new Error('an "allowed" topic is denied')
  if (expectedAllowed(publish, DENIED_PUBLISH, DENIED_PUBLISH.length) !== 0) throw new Error('a "denied" topic is allowed')
  const subscribeAllowed = expectedAllowed(subscribe, SUBSCRIBE, CALLS)

  for (const [decider, topics] of [[publish, ALLOWED_PUBLISH], [publish, DENIED_PUBLISH], [subscribe, SUBSCRIBE]] as const) {
    time(decider, topics, WARMUP, expectedAllowed(decider, topics, WARMUP))
  }
  return {
    statements,
    nsPerAllowedPublish: round(time(publish, ALLOWED_PUBLISH, CALLS, CALLS)),
    nsPerDeniedPublish: round(time(publish, DENIED_PUBLISH, CALLS, 0)),
    nsPerSubscribe: round(time(subscribe, SUBSCRIBE, CALLS, subscribeAllowed)),
    compileMicros: round(compileMicros),
  }
}

const round = (n: number): number => Math.round(n * 10) / 10

if (require.main === module) {
  measurePolicyDecision().then(
    (figures) => console.log(JSON.stringify(figures, null, 2)),
    (e: unknown) => {
      console.error(`policy-decision: ${e instanceof Error ? e.stack ?? e.message : String(e)}`)
      process.exitCode = 1
    },
  )
}
