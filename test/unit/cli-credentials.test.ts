import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { AmqpAuthenticator } from '../../src/auth/authenticate'
import { AuditLog } from '../../src/audit/audit-log'
import { FileSink } from '../../src/audit/sinks/file'
import { cliHarness, runCli, type CliRun } from '../helpers/cli-harness'

/** Offline: no admin server. */
const offline = (argv: string[]): Promise<CliRun> => runCli(argv, {})

t.test('derive-credentials prints the DESIGN §1 test vector', async (t) => {
  const res = await offline(['derive-credentials', '--instance', '123123123', '--access-key', 'ak', '--secret', 'sk', '--timestamp', '1000'])
  t.equal(res.code, 0, res.err)
  t.same(res.json(), { userName: 'MDoxMjMxMjMxMjM6YWs=', password: 'RTEyMjUzODUwMDg0QjE5ODkwNUE4N0Q3NDI4NTJEMEUwQTZGQTEyMzoxMDAw' })
})

t.test('derive-credentials: dynamic uses now, static its timestamp, STS the token; bad combinations are usage errors', async (t) => {
  const before = Date.now()
  const dynamic = (await offline(['derive-credentials', '--instance', 'i1', '--access-key', 'ak', '--secret', 'sk'])).json()
  const ts = Number(Buffer.from(dynamic.password, 'base64').toString('utf8').split(':')[1])
  t.ok(ts >= before && ts <= Date.now(), 'a dynamic login is stamped with the current time')

  const stat = (await offline(['derive-credentials', '--instance', 'i1', '--access-key', 'ak', '--secret', 'sk', '--static', '--timestamp', '1000'])).json()
  t.equal(Buffer.from(stat.userName, 'base64').toString('utf8'), '2:i1:ak')
  t.equal(stat.password, 'RTEyMjUzODUwMDg0QjE5ODkwNUE4N0Q3NDI4NTJEMEUwQTZGQTEyMzoxMDAw')

  const token = `${'a'.repeat(20)}.${'b'.repeat(43)}`
  const sts = (await offline(['derive-credentials', '--instance', 'i1', '--access-key', 'ak', '--secret', 'sk', '--security-token', token])).json()
  t.equal(Buffer.from(sts.userName, 'base64').toString('utf8'), `0:i1:ak:${token}`)

  const cases: Array<[string[], RegExp]> = [
    [['--instance', 'i1', '--access-key', 'ak', '--secret', 'sk', '--static'], /--static needs --timestamp/],
    [['--instance', 'i1', '--access-key', 'ak', '--secret', 'sk', '--static', '--timestamp', '1', '--security-token', token], /--security-token goes with a dynamic login/],
    [['--instance', 'i1', '--access-key', 'ak'], /--secret is required/],
    [['--instance', 'i1', '--access-key', 'ak', '--secret', 'sk', '--timestamp', '01'], /--timestamp must be a millisecond Unix time/],
  ]
  for (const [args, message] of cases) {
    const res = await offline(['derive-credentials', ...args])
    t.equal(res.code, 1)
    t.match(res.err, /^USAGE: /)
    t.match(res.err, message)
  }
  const badToken = await offline(['derive-credentials', '--instance', 'i1', '--access-key', 'ak', '--secret', 'sk', '--security-token', 'short'])
  t.match(badToken.err, /^VALIDATION_FAILED: invalid security token/)
})

t.test('access-key commands create, list, disable, enable, issue a token and delete', async (t) => {
  const { run, url, h } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-creds-' })
  t.equal((await run(['account', 'create', 'ops'])).code, 0)
  const created = await run(['access-key', 'create', '--description', 'from the cli', '--account', 'ops'])
  t.equal(created.code, 0, created.err)
  const { accessKeyId, accessKeySecret } = created.json()
  t.equal(created.json().accountId, 'ops')
  t.match(accessKeyId, /^LTAI/)
  t.match(accessKeySecret, /^[A-Za-z0-9]{30}$/)
  const list = await run(['access-key', 'list'])
  t.same(list.json().items.map((k: { accessKeyId: string }) => k.accessKeyId), [accessKeyId])
  t.notOk(list.out.includes(accessKeySecret))

  const asKey = { PORTCULLIS_ADMIN_URL: url, PORTCULLIS_ACCESS_KEY_ID: accessKeyId, PORTCULLIS_ACCESS_KEY_SECRET: accessKeySecret }
  const refused = await run(['instance', 'list'], asKey)
  t.equal(refused.code, 1, 'a key of a sub-account without a policy may not list instances')
  t.match(refused.err, /^ACCESS_DENIED: .*admin:ListInstances on admin:instances/)
  t.match(refused.err, new RegExp(`endpoint ${url} \\(from PORTCULLIS_ADMIN_URL\\), AccessKey ${accessKeyId} \\(from PORTCULLIS_ACCESS_KEY_ID/PORTCULLIS_ACCESS_KEY_SECRET\\)`), 'the error names the endpoint and the key it used')
  t.notOk(refused.err.includes(accessKeySecret), 'but never the secret')
  t.equal((await run(['access-key', 'disable', accessKeyId])).json().status, 'Inactive')
  t.equal((await run(['access-key', 'enable', '--id', accessKeyId])).json().status, 'Active')
  t.equal((await run(['access-key', 'show', accessKeyId])).json().status, 'Active')

  const token = await run(['access-key', 'token', '--id', accessKeyId, '--ttl', '600'])
  t.equal(token.code, 0, token.err)
  t.match(token.json(), { accessKeyId, securityToken: /\./, expiresAt: /Z$/ })
  const sts = await run(['derive-credentials', '--instance', 'rabbit', '--access-key', accessKeyId, '--secret', accessKeySecret, '--security-token', token.json().securityToken])
  const auth = new AmqpAuthenticator({ accessKeys: h.accessKeys, staticAccounts: h.staticAccounts, tokens: h.tokens })
  t.match(await auth.authenticate({ username: sts.json().userName, password: sts.json().password }), { ok: true, subject: { kind: 'sts' } }, 'the STS login works')
  const badTtl = await run(['access-key', 'token', accessKeyId, '--ttl', 'soon'])
  t.match(badTtl.err, /^USAGE: --ttl/)

  t.equal((await run(['access-key', 'delete', accessKeyId, '--yes'])).code, 0)
  t.same((await run(['access-key', 'list'])).json(), { items: [] })
  const gone = await run(['access-key', 'delete', accessKeyId, '--yes'])
  t.match(gone.err, /^NOT_FOUND: /)
})

t.test('static-account create signs CreateAccount locally; the answer logs in; list and delete', async (t) => {
  const { run, h } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-creds-' })
  t.equal((await run(['instance', 'create', '--id', 'rabbit', '--protocol', 'amqp', '--backend-host', '127.0.0.1', '--backend-port', '5672'])).code, 0)
  const { accessKeyId, accessKeySecret } = (await run(['access-key', 'create'])).json()
  const created = await run(['static-account', 'create', '--instance', 'rabbit', '--access-key', accessKeyId, '--secret', accessKeySecret, '--timestamp', '1700000000000'])
  t.equal(created.code, 0, created.err)
  const answer = created.json()
  t.match(answer, { instanceId: 'rabbit', accessKey: accessKeyId, createTimestamp: 1700000000000 })
  const derived = (await run(['derive-credentials', '--instance', 'rabbit', '--access-key', accessKeyId, '--secret', accessKeySecret, '--static', '--timestamp', '1700000000000'])).json()
  t.same({ userName: answer.userName, password: answer.password }, derived, 'CreateAccount and derive-credentials agree')
  const auth = new AmqpAuthenticator({ accessKeys: h.accessKeys, staticAccounts: h.staticAccounts, tokens: h.tokens })
  t.match(await auth.authenticate({ username: answer.userName, password: answer.password }), { ok: true, subject: { kind: 'static' } })

  const list = await run(['static-account', 'list', '--instance', 'rabbit'])
  t.match(list.json().items, [{ accessKey: accessKeyId, userName: answer.userName }])
  t.notOk(list.out.includes(answer.password))
  const wrongSecret = await run(['static-account', 'create', '--instance', 'rabbit', '--access-key', accessKeyId, '--secret', 'wrong'])
  t.match(wrongSecret.err, /^VALIDATION_FAILED: signature is not/)
  t.equal((await run(['static-account', 'delete', '--instance', 'rabbit', '--access-key', accessKeyId, '--yes'])).code, 0)
  t.same((await run(['static-account', 'list', '--instance', 'rabbit'])).json(), { items: [] })
  t.match((await run(['static-account', 'delete', '--instance', 'rabbit'])).err, /^USAGE: --access-key is required/)
})

t.test('audit verify reports an intact chain, and the first broken line with exit 1', async (t) => {
  const { run, cwd } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-creds-' })
  const path = join(cwd, 'audit.jsonl')
  const log = new AuditLog({ sinks: [await FileSink.open(path)] })
  for (let i = 0; i < 3; i++) log.record({ type: 'admin.accessKey.create', outcome: 'success', actor: { kind: 'accessKey', id: `k${i}` }, details: {} })
  await log.close()
  const ok = await run(['audit', 'verify', 'audit.jsonl'])
  t.equal(ok.code, 0, ok.err)
  t.same(ok.json(), { ok: true, count: 3 })

  const lines = (await readFile(path, 'utf8')).split('\n')
  lines[1] = (lines[1] ?? '').replace('"k1"', '"k9"')
  await writeFile(path, lines.join('\n'))
  const broken = await run(['audit', 'verify', path])
  t.equal(broken.code, 1)
  t.match(broken.json(), { ok: false, line: 2, problem: 'hash-mismatch' })
  t.match(broken.err, /^audit chain broken at line 2: hash-mismatch/)

  await writeFile(join(cwd, 'tail.jsonl'), `${lines[2] ?? ''}\n`)
  t.equal((await run(['audit', 'verify', 'tail.jsonl'])).code, 1, 'an excerpt does not start at genesis')
  t.same((await run(['audit', 'verify', 'tail.jsonl', '--partial'])).json(), { ok: true, count: 1 })
  t.match((await run(['audit', 'verify', 'missing.jsonl'])).err, /^FILE_UNREADABLE: /)
  t.match((await run(['audit', 'verify'])).err, /^USAGE: /)
})

t.test('help lists the AccessKey, static account, credential and audit commands', async (t) => {
  const help = await offline(['help'])
  for (const line of [/derive-credentials --instance ID --access-key AK --secret SK/, /access-key create/, /access-key token --id AK/, /static-account create --instance ID --access-key AK --secret SK/, /audit verify FILE/]) {
    t.match(help.out, line)
  }
})
