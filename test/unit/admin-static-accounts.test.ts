import t from 'tap'
import { AmqpAuthenticator } from '../../src/auth/authenticate'
import { passwordFor, signatureFor } from '../../src/auth/credentials'
import { createAccountBody } from '../../src/cli/commands/static-account'
import { adminHarness, type AdminHarness } from '../helpers/admin-harness'

const TS = '1700000000000'
const AMQP = { id: 'rabbit', protocol: 'amqp', hostnames: ['rabbit.example.com'], backend: { host: '127.0.0.1', port: 5672 } }

async function setup(t: tap.Test): Promise<{ h: AdminHarness; key: { accessKeyId: string; accessKeySecret: string } }> {
  const h = await adminHarness(t)
  t.equal((await h.call('POST', '/v1/instances', AMQP)).statusCode, 201)
  const key = (await h.call('POST', '/v1/access-keys', {})).json() as { accessKeyId: string; accessKeySecret: string }
  return { h, key }
}

t.test('CreateAccount answers the static user and a password that logs in; the list has no password', async (t) => {
  const { h, key } = await setup(t)
  const body = createAccountBody('rabbit', key.accessKeyId, key.accessKeySecret, TS)
  const res = await h.call('POST', '/v1/instances/rabbit/static-accounts', body)
  t.equal(res.statusCode, 201, res.body)
  t.equal(res.headers['cache-control'], 'no-store')
  const answer = res.json()
  t.same(answer, {
    userName: body['userName'], password: passwordFor(key.accessKeySecret, TS), accessKey: key.accessKeyId, createTimestamp: Number(TS), instanceId: 'rabbit',
  })

  const auth = new AmqpAuthenticator({ accessKeys: h.accessKeys, staticAccounts: h.staticAccounts, tokens: h.tokens })
  const login = await auth.authenticate({ username: answer.userName, password: answer.password, instanceId: 'rabbit' })
  t.match(login, { ok: true, subject: { kind: 'static', accessKeyId: key.accessKeyId } }, 'the answered credentials log in')

  const list = await h.call('GET', '/v1/instances/rabbit/static-accounts')
  t.equal(list.statusCode, 200)
  t.match(list.json().items, [{ instanceId: 'rabbit', accessKey: key.accessKeyId, userName: answer.userName, createTimestamp: Number(TS) }])
  t.notOk(list.body.includes(answer.password))
  t.notOk('password' in list.json().items[0])

  const [event] = h.audit.recent({ type: 'admin.staticAccount.create' })
  t.equal(event?.instanceId, 'rabbit')
  t.equal(event?.details['accessKeyId'], key.accessKeyId)
  t.match(event?.details['after'], { userName: answer.userName })
  const audit = JSON.stringify(h.audit.recent({}))
  for (const [name, value] of [['password', answer.password], ['signature', body['signature']], ['secretSign', body['secretSign']], ['secret', key.accessKeySecret]]) {
    t.notOk(audit.toUpperCase().includes(String(value).toUpperCase()), `no ${name as string} in the audit`)
  }
})

t.test('one static user per AccessKey and instance: a second CreateAccount is 409 until the first is deleted', async (t) => {
  const { h, key } = await setup(t)
  const body = createAccountBody('rabbit', key.accessKeyId, key.accessKeySecret, TS)
  t.equal((await h.call('POST', '/v1/instances/rabbit/static-accounts', body)).statusCode, 201)
  const again = await h.call('POST', '/v1/instances/rabbit/static-accounts', createAccountBody('rabbit', key.accessKeyId, key.accessKeySecret, '1700000000001'))
  t.equal(again.statusCode, 409)
  t.equal(again.json().code, 'STATIC_ACCOUNT_EXISTS')
  const del = await h.call('DELETE', `/v1/instances/rabbit/static-accounts/${key.accessKeyId}`)
  t.equal(del.statusCode, 204)
  const [event] = h.audit.recent({ type: 'admin.staticAccount.delete' })
  t.match(event?.details, { instanceId: 'rabbit', accessKeyId: key.accessKeyId, before: { accessKey: key.accessKeyId } })
  t.equal((await h.call('DELETE', `/v1/instances/rabbit/static-accounts/${key.accessKeyId}`)).statusCode, 404)
  t.equal((await h.call('POST', '/v1/instances/rabbit/static-accounts', body)).statusCode, 201, 'recreated after the delete')
})

t.test('CreateAccount is refused on an unknown or non-AMQP instance', async (t) => {
  const { h, key } = await setup(t)
  const unknown = await h.call('POST', '/v1/instances/nope/static-accounts', createAccountBody('nope', key.accessKeyId, key.accessKeySecret, TS))
  t.equal(unknown.statusCode, 404)
  t.equal(unknown.json().code, 'NOT_FOUND')
  await h.call('POST', '/v1/instances', { id: 'mq', protocol: 'mqtt' })
  const mqtt = await h.call('POST', '/v1/instances/mq/static-accounts', createAccountBody('mq', key.accessKeyId, key.accessKeySecret, TS))
  t.equal(mqtt.statusCode, 400)
  t.match(mqtt.json().message, /not an AMQP instance/)
  t.equal((await h.call('GET', '/v1/instances/nope/static-accounts')).statusCode, 404)
  t.same(h.audit.recent({ type: 'admin.staticAccount.create' }).map((e) => e.outcome), ['failure', 'failure'])
})

t.test('a wrong signature or secretSign is a 400 naming the proof, not a 401 of the admin request', async (t) => {
  const { h, key } = await setup(t)
  const good = createAccountBody('rabbit', key.accessKeyId, key.accessKeySecret, TS)
  const wrongSignature = await h.call('POST', '/v1/instances/rabbit/static-accounts', { ...good, signature: signatureFor('not-the-secret', TS) })
  t.equal(wrongSignature.statusCode, 400)
  t.equal(wrongSignature.json().code, 'VALIDATION_FAILED')
  t.match(wrongSignature.json().message, /^signature is not/)
  const wrongSecretSign = await h.call('POST', '/v1/instances/rabbit/static-accounts', { ...good, secretSign: signatureFor(key.accessKeySecret, TS) })
  t.match(wrongSecretSign.json().message, /^secretSign is not/)
  const lowerCase = await h.call('POST', '/v1/instances/rabbit/static-accounts', { ...good, signature: String(good['signature']).toLowerCase() })
  t.equal(lowerCase.statusCode, 201, 'hex is compared case-insensitively')
})

t.test('malformed CreateAccount bodies are refused with 400 and unknown AccessKeys with 404', async (t) => {
  const { h, key } = await setup(t)
  const good = createAccountBody('rabbit', key.accessKeyId, key.accessKeySecret, TS)
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an unknown key', { ...good, password: 'x' }, /password/],
    ['a missing field', { ...good, secretSign: undefined }, /secretSign/],
    ['a fractional timestamp', { ...good, createTimestamp: 1.5 }, /createTimestamp/],
    ['another instance in the body', { ...good, instanceId: 'other' }, /instanceId other/],
    ['a dynamic userName', { ...good, userName: Buffer.from(`0:rabbit:${key.accessKeyId}`).toString('base64') }, /TYPE 2/],
  ]
  for (const [what, body, message] of cases) {
    const res = await h.call('POST', '/v1/instances/rabbit/static-accounts', body)
    t.equal(res.statusCode, 400, what)
    t.match(res.json().message, message, what)
  }
  const unknownKey = await h.call('POST', '/v1/instances/rabbit/static-accounts', createAccountBody('rabbit', 'LTAI00000000000000000000', 'x', TS))
  t.equal(unknownKey.statusCode, 404)
})

t.test('a disabled AccessKey cannot create a static account (403)', async (t) => {
  const { h, key } = await setup(t)
  await h.call('PATCH', `/v1/access-keys/${key.accessKeyId}`, { status: 'Inactive' })
  const res = await h.call('POST', '/v1/instances/rabbit/static-accounts', createAccountBody('rabbit', key.accessKeyId, key.accessKeySecret, TS))
  t.equal(res.statusCode, 403)
  t.equal(res.json().code, 'ACCESS_KEY_INACTIVE')
})
