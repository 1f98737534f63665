import type { Command } from 'commander'
import t from 'tap'
import { COMMANDS } from '../../../src/cli/commands'
import { overview } from '../../../src/cli/help'
import { buildProgram, metaOf, pathOf } from '../../../src/cli/program'
import { cliHarness, terminalTyping } from '../../helpers/cli-harness'

/** What must never run unasked (task: deletes, revokes, removals, kicks). */
const DESTRUCTIVE = [
  'instance delete', 'ca delete', 'device revoke', 'access-key delete', 'static-account delete', 'account delete',
  'policy delete', 'blacklist remove', 'connection kick',
]

t.test('every destructive command takes --yes and --force, and is marked so', async (t) => {
  const { program } = buildProgram({ env: {}, stdout: { write: () => true }, stderr: { write: () => true }, cwd: '/' }, COMMANDS, { version: '0', overview })
  const marked: string[] = []
  const walk = (c: Command): void => {
    for (const sub of c.commands) {
      if (metaOf(sub)?.destructive === true) {
        marked.push(pathOf(sub))
        t.ok(sub.options.some((o) => o.long === '--yes' && o.short === '-y'), `${pathOf(sub)} --yes`)
        t.ok(sub.options.some((o) => o.long === '--force'), `${pathOf(sub)} --force`)
      }
      walk(sub)
    }
  }
  walk(program)
  t.same(marked.sort(), [...DESTRUCTIVE].sort())
})

t.test('without a terminal a destructive command is refused unless --yes or --force, and nothing changes', async (t) => {
  const { run, h } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-confirm-' })
  t.equal((await run(['instance', 'create', '--id', 'keep-me', '--protocol', 'mqtt'])).code, 0)
  const refused = await run(['instance', 'delete', 'keep-me'])
  t.equal(refused.code, 1)
  t.equal(refused.out, '')
  t.equal(refused.err, 'CONFIRMATION_REQUIRED: delete instance keep-me: refused without confirmation (stdin is not a terminal)\nhint: add --yes to confirm: portcullis instance delete … --yes\n')
  t.equal((await h.call('GET', '/v1/instances/keep-me')).statusCode, 200, 'the instance is still there')
  t.same(h.audit.recent({ type: 'admin.instance.delete' }), [], 'nothing was even attempted')

  const entry = (await run(['blacklist', 'add', '--kind', 'username', '--value', 'u'])).json()
  t.match((await run(['blacklist', 'remove', entry.id])).err, /^CONFIRMATION_REQUIRED: remove blacklist entry bl-/)
  t.same((await run(['blacklist', 'remove', entry.id, '--force'])).json(), { removed: entry.id }, '--force confirms too')
  t.same((await run(['instance', 'delete', 'keep-me', '-y'])).json(), { deleted: 'keep-me' })
})

t.test('on a terminal the command asks, and only y or yes goes ahead', async (t) => {
  const { run, h } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-confirm-' })
  t.equal((await run(['account', 'create', 'ops'])).code, 0)
  const no = await run(['account', 'delete', 'ops'], undefined, { stdin: terminalTyping('n') })
  t.equal(no.code, 1)
  t.equal(no.err, 'delete account ops. Continue? [y/N] NOT_CONFIRMED: delete account ops: not confirmed, nothing changed\n')
  t.equal((await h.call('GET', '/v1/accounts/ops')).statusCode, 200)
  const empty = await run(['account', 'delete', 'ops'], undefined, { stdin: terminalTyping('') })
  t.equal(empty.code, 1, 'Enter alone is no')
  const yes = await run(['account', 'delete', 'ops'], undefined, { stdin: terminalTyping('YES') })
  t.equal(yes.code, 0, yes.err)
  t.same(yes.json(), { deleted: 'ops' })
  t.equal((await h.call('GET', '/v1/accounts/ops')).statusCode, 404)
})

t.test('usage errors come before the question', async (t) => {
  const { run } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-confirm-' })
  t.match((await run(['ca', 'delete', 'x'], undefined, { stdin: terminalTyping('y') })).err, /^USAGE: --instance is required/)
  t.match((await run(['connection', 'kick'])).err, /^USAGE: a connection id is required/)
})
