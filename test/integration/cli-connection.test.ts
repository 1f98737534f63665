import t from 'tap'
import { runCli, type CliRun } from '../helpers/cli-harness'
import { startTestGateway, unique, type TestGateway } from '../helpers/gateway'
import { closed, mqttFixture } from '../helpers/mqtt-fixture'

/** `portcullis connection list|kick` against a real gateway and a real MQTT session (embedded broker). */
function cli(tg: TestGateway): (argv: string[]) => Promise<CliRun> {
  const env = { PORTCULLIS_ADMIN_URL: tg.gateway.adminUrl, PORTCULLIS_ACCESS_KEY_ID: tg.gateway.rootAccessKey.accessKeyId, PORTCULLIS_ACCESS_KEY_SECRET: tg.gateway.rootAccessKey.accessKeySecret }
  return (argv) => runCli(argv, env, tg.dataDir)
}

t.test('connection list shows the live sessions and connection kick closes one', async (t) => {
  const tg = await startTestGateway(t)
  const run = cli(tg)
  const fx = await mqttFixture(tg, { backend: 'embedded' })
  const clientId = unique('listed')
  const client = await fx.connect(await fx.device('kick-me'), { clientId })
  t.teardown(() => { client.end(true) })

  const list = await run(['connection', 'list'])
  t.equal(list.code, 0, list.err)
  const sessions = list.json().items as Array<{ connId: string; instanceId: string; clientId?: string; protocol: string }>
  t.equal(sessions.length, 1)
  const session = sessions[0]
  t.match(session, { instanceId: fx.instanceId, clientId, protocol: 'mqtt' })
  t.same((await run(['connection', 'list', '--instance', fx.instanceId])).json().items.map((s: { connId: string }) => s.connId), [session?.connId])
  t.same((await run(['connection', 'list', '-i', 'another-instance'])).json(), { items: [] })
  const table = await run(['connection', 'list', '--output', 'table'])
  t.match(table.out, new RegExp(`^CONN ID +INSTANCE ID +PROTOCOL +SOURCE IP +CLIENT ID +DEVICE ID +ACCESS KEY ID +STARTED AT\\n${session?.connId} +${fx.instanceId} +mqtt +127\\.0\\.0\\.1 +${clientId} +[0-9a-f]{64} +- +\\S+Z\\n$`))

  const connId = session?.connId ?? ''
  const unconfirmed = await run(['connection', 'kick', connId])
  t.match(unconfirmed.err, /^CONFIRMATION_REQUIRED: close connection /)
  t.ok(client.connected, 'not kicked without --yes')
  const gone = closed(client, 3000)
  const kicked = await run(['connection', 'kick', connId, '--yes'])
  t.equal(kicked.code, 0, kicked.err)
  t.same(kicked.json(), { kicked: connId })
  await gone
  const event = await tg.waitForEvent((e) => e.type === 'session.kicked' && e.reason === 'ADMIN_KICK')
  t.equal(event.instanceId, fx.instanceId)
  const again = await run(['connection', 'kick', connId, '--yes'])
  t.equal(again.code, 1)
  t.match(again.err, new RegExp(`^NOT_FOUND: connection ${connId} is not live`))
})
