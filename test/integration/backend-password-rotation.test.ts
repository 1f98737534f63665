/**
 * An instance's backend password as a managed secret (issue 13): a RabbitMQ user of the test's
 * own, its password changed on the broker as an operator would, then `POST
 * /v1/instances/{id}/backend-password` — supplied, or generated and answered once. New AMQP
 * logins through the gateway use the new password at once; a session connected before keeps its
 * broker connection and goes on working.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { amqpFixture } from '../helpers/amqp-fixture'
import { startTestGateway, unique } from '../helpers/gateway'
import { addRabbitUser, rabbitmqctlAvailable } from '../helpers/rabbitmq-users'
import { serviceAvailable } from '../helpers/services'
import { valueWithin } from '../helpers/wait'
import type amqplib from 'amqplib'

async function roundTrip(conn: amqplib.ChannelModel, label: string): Promise<string> {
  const ch = await conn.createChannel()
  const queue = unique('bpw-q')
  await ch.assertQueue(queue, { durable: false })
  ch.sendToQueue(queue, Buffer.from(label))
  const got = await valueWithin(() => ch.get(queue, { noAck: true }), 5000, `${label} delivered`)
  await ch.deleteQueue(queue)
  await ch.close()
  return got.content.toString()
}

t.test('rotating the backend password: new logins use it at once, live sessions stay', async (t) => {
  if (!(await serviceAvailable(t, 'rabbitmq', 5672)) || !(await rabbitmqctlAvailable(t))) return
  const tg = await startTestGateway(t)
  const user = await addRabbitUser(t, unique('pc-bpw'), randomBytes(12).toString('hex'))
  const fx = await amqpFixture(tg, { backend: { username: user.username, password: user.password } })
  const live = await fx.connect(fx.dynamicCredentials())
  t.teardown(() => live.close().catch(() => undefined))
  t.equal(await roundTrip(live, 'before'), 'before', 'a session logged in with the first password works')

  const second = randomBytes(12).toString('hex')
  await user.changePassword(second)
  await t.rejects(fx.connect(fx.dynamicCredentials()), 'the broker now refuses the old password, so a new login fails until the gateway has the new one')
  const supplied = await tg.admin('POST', `/v1/instances/${fx.instanceId}/backend-password`, { password: second })
  t.equal(supplied.status, 200)
  t.same(supplied.body, { instanceId: fx.instanceId, generated: false }, 'a supplied password is not echoed back')
  const next = await fx.connect(fx.dynamicCredentials())
  t.equal(await roundTrip(next, 'after'), 'after', 'a login right after the call uses the new password')
  await next.close()
  t.equal(await roundTrip(live, 'still'), 'still', 'the session from before is untouched')

  const generated = await tg.admin('POST', `/v1/instances/${fx.instanceId}/backend-password`, {})
  t.equal(generated.status, 200)
  t.equal(generated.body.generated, true)
  t.match(generated.body.password, /^[A-Za-z0-9]{32}$/, 'a generated password is answered once, 32 base62 characters')
  await user.changePassword(generated.body.password as string)
  const third = await fx.connect(fx.dynamicCredentials())
  t.equal(await roundTrip(third, 'generated'), 'generated', 'the generated password, set on the broker, is what new logins use')
  await third.close()
  t.equal(await roundTrip(live, 'still 2'), 'still 2')

  const view = await tg.admin('GET', `/v1/instances/${fx.instanceId}`)
  t.notOk(JSON.stringify(view.body).includes(generated.body.password as string), 'the instance view never shows it')
  const events = tg.events('admin.instance.rotateBackendPassword')
  t.equal(events.length, 2, 'each rotation is audited')
  t.match(events[1]?.details, { generated: true, instanceId: fx.instanceId })
  const auditText = JSON.stringify(tg.events())
  t.notOk(auditText.includes(second) || auditText.includes(generated.body.password as string), 'no audit event holds either password')

  const bad = await tg.admin('POST', `/v1/instances/${fx.instanceId}/backend-password`, { password: 'a\nb' })
  t.equal(bad.status, 400, 'control characters are refused')
  const unknown = await tg.admin('POST', '/v1/instances/nope/backend-password', {})
  t.equal(unknown.status, 404)
  const mqtt = await tg.admin('POST', '/v1/instances', { id: unique('mq'), protocol: 'mqtt', hostnames: [`${unique('mq')}.local`], backend: { kind: 'embedded' } })
  const embedded = await tg.admin('POST', `/v1/instances/${mqtt.body.id as string}/backend-password`, {})
  t.equal(embedded.status, 400)
  t.match(embedded.body.message, /embedded broker/)
})
