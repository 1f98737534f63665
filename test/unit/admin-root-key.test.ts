import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { loadOrCreateRootKey, rootKeyResolver, ROOT_KEY_FILE } from '../../src/admin/root-key'
import { isPortcullisError } from '../../src/errors'

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-rootkey-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return join(dir, 'data')
}

t.test('generates the root key on first start, mode 0600, and reuses it afterwards', async (t) => {
  const dataDir = await tempDir(t)
  const first = await loadOrCreateRootKey({ dataDir, secrets: { requireServices: false } })
  t.equal(first.source, 'generated')
  t.equal(first.file, join(dataDir, ROOT_KEY_FILE))
  t.equal((await stat(join(dataDir, ROOT_KEY_FILE))).mode & 0o777, 0o600)
  const stored = JSON.parse(await readFile(join(dataDir, ROOT_KEY_FILE), 'utf8'))
  t.equal(stored.accessKeySecret, first.accessKeySecret)
  const second = await loadOrCreateRootKey({ dataDir, secrets: { requireServices: false } })
  t.equal(second.source, 'file')
  t.equal(second.accessKeyId, first.accessKeyId)
  t.equal(second.accessKeySecret, first.accessKeySecret)
})

t.test('the environment key wins and is not written to disk; half of it is refused', async (t) => {
  const dataDir = await tempDir(t)
  const key = await loadOrCreateRootKey({ dataDir, secrets: { requireServices: false, rootAccessKeyId: 'ENVKEY', rootAccessKeySecret: 'env-secret' } })
  t.same(key, { accessKeyId: 'ENVKEY', accessKeySecret: 'env-secret', source: 'env' })
  await t.rejects(stat(join(dataDir, ROOT_KEY_FILE)), 'no key file written')
  try {
    await loadOrCreateRootKey({ dataDir, secrets: { requireServices: false, rootAccessKeyId: 'ENVKEY' } })
    t.fail('accepted an id without a secret')
  } catch (err) {
    t.ok(isPortcullisError(err, 'CONFIG_INVALID'))
  }
})

t.test('the resolver answers the root secret for the root id only', async (t) => {
  const root = rootKeyResolver({ accessKeyId: 'R', accessKeySecret: 's' })
  t.same(await root('R'), { secret: 's' })
  t.equal(await root('X'), undefined)
  t.equal(await root('LTAI00000000000000000000'), undefined, 'an AccessKey id is not looked up')
})

