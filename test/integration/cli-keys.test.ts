import t from 'tap'
import { runCli } from '../helpers/cli-harness'
import { startTestGateway } from '../helpers/gateway'

/** `keys status` and `keys rotate --wait` against a real gateway (the lead's routes, issue 13). */
t.test('keys status lists the master keys; keys rotate --wait follows the rotation to its end', async (t) => {
  const tg = await startTestGateway(t)
  const env = { PORTCULLIS_ADMIN_URL: tg.gateway.adminUrl, PORTCULLIS_ACCESS_KEY_ID: tg.gateway.rootAccessKey.accessKeyId, PORTCULLIS_ACCESS_KEY_SECRET: tg.gateway.rootAccessKey.accessKeySecret }
  t.equal((await tg.admin('POST', '/v1/access-keys', { description: 'a secret to re-wrap' })).status, 201)
  const status = await runCli(['keys', 'status'], env)
  t.equal(status.code, 0, status.err)
  const body = status.json()
  t.match(body, { currentKeyId: String, keys: [{ keyId: body.currentKeyId, loaded: true }] })
  const table = await runCli(['keys', 'status', '--output', 'table'], env)
  t.match(table.out, new RegExp(`^KEY ID +CURRENT +LOADED +SECRETS\\n${body.currentKeyId} +yes +yes +\\d+\\n`))
  t.match(table.out, /^rotation: /m)
  const rotate = await runCli(['keys', 'rotate', '--wait'], env)
  t.equal(rotate.code, 0, rotate.err)
  t.match(rotate.json(), { state: 'done', targetKeyId: body.currentKeyId })
  t.match(rotate.err, /re-wrapped \d+\/\d+\n$/, 'the progress line went to stderr')
})
