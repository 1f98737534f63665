import { Readable } from 'node:stream'
import t from 'tap'
import { MAX_STDIN_BYTES } from '../../src/cli/stdin'
import { cliHarness } from '../helpers/cli-harness'

/** `-` as a file option's value reads stdin (issue 14's leftovers: `instance create -f -`). */
const piped = (text: string): Readable => Readable.from([Buffer.from(text)])

const AMQP_INSTANCE = 'id: from-stdin\nprotocol: amqp\nhostnames: [stdin.example.com]\nbackend: {kind: tcp, host: 127.0.0.1, port: 5672, username: guest, password: stdin-pass}\n'

t.test('instance create -f - reads the instance from stdin, flags still override it, the password is not printed', async (t) => {
  const { run } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-stdin-' })
  const res = await run(['instance', 'create', '-f', '-', '--hostname', 'flag.example.com'], undefined, { stdin: piped(AMQP_INSTANCE) })
  t.equal(res.code, 0, res.err)
  t.equal(res.json().id, 'from-stdin')
  t.same(res.json().hostnames, ['flag.example.com'], '--hostname overrides the document, as with a file')
  t.equal(res.json().backend.passwordSet, true, 'the password came through stdin')
  t.notOk(res.out.includes('stdin-pass'))
  const updated = await run(['instance', 'update', 'from-stdin', '--file', '-'], undefined, { stdin: piped('{"accessType": "SINGLE_TUNNEL", "vpcId": "vpc-stdin"}') })
  t.equal(updated.code, 0, updated.err)
  t.equal(updated.json().vpcId, 'vpc-stdin', 'update takes JSON from stdin too')
})

t.test('policy put -f - reads the policy document from stdin', async (t) => {
  const { run } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-stdin-' })
  const doc = 'statements:\n  - {effect: Allow, actions: ["mqtt:Connect"], resources: ["mqtt:*:client/*"]}\n'
  const res = await run(['policy', 'put', 'from-stdin', '-f', '-'], undefined, { stdin: piped(doc) })
  t.equal(res.code, 0, res.err)
  t.same(res.json().statements, [{ effect: 'Allow', actions: ['mqtt:Connect'], resources: ['mqtt:*:client/*'] }])
})

t.test('stdin is refused when it is given twice, absent, not an object or too large', async (t) => {
  const { run } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-stdin-' })
  const twice = await run(['instance', 'create', '-f', '-', '--server-cert', '-', '--server-key', 'key.pem'], undefined, { stdin: piped(AMQP_INSTANCE) })
  t.equal(twice.code, 1)
  t.match(twice.err, /^USAGE: stdin \(-\) can be given to one option only/)
  const none = await run(['instance', 'create', '-f', '-'])
  t.equal(none.code, 1)
  t.match(none.err, /^USAGE: - reads stdin, and this run has none/)
  const list = await run(['instance', 'create', '-f', '-'], undefined, { stdin: piped('[1, 2]') })
  t.match(list.err, /^USAGE: stdin must hold an object\n/, 'the message says stdin, not "-"')
  const huge = await run(['instance', 'create', '-f', '-'], undefined, { stdin: Readable.from([Buffer.alloc(MAX_STDIN_BYTES + 1, 0x20)]) })
  t.equal(huge.code, 1)
  t.match(huge.err, /^USAGE: stdin holds more than \d+ bytes/)
  t.same((await run(['instance', 'list'])).json().items, [], 'nothing was created')
})
