import type { Statement } from '../../src/policy/authorization/types'
import { AMQP_QUEUE_PREFIX, CLIENT_ID_PREFIX, MQTT_TOPIC_ROOT } from '../load/names'
import type { AdminClient } from './portcullis'

/**
 * The policies of the `portcullisEnforce` endpoint (issue 11: "MQTT and AMQP 64 B message crossing
 * with `enforce` and a 50-statement policy"). Each document is what an operator of a shared
 * gateway would attach: mostly Allows over topics, exchanges and queues the bench never touches
 * (other fleets, sites, tenants), a few Denys, and the statements that allow exactly what the
 * bench does — nothing broader, so a bench client that strayed would be refused and show as loss.
 *
 * Several statements sit on the path every bench decision walks (`bench/…`: the `${clientId}`
 * subtree, a `+` and a literal Deny next to the granting `+`), so a decision costs what it costs
 * in a real policy, not a one-level shortcut. Some are there to make the document realistic
 * without being on that path (other roots, `*` patterns decided at SUBSCRIBE only).
 */
export const BENCH_POLICY_STATEMENTS = 50
export const MQTT_POLICY = 'bench-mqtt-fleet'
export const AMQP_POLICY = 'bench-amqp-tenant'
/** The sub-account whose AccessKey the AMQP load logs in with: `root`'s keys skip every decision. */
export const AMQP_ACCOUNT = 'bench-amqp-clients'

const allow = (actions: string[], resources: string[]): Statement => ({ effect: 'Allow', actions, resources })
const deny = (actions: string[], resources: string[]): Statement => ({ effect: 'Deny', actions, resources })

export function mqttBenchPolicy(instanceId: string): Statement[] {
  const topic = (t: string): string => `mqtt:${instanceId}:topic/${t}`
  const client = (c: string): string => `mqtt:${instanceId}:client/${c}`
  const root = MQTT_TOPIC_ROOT
  const p = CLIENT_ID_PREFIX
  const bench: Statement[] = [
    // What the load does (bench/load/names.ts): its clientIds, `bench/<run>/<endpoint>/<what>`.
    allow(['mqtt:Connect'], [client(`${p.subscriber}*`), client(`${p.publisher}*`), client(`${p.latencySubscriber}*`), client(`${p.latencyPublisher}*`)]),
    allow(['mqtt:Connect'], [client(`${p.connect}*`), client(`${p.idle}*`), client(`${p.storm}*`)]),
    allow(['mqtt:Publish'], [topic(`${root}/+/+/+`)]),
    allow(['mqtt:Subscribe'], [topic(`${root}/+/+/+`)]),
    allow(['mqtt:Receive'], [topic(`${root}/#`)]),
    // A per-client subtree beside the run level: its variable edge is compared on every bench topic.
    allow(['mqtt:Publish', 'mqtt:Subscribe', 'mqtt:Receive'], [topic(`${root}/\${clientId}/#`)]),
    allow(['mqtt:Subscribe', 'mqtt:Receive'], [topic(`${root}/+/+/replay`)]),
  ]
  const denies: Statement[] = [
    deny(['mqtt:*'], [topic('$SYS/#')]),
    // Next to the granting `+`: the walk must still look for it after the Allow was found.
    deny(['mqtt:Publish'], [topic(`${root}/+/+/control`)]),
    deny(['mqtt:Publish', 'mqtt:Receive'], [topic('devices/+/firmware/#')]),
    deny(['mqtt:Connect'], [client('admin-*')]),
    deny(['mqtt:Publish'], [topic('broadcast/#')]),
  ]
  const fleet: Statement[] = [
    allow(['mqtt:Connect'], [client('${certCommonName}'), client('sensor-*')]),
    allow(['mqtt:Publish'], [topic('devices/${certCommonName}/#')]),
    allow(['mqtt:Subscribe', 'mqtt:Receive'], [topic('commands/${certCommonName}'), topic('commands/${certCommonName}/+')]),
    allow(['mqtt:Publish'], [topic('telemetry/${certCommonName}/+/data')]),
    allow(['mqtt:Subscribe', 'mqtt:Receive'], [topic('broadcast/#')]),
    // `*` in a topic is decided outside the trie: at SUBSCRIBE only here.
    allow(['mqtt:Subscribe'], [topic('dashboards/*')]),
  ]
  const sites: Statement[] = []
  for (let i = 0; sites.length < BENCH_POLICY_STATEMENTS - bench.length - denies.length - fleet.length; i += 1) {
    sites.push(i % 4 === 0
      ? allow(['mqtt:Subscribe', 'mqtt:Receive'], [topic(`site/${i}/#`)])
      : i % 4 === 1
        ? allow(['mqtt:Publish', 'mqtt:Subscribe'], [topic(`fleet/group-${i}/+/status`)])
        : i % 4 === 2
          ? allow(['mqtt:Receive'], [topic(`config/${i}/current`), topic(`config/${i}/next`)])
          : allow(['mqtt:Publish'], [topic(`metrics/${i}/+/+`)]))
  }
  return [...bench, ...denies, ...fleet, ...sites]
}

export function amqpBenchPolicy(instanceId: string): Statement[] {
  const at = (kind: 'exchange' | 'queue', name: string, vhost = '/'): string => `amqp:${instanceId}:${vhost}:${kind}/${name}`
  const vhost = (v: string): string => `amqp:${instanceId}:vhost/${v}`
  const bench: Statement[] = [
    // What the load does (bench/load/amqp-session.ts, amqp-wire.ts): vhost `/`, Basic.Publish to the
    // default exchange (`amq.default`), Queue.Declare and Basic.Consume of `bench-…`.
    allow(['amqp:Connect'], [vhost('/')]),
    allow(['amqp:Publish'], [at('exchange', 'amq.default')]),
    allow(['amqp:Declare', 'amqp:Consume'], [at('queue', `${AMQP_QUEUE_PREFIX}*`)]),
  ]
  const denies: Statement[] = [
    deny(['amqp:Delete', 'amqp:Purge'], [at('queue', `${AMQP_QUEUE_PREFIX}*`)]),
    deny(['amqp:Declare', 'amqp:Delete'], [at('exchange', 'amq.*')]),
    deny(['amqp:Publish'], [at('exchange', 'amq.rabbitmq.*')]),
    deny(['amqp:*'], [vhost('admin')]),
  ]
  const tenants: Statement[] = []
  for (let i = 0; tenants.length < BENCH_POLICY_STATEMENTS - bench.length - denies.length; i += 1) {
    tenants.push(i % 5 === 0
      ? allow(['amqp:Publish'], [at('exchange', `orders-${i}`), at('exchange', `orders-${i}.retry`)])
      : i % 5 === 1
        ? allow(['amqp:Consume'], [at('queue', `orders-${i}.q`), at('queue', `orders-${i}.dlq`)])
        : i % 5 === 2
          ? allow(['amqp:Bind'], [at('queue', `audit-${i}.*`), at('exchange', `events-${i}`)])
          : i % 5 === 3
            ? allow(['amqp:Declare'], [at('queue', `tenant-${i}.*`)])
            : allow(['amqp:Connect'], [vhost(`tenant-${i}`)]))
  }
  return [...bench, ...denies, ...tenants]
}

/**
 * Puts both policies and attaches them as DESIGN §4 says an operator would: the MQTT one to the
 * instance (every device of it), the AMQP one to a sub-account (`POST /v1/accounts`) whose
 * AccessKey (`POST /v1/access-keys {accountId}`) the AMQP load logs in with.
 */
export async function enforceBenchPolicies(admin: AdminClient, o: { mqttInstance: string; amqpInstance: string }): Promise<{ accessKeyId: string; accessKeySecret: string }> {
  const mqtt = mqttBenchPolicy(o.mqttInstance)
  const amqp = amqpBenchPolicy(o.amqpInstance)
  if (mqtt.length !== BENCH_POLICY_STATEMENTS || amqp.length !== BENCH_POLICY_STATEMENTS) {
    throw new Error(`bench policies have ${mqtt.length} and ${amqp.length} statements, not ${BENCH_POLICY_STATEMENTS}`)
  }
  await admin.call('PUT', `/v1/policies/${MQTT_POLICY}`, { statements: mqtt })
  await admin.call('POST', `/v1/policies/${MQTT_POLICY}/attachments`, { principal: `instance:${o.mqttInstance}` })
  await admin.call('POST', '/v1/accounts', { id: AMQP_ACCOUNT, displayName: 'bench AMQP clients' })
  const key = await admin.call<{ accessKeyId: string; accessKeySecret: string }>('POST', '/v1/access-keys', { accountId: AMQP_ACCOUNT, description: 'bench enforce' })
  await admin.call('PUT', `/v1/policies/${AMQP_POLICY}`, { statements: amqp })
  await admin.call('POST', `/v1/policies/${AMQP_POLICY}/attachments`, { principal: `account:${AMQP_ACCOUNT}` })
  return { accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret }
}
