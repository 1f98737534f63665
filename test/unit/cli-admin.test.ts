import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { createCa, createLeaf, createVerificationCertificate } from '../../src/ca/pki'
import { ROOT } from '../helpers/admin-harness'
import { cliHarness } from '../helpers/cli-harness'

t.test('instance commands create, list, show, update and delete through the signed API', async (t) => {
  const { run } = await cliHarness(t)
  const created = await run(['instance', 'create', '--id', 'cli-1', '--protocol', 'mqtt', '--hostname', 'cli.example.com', '--hostname', 'cli2.example.com'])
  t.equal(created.code, 0, created.err)
  t.same(created.json().hostnames, ['cli.example.com', 'cli2.example.com'])
  t.same((await run(['instance', 'list'])).json().items.map((i: { id: string }) => i.id), ['cli-1'])
  t.equal((await run(['instance', 'show', 'cli-1'])).json().id, 'cli-1')
  const updated = await run(['instance', 'update', 'cli-1', '--access-type', 'SINGLE_TUNNEL', '--vpc-id', 'vpc-7'])
  t.equal(updated.code, 0, updated.err)
  t.equal(updated.json().vpcId, 'vpc-7')
  t.same(created.json().authorization, { mode: 'off' }, 'authorization is off unless asked for')
  const enforcing = await run(['instance', 'update', 'cli-1', '--authorization', 'enforce'])
  t.equal(enforcing.code, 0, enforcing.err)
  t.same(enforcing.json().authorization, { mode: 'enforce' })
  const bad = await run(['instance', 'update', 'cli-1', '--authorization', 'sometimes'])
  t.match(bad.err, /^VALIDATION_FAILED: .*authorization\.mode/)
  t.equal((await run(['instance', 'delete', 'cli-1', '--yes'])).code, 0)
  const gone = await run(['instance', 'show', 'cli-1'])
  t.equal(gone.code, 1)
  t.match(gone.err, /^NOT_FOUND: instance cli-1 does not exist\n$/)
})

t.test('instance create reads a body file, and a password given there is never printed', async (t) => {
  const { run, cwd } = await cliHarness(t)
  await writeFile(join(cwd, 'amqp.yaml'), 'id: amqp-cli\nprotocol: amqp\nbackend:\n  host: 127.0.0.1\n  port: 5672\n  username: guest\n  password: guest-pass\n')
  const res = await run(['instance', 'create', '-f', 'amqp.yaml'])
  t.equal(res.code, 0, res.err)
  t.equal(res.json().backend.passwordSet, true)
  t.notOk(res.out.includes('guest-pass'))
})

t.test('ca and device commands run the registration flow', async (t) => {
  const { run, cwd } = await cliHarness(t)
  t.equal((await run(['instance', 'create', '--id', 'mq', '--protocol', 'mqtt'])).code, 0)
  const ca = await createCa({ commonName: 'CLI CA' })
  const code = await run(['ca', 'code', '--instance', 'mq'])
  t.equal(code.code, 0, code.err)
  const verification = await createVerificationCertificate({ registrationCode: code.json().registrationCode, ca })
  await writeFile(join(cwd, 'ca.pem'), ca.cert)
  await writeFile(join(cwd, 'verification.pem'), verification.cert)
  const reg = await run(['ca', 'register', '--instance', 'mq', '--ca', 'ca.pem', '--verification', 'verification.pem'])
  t.equal(reg.code, 0, reg.err)
  const caId = reg.json().id as string
  t.same((await run(['ca', 'list', '-i', 'mq'])).json().items.map((c: { id: string }) => c.id), [caId])
  t.equal((await run(['ca', 'show', '--instance', 'mq', caId])).json().id, caId)

  const device = await createLeaf({ commonName: 'cli-device', issuer: ca, kind: 'client' })
  await writeFile(join(cwd, 'device.pem'), device.cert)
  const dev = await run(['device', 'register', '--instance', 'mq', '--cert', 'device.pem'])
  t.equal(dev.code, 0, dev.err)
  const deviceId = dev.json().id as string
  t.same((await run(['device', 'list', '--instance', 'mq', '--status', 'active'])).json().items.map((d: { id: string }) => d.id), [deviceId])
  const pem = await run(['device', 'show', '--instance', 'mq', deviceId, '--pem'])
  t.match(pem.out, /^-----BEGIN CERTIFICATE-----/)
  t.equal((await run(['device', 'download', '--instance', 'mq', deviceId, '--out', 'copy.pem'])).code, 0)
  t.match(await readFile(join(cwd, 'copy.pem'), 'utf8'), /^-----BEGIN CERTIFICATE-----/)

  t.equal((await run(['ca', 'deactivate', '--instance', 'mq', caId])).json().status, 'INACTIVE')
  const blocked = await run(['ca', 'delete', '--instance', 'mq', caId, '--yes'])
  t.equal(blocked.code, 1)
  t.match(blocked.err, /^CA_HAS_ACTIVE_DEVICES: /)
  t.equal((await run(['device', 'revoke', '--instance', 'mq', deviceId, '--yes'])).json().status, 'REVOKED')
  t.equal((await run(['ca', 'delete', '--instance', 'mq', caId, '--yes'])).code, 0)
})

t.test('without env the CLI finds the endpoint in -c FILE and the key in the data directory', async (t) => {
  const { run, cwd, url } = await cliHarness(t)
  const port = new URL(url).port
  await writeFile(join(cwd, 'gw.yaml'), `admin:\n  host: 127.0.0.1\n  port: ${port}\nstore:\n  kind: embedded\n  dataDir: ./gwdata\n`)
  const noKey = await run(['instance', 'list', '-c', 'gw.yaml'], {})
  t.equal(noKey.code, 1)
  t.match(noKey.err, /^ADMIN_KEY_MISSING: .*root-access-key\.json/)
  await mkdir(join(cwd, 'gwdata'), { recursive: true })
  await writeFile(join(cwd, 'gwdata', 'root-access-key.json'), JSON.stringify({ ...ROOT, createdAt: new Date().toISOString() }), { mode: 0o600 })
  const ok = await run(['instance', 'list', '-c', 'gw.yaml'], {})
  t.equal(ok.code, 0, ok.err)
  t.same(ok.json(), { items: [] })
  const wrongKey = await run(['instance', 'list'], { PORTCULLIS_ADMIN_URL: url, PORTCULLIS_ACCESS_KEY_ID: ROOT.accessKeyId, PORTCULLIS_ACCESS_KEY_SECRET: 'nope' })
  t.equal(wrongKey.code, 1)
  t.match(wrongKey.err, /^SIGNATURE_INVALID: /)
})

t.test('usage errors, help and an unreachable endpoint exit 1 or 0 as they should', async (t) => {
  const { run } = await cliHarness(t)
  const help = await run(['help'])
  t.equal(help.code, 0)
  t.match(help.out, /ca register --instance ID --ca FILE --verification FILE/)
  const unknown = await run(['frobnicate'])
  t.equal(unknown.code, 1)
  t.match(unknown.err, /^USAGE: unknown command frobnicate/)
  const noSub = await run(['ca'])
  t.match(noSub.err, /^USAGE: ca needs one of: code, register/)
  const badFlag = await run(['instance', 'list', '--colour'])
  t.match(badFlag.err, /^USAGE: /)
  const missing = await run(['ca', 'register', '--instance', 'mq'])
  t.match(missing.err, /^USAGE: --ca FILE is required/)
  const down = await run(['instance', 'list'], { PORTCULLIS_ADMIN_URL: 'http://127.0.0.1:1', PORTCULLIS_ACCESS_KEY_ID: 'a', PORTCULLIS_ACCESS_KEY_SECRET: 'b' })
  t.equal(down.code, 1)
  t.match(down.err, /^ADMIN_UNREACHABLE: /)
})

t.test('dev-pki writes a demo PKI into the given directory', async (t) => {
  const { run, cwd } = await cliHarness(t)
  const res = await run(['dev-pki', 'pki'])
  t.equal(res.code, 0, res.err)
  t.equal(res.json().caCert, join(cwd, 'pki', 'ca.pem'))
  t.match(await readFile(join(cwd, 'pki', 'client.pem'), 'utf8'), /BEGIN CERTIFICATE/)
})
