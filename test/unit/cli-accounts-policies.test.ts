import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { main } from '../../src/cli/main'
import { cliHarness } from '../helpers/cli-harness'

t.test('account commands create, list, show and delete through the signed API', async (t) => {
  const { run } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-accounts-' })
  const ops = await run(['account', 'create', 'ops', '--display-name', 'Operations'])
  t.equal(ops.code, 0, ops.err)
  t.match(ops.json(), { id: 'ops', displayName: 'Operations' })
  const eu = await run(['account', 'create', 'ops-eu', '--parent', 'ops'])
  t.equal(eu.json().parentId, 'ops')
  t.same((await run(['account', 'list'])).json().items.map((a: { id: string }) => a.id), ['legacy', 'ops', 'ops-eu', 'root'])
  t.equal((await run(['account', 'show', 'ops-eu'])).json().parentId, 'ops')

  const key = await run(['access-key', 'create', '--account', 'ops-eu'])
  t.equal(key.code, 0, key.err)
  t.equal(key.json().accountId, 'ops-eu')
  const inUse = await run(['account', 'delete', 'ops', '--yes'])
  t.equal(inUse.code, 1)
  t.match(inUse.err, /^ACCOUNT_IN_USE: account ops still has 1 sub-account\(s\) \(ops-eu\)/)
  t.equal((await run(['access-key', 'delete', key.json().accessKeyId, '--yes'])).code, 0)
  t.same((await run(['account', 'delete', 'ops-eu', '--yes'])).json(), { deleted: 'ops-eu' })
  const gone = await run(['account', 'show', 'ops-eu'])
  t.match(gone.err, /^NOT_FOUND: account ops-eu does not exist/)
  const usage = await run(['account', 'create'])
  t.same([usage.code, usage.err], [1, 'USAGE: an account id is required\nhint: see portcullis account create --help\n'])
})

t.test('policy commands put a document from a file, attach, list, detach and delete', async (t) => {
  const { run, cwd, url } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-policies-' })
  await run(['account', 'create', 'ops'])
  await writeFile(join(cwd, 'read.json'), JSON.stringify({ statements: [{ effect: 'Allow', actions: ['admin:ListInstances'], resources: ['admin:instances'] }] }))
  const put = await run(['policy', 'put', 'read-instances', '--file', 'read.json'])
  t.equal(put.code, 0, put.err)
  t.match(put.json(), { name: 'read-instances', version: 1 })
  await writeFile(join(cwd, 'read.yaml'), 'statements:\n  - effect: Allow\n    actions: [admin:ListInstances, admin:GetInstance]\n    resources: ["admin:instances*"]\n')
  const replaced = await run(['policy', 'put', 'read-instances', '-f', 'read.yaml'])
  t.equal(replaced.json().version, 2, 'YAML too; a second put replaces')
  t.same((await run(['policy', 'list'])).json().items.map((p: { name: string }) => p.name), ['read-instances'])
  t.equal((await run(['policy', 'show', 'read-instances'])).json().statements[0].actions.length, 2)

  const key = (await run(['access-key', 'create', '--account', 'ops'])).json() as { accessKeyId: string; accessKeySecret: string }
  const asKey = { PORTCULLIS_ADMIN_URL: url, PORTCULLIS_ACCESS_KEY_ID: key.accessKeyId, PORTCULLIS_ACCESS_KEY_SECRET: key.accessKeySecret }
  const before = await run(['instance', 'list'], asKey)
  t.equal(before.code, 1)
  t.match(before.err, /^ACCESS_DENIED: AccessKey \S+ may not admin:ListInstances on admin:instances/)

  const attached = await run(['policy', 'attach', 'read-instances', 'account:ops'])
  t.equal(attached.code, 0, attached.err)
  t.match(attached.json(), { policy: 'read-instances', principal: 'account:ops' })
  t.same((await run(['instance', 'list'], asKey)).json(), { items: [] }, 'the ops key may list instances now')
  t.same((await run(['policy', 'attachments', 'read-instances'])).json().items.map((a: { principal: string }) => a.principal), ['account:ops'])

  const inUse = await run(['policy', 'delete', 'read-instances', '--yes'])
  t.match(inUse.err, /^POLICY_ATTACHED: /)
  const detached = await run(['policy', 'detach', 'read-instances', 'account:ops'])
  t.equal(detached.code, 0, detached.err)
  t.same(detached.json(), { detached: { policy: 'read-instances', principal: 'account:ops' } })
  t.equal((await run(['instance', 'list'], asKey)).code, 1, 'denied again once detached')
  t.same((await run(['policy', 'delete', 'read-instances', '--yes'])).json(), { deleted: 'read-instances' })
  t.equal((await run(['policy', 'show', 'read-instances'])).code, 1)
})

t.test('policy detach sends a principal with / and : as one path segment', async (t) => {
  const { run, h } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-policies-' })
  await run(['instance', 'create', '--id', 'mq', '--protocol', 'mqtt'])
  await h.call('PUT', '/v1/policies/p', { statements: [{ effect: 'Allow', actions: ['mqtt:Connect'], resources: ['*'] }] })
  const principal = `device:mq/${'ab'.repeat(32)}`
  t.equal((await run(['policy', 'attach', 'p', principal])).code, 0)
  const detached = await run(['policy', 'detach', 'p', principal])
  t.equal(detached.code, 0, detached.err)
  t.same((await h.call('GET', '/v1/policies/p/attachments')).json(), { items: [] })
})

t.test('policy and account usage errors say what is missing', async (t) => {
  const { run } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-policies-' })
  t.same((await run(['policy', 'put', 'p'])).err, 'USAGE: --file is required\nhint: see portcullis policy put --help\n')
  t.same((await run(['policy', 'attach', 'p'])).err, 'USAGE: policy attach needs NAME PRINCIPAL\nhint: see portcullis policy attach --help\n')
  t.same((await run(['policy', 'detach', 'p', 'account:root', 'extra'])).err, 'USAGE: unexpected argument extra\nhint: see portcullis policy detach --help\n')
  t.match((await run(['policy', 'put', 'p', '--file', 'missing.json'])).err, /^FILE_UNREADABLE: /)
  t.match((await run(['policy'])).err, /^USAGE: policy needs one of: put, list, show, delete, attach, detach, attachments/)
  t.match((await run(['account', 'rename'])).err, /^USAGE: account needs one of: create, list, show, delete \(not rename\)/)
})

t.test('help lists the account and policy commands and --account', async (t) => {
  let out = ''
  t.equal(await main(['help'], { env: {}, stdout: { write: (s: string) => (out += s) }, stderr: { write: () => true } }), 0)
  for (const line of ['account create ID [--display-name N] [--parent P]', 'policy put NAME --file DOC.json', 'policy attach|detach NAME PRINCIPAL', 'policy attachments NAME', 'access-key create [--description D] [--account ID]']) {
    t.ok(out.includes(line), line)
  }
})
