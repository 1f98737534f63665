import t from 'tap'
import { render } from '../../../src/cli/output'
import { ProgressLine } from '../../../src/cli/progress'
import { cliHarness } from '../../helpers/cli-harness'

t.test('json output is the value exactly, indented', async (t) => {
  const value = { items: [{ id: 'a', n: 1 }], nextToken: 'x' }
  t.equal(render(value, 'json'), `${JSON.stringify(value, null, 2)}\n`)
  t.same(JSON.parse(render(value, 'json')), value)
})

t.test('a list renders as aligned columns, with nested keys dotted and lists joined', async (t) => {
  const out = render({ items: [
    { id: 'mq-1', protocol: 'mqtt', hostnames: ['a.example.com', 'b.example.com'], authorization: { mode: 'off' } },
    { id: 'rabbit-long-name', protocol: 'amqp', hostnames: [], authorization: { mode: 'enforce' } },
  ] }, 'table', { columns: ['id', 'protocol', 'hostnames', 'authorization.mode', 'vpcId'] })
  t.equal(out, [
    'ID                PROTOCOL  HOSTNAMES                    AUTHORIZATION MODE  VPC ID',
    'mq-1              mqtt      a.example.com,b.example.com  off                 -',
    'rabbit-long-name  amqp      -                            enforce             -',
    '',
  ].join('\n'))
  t.equal(render({ items: [] }, 'table'), '(none)\n')
  t.match(render([{ a: 1, nested: { x: 1 } }], 'table'), /^A\n1\n$/, 'without columns: the scalar fields')
})

t.test('one object renders as key/value lines; long multi-line values are shortened', async (t) => {
  const pem = `-----BEGIN CERTIFICATE-----\n${'A'.repeat(64)}\n${'B'.repeat(10)}\n-----END CERTIFICATE-----\n`
  t.equal(render({ id: 'x', backend: { host: 'h', port: 1 }, pem, tags: ['a', 'b'], gone: null }, 'table'), [
    'id            x',
    'backend.host  h',
    'backend.port  1',
    'pem           -----BEGIN CERTIFICATE----- … (4 lines)',
    'tags          a,b',
    'gone          -',
    '',
  ].join('\n'))
})

t.test('a progress line is rewritten in place on a terminal and one line per change elsewhere', async (t) => {
  let tty = ''
  const onTty = new ProgressLine({ isTTY: true, write: (s: string) => (tty += s) })
  onTty.update('re-wrapped 1/3')
  onTty.update('re-wrapped 1/3')
  onTty.update('re-wrapped 3/3')
  onTty.done()
  t.equal(tty, '\r\x1b[2Kre-wrapped 1/3\r\x1b[2Kre-wrapped 3/3\n')
  let pipe = ''
  const onPipe = new ProgressLine({ write: (s: string) => (pipe += s) })
  onPipe.update('re-wrapped 1/3')
  onPipe.update('re-wrapped 1/3')
  onPipe.update('re-wrapped 3/3')
  onPipe.done()
  t.equal(pipe, 're-wrapped 1/3\nre-wrapped 3/3\n')
})

t.test('--output table prints what the API answers for people; json stays the default', async (t) => {
  const { run } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-output-' })
  t.equal((await run(['instance', 'create', '--id', 'tab-1', '--protocol', 'mqtt', '--hostname', 'tab-1.example.com'])).code, 0)
  const json = await run(['instance', 'list'])
  t.same(json.json().items.map((i: { id: string }) => i.id), ['tab-1'], 'json by default')
  const table = await run(['instance', 'list', '--output', 'table'])
  t.equal(table.code, 0, table.err)
  const [header, row, ...rest] = table.out.trimEnd().split('\n')
  t.match(header, /^ID +PROTOCOL +HOSTNAMES +ACCESS TYPE +VPC ID +AUTHORIZATION MODE +BACKEND KIND/)
  t.match(row, /^tab-1 +mqtt +tab-1\.example\.com +ANY_TUNNEL +- +off /)
  t.same(rest, [])
  const one = await run(['--output', 'table', 'instance', 'show', 'tab-1'])
  t.match(one.out, /^id +tab-1$/m)
  t.match(one.out, /^authorization\.mode +off$/m)
  const deleted = await run(['instance', 'delete', 'tab-1', '--yes', '--output', 'table'])
  t.equal(deleted.out, 'deleted  tab-1\n')
})
