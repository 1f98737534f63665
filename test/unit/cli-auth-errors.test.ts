import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { ROOT_KEY_FILE } from '../../src/admin/root-key'
import { cliHarness, runCli } from '../helpers/cli-harness'

t.test('an auth failure names the endpoint and the key file the CLI used, never the secret', async (t) => {
  const { url, cwd } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-auth-' })
  const port = new URL(url).port
  await writeFile(join(cwd, 'portcullis.yaml'), `admin: {host: 127.0.0.1, port: ${port}}\nstore: {kind: embedded, dataDir: ./data}\n`)
  await mkdir(join(cwd, 'data'))
  const keyFile = join(cwd, 'data', ROOT_KEY_FILE)
  // A key file from another gateway: right format, wrong secret.
  await writeFile(keyFile, JSON.stringify({ accessKeyId: 'PCROOTOTHER', accessKeySecret: 'from-another-gateway' }), { mode: 0o600 })
  const res = await runCli(['instance', 'list'], {}, cwd)
  t.equal(res.code, 1)
  t.match(res.err, /^SIGNATURE_INVALID: /)
  t.ok(res.err.includes(`endpoint ${url} (from admin in ${join(cwd, 'portcullis.yaml')})`), res.err)
  t.ok(res.err.includes(`AccessKey PCROOTOTHER (from ${keyFile})`), res.err)
  t.notOk(res.err.includes('from-another-gateway'))
})

t.test('errors that are not about authentication are printed as before', async (t) => {
  const { run } = await cliHarness(t, { tmpPrefix: 'portcullis-cli-auth-' })
  const res = await run(['instance', 'show', 'nope'])
  t.equal(res.code, 1)
  t.equal(res.err, 'NOT_FOUND: instance nope does not exist\n')
})
