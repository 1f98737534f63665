import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { serviceAvailable } from '../helpers/services'
import { startTestGateway, unique } from '../helpers/gateway'
import { amqpFixture } from '../helpers/amqp-fixture'

/** Every form a secret could leak in: as is, Base64, hex. */
function forms(secret: string): string[] {
  return [secret, Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('hex')]
}

t.test('no AccessKey secret, static password or backend password reaches the logs or the audit trail', async (t) => {
  if (!(await serviceAvailable(t, 'rabbitmq', 5672))) return
  const lines: string[] = []
  const tg = await startTestGateway(t, { logLines: (line) => lines.push(line) })
  const fx = await amqpFixture(tg)
  const created = await fx.createStaticAccount()
  t.equal(created.status, 201)
  const staticPassword = created.body.password as string
  const dynamic = fx.dynamicCredentials()
  const conn = await fx.connect({ userName: created.body.userName, password: staticPassword })
  await conn.close()
  await (await fx.connect(dynamic)).close()
  await fx.connect({ ...dynamic, password: Buffer.from('wrong:1').toString('base64') }).then(() => t.fail('connected'), () => undefined)
  await tg.admin('POST', '/v1/access-keys', { description: unique('more') })
  await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.protocol === 'amqp')
  await tg.stop()

  const audit = readFileSync(join(tg.dataDir, 'audit.jsonl'), 'utf8')
  const logs = lines.join('')
  t.ok(lines.length > 10, `${lines.length} log lines captured at debug level`)
  const secrets: Array<[string, string]> = [
    ['the AccessKey secret', fx.accessKeySecret],
    ['the static password', staticPassword],
    ['a dynamic password', dynamic.password],
  ]
  for (const [what, secret] of secrets) {
    for (const form of forms(secret)) {
      t.notOk(logs.includes(form), `${what} is not in the logs`)
      t.notOk(audit.includes(form), `${what} is not in the audit trail`)
    }
  }
})
