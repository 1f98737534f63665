import t, { type Test } from 'tap'
import { expiryOf } from '../../src/cli/commands/blacklist'
import { ROOT } from '../helpers/admin-harness'
import { cliHarness, type CliHarness } from '../helpers/cli-harness'

/** The CLI harness with an MQTT instance `mq-1` the entries can be scoped to. */
async function setup(t: Test): Promise<Pick<CliHarness, 'h' | 'run'>> {
  const { h, run } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-blacklist-' })
  t.equal((await run(['instance', 'create', '--id', 'mq-1', '--protocol', 'mqtt'])).code, 0)
  return { h, run }
}

t.test('blacklist add, list, show and remove go through the signed API', async (t) => {
  const { h, run } = await setup(t)
  const before = Date.now()
  const added = await run(['blacklist', 'add', '--kind', 'clientId', '--value', 'sensor-9', '--instance', 'mq-1', '--reason', 'flooding', '--ttl', '3600'])
  t.equal(added.code, 0, added.err)
  const entry = added.json()
  t.match(entry, { id: /^bl-/, kind: 'clientId', value: 'sensor-9', instanceId: 'mq-1', reason: 'flooding', actor: ROOT.accessKeyId, expired: false })
  const expires = Date.parse(entry.expiresAt)
  t.ok(expires >= before + 3600_000 && expires <= Date.now() + 3600_000, '--ttl is now + the seconds given')

  const global = await run(['blacklist', 'add', '-k', 'ip', '--value', '203.0.113.0/24', '--expires', '2099-01-01T00:00:00Z'])
  t.equal(global.code, 0, global.err)
  t.equal(global.json().expiresAt, '2099-01-01T00:00:00.000Z')

  t.same((await run(['blacklist', 'list'])).json().items.map((e: { id: string }) => e.id).sort(), [entry.id, global.json().id].sort())
  t.same((await run(['blacklist', 'list', '--instance', 'mq-1'])).json().items.map((e: { id: string }) => e.id), [entry.id])
  t.same((await run(['blacklist', 'list', '--kind', 'ip'])).json().items.map((e: { id: string }) => e.id), [global.json().id])
  t.same((await run(['blacklist', 'show', entry.id])).json(), entry)

  const removed = await run(['blacklist', 'remove', entry.id, '--yes'])
  t.equal(removed.code, 0, removed.err)
  t.same(removed.json(), { removed: entry.id })
  const again = await run(['blacklist', 'remove', entry.id, '--yes'])
  t.equal(again.code, 1)
  t.match(again.err, /^NOT_FOUND: blacklist entry bl-[0-9a-f]+ does not exist\n$/)
  t.same(h.audit.recent({ type: 'admin.blacklist.add' }).map((e) => e.outcome), ['success', 'success'])
})

t.test('blacklist list --include-expired shows lapsed entries, flagged', async (t) => {
  const { h, run } = await setup(t)
  await h.store.put('blacklist', '_', 'bl-0000000000000001', {
    id: 'bl-0000000000000001', kind: 'username', value: 'old', actor: ROOT.accessKeyId, createdAt: '2020-01-01T00:00:00.000Z', expiresAt: '2020-01-02T00:00:00.000Z',
  })
  t.same((await run(['blacklist', 'list'])).json(), { items: [] })
  t.match((await run(['blacklist', 'list', '--include-expired'])).json().items, [{ id: 'bl-0000000000000001', expired: true }])
})

t.test('blacklist usage errors and API refusals print code: message and exit 1', async (t) => {
  const { run } = await setup(t)
  const cases: Array<[string[], RegExp]> = [
    [['blacklist', 'add', '--value', 'x'], /^USAGE: --kind is required/],
    [['blacklist', 'add', '--kind', 'username'], /^USAGE: --value is required/],
    [['blacklist', 'add', '--kind', 'username', '--value', 'x', '--ttl', '60', '--expires', '2099-01-01T00:00:00Z'], /^USAGE: give --expires or --ttl/],
    [['blacklist', 'add', '--kind', 'username', '--value', 'x', '--ttl=-5'], /^USAGE: --ttl must be/],
    [['blacklist', 'add', '--kind', 'username', '--value', 'x', 'extra'], /^USAGE: unexpected argument extra/],
    [['blacklist', 'add', '--kind', 'ip', '--value', 'not-an-ip'], /^VALIDATION_FAILED: ip must be/],
    [['blacklist', 'add', '--kind', 'username', '--value', 'x', '--instance', 'ghost'], /^NOT_FOUND: instance ghost/],
    [['blacklist', 'remove'], /^USAGE: a blacklist entry id is required/],
    [['blacklist', 'ban'], /^USAGE: blacklist needs one of: add, list, show, remove/],
  ]
  for (const [argv, err] of cases) {
    const res = await run(argv)
    t.equal(res.code, 1, argv.join(' '))
    t.match(res.err, err)
    t.equal(res.out, '')
  }
})

t.test('help lists the blacklist commands', async (t) => {
  const { run } = await setup(t)
  const help = await run(['help'])
  t.match(help.out, /blacklist add --kind accessKey\|account\|username\|clientId\|certFingerprint\|ip --value V/)
  t.match(help.out, /blacklist list \[--instance ID\] \[--kind K\]/)
  t.match(help.out, /blacklist remove ID/)
})

t.test('expiryOf turns --ttl into an ISO time and passes --expires through', async (t) => {
  const now = Date.parse('2026-03-01T12:00:00.000Z')
  t.equal(expiryOf(undefined, '90', now), '2026-03-01T12:01:30.000Z')
  t.equal(expiryOf('2026-03-02T00:00:00Z', undefined, now), '2026-03-02T00:00:00Z', 'the API validates --expires')
  t.equal(expiryOf(undefined, undefined, now), undefined)
  for (const ttl of ['0', '1.5', 'abc', '']) t.throws(() => expiryOf(undefined, ttl, now), { code: 'USAGE' }, `--ttl ${JSON.stringify(ttl)}`)
})
