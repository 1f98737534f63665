import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { open, rewrap, seal } from '../../src/auth/envelope'
import { loadMasterKey, MASTER_KEY_FILE, newKeyFileEntry } from '../../src/auth/master-key'
import { isPortcullisError, type ErrorCode } from '../../src/errors'
import type { SealedSecret } from '../../src/store/records'
import { rejectsWith } from '../helpers/rejects'

async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-auth-envelope-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}

function throwsWith(t: Test, f: () => unknown, code: ErrorCode): void {
  try {
    f()
    t.fail(`expected ${code}`)
  } catch (err) {
    t.ok(isPortcullisError(err, code), `refused with ${code} (got ${(err as Error).message})`)
  }
}

const key64 = (): string => randomBytes(32).toString('base64')

/** Flips one bit of a Base64 field. */
function flip(field: string, byte = 0): string {
  const bytes = Buffer.from(field, 'base64')
  bytes[byte] = (bytes[byte] ?? 0) ^ 1
  return bytes.toString('base64')
}

t.test('seals and opens a secret, with a fresh data key and IV each time', async (t) => {
  const ring = await loadMasterKey({ masterKey: key64(), masterKeyId: 'k1', dataDir: await tempDir(t) })
  const a = seal(ring, 'the secret', 'accessKeys/A')
  const b = seal(ring, 'the secret', 'accessKeys/A')
  t.equal(open(ring, a, 'accessKeys/A'), 'the secret')
  t.equal(a.keyId, 'k1')
  t.not(a.ciphertext, b.ciphertext)
  t.not(a.iv, b.iv)
  t.not(a.wrappedKey, b.wrappedKey)
  t.notMatch(JSON.stringify(a), /the secret/)
})

t.test('detects tampering with every field and a ciphertext moved to another record', async (t) => {
  const ring = await loadMasterKey({ masterKey: key64(), masterKeyId: 'k1', dataDir: await tempDir(t) })
  const sealed = seal(ring, 'the secret', 'accessKeys/A')
  const variants: Array<[string, SealedSecret, string]> = [
    ['ciphertext', { ...sealed, ciphertext: flip(sealed.ciphertext) }, 'accessKeys/A'],
    ['tag', { ...sealed, tag: flip(sealed.tag) }, 'accessKeys/A'],
    ['iv', { ...sealed, iv: flip(sealed.iv) }, 'accessKeys/A'],
    ['wrapped key', { ...sealed, wrappedKey: flip(sealed.wrappedKey, 20) }, 'accessKeys/A'],
    ['wrapped key IV', { ...sealed, wrappedKey: flip(sealed.wrappedKey, 0) }, 'accessKeys/A'],
    ['aad swap', sealed, 'accessKeys/B'],
    ['truncated tag', { ...sealed, tag: sealed.tag.slice(0, 8) }, 'accessKeys/A'],
    ['non-Base64 field', { ...sealed, iv: '!!!' }, 'accessKeys/A'],
    ['unknown key id', { ...sealed, keyId: 'k9' }, 'accessKeys/A'],
  ]
  for (const [name, s, aad] of variants) {
    t.test(name, async (t) => throwsWith(t, () => open(ring, s, aad), 'INTERNAL'))
  }
  const other = seal(ring, 'other secret', 'accessKeys/B')
  throwsWith(t, () => open(ring, { ...sealed, wrappedKey: other.wrappedKey }, 'accessKeys/A'), 'INTERNAL')
})

t.test('re-wraps under a rotated master key without touching the ciphertext', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'keys.json')
  const oldEntry = newKeyFileEntry('old')
  const newEntry = newKeyFileEntry('new')
  await writeFile(file, JSON.stringify({ keys: [oldEntry] }), { mode: 0o600 })
  const before = await loadMasterKey({ masterKeyFile: file, dataDir: dir })
  const sealed = seal(before, 'rotate me', 'accessKeys/A')

  await writeFile(file, JSON.stringify({ keys: [oldEntry, newEntry] }), { mode: 0o600 })
  const after = await loadMasterKey({ masterKeyFile: file, dataDir: dir })
  t.equal(after.current.id, 'new', 'the last key in the file is current')
  t.equal(open(after, sealed, 'accessKeys/A'), 'rotate me', 'old secrets still open')
  const rewrapped = rewrap(after, sealed)
  t.equal(rewrapped.keyId, 'new')
  t.equal(rewrapped.ciphertext, sealed.ciphertext)
  t.equal(open(after, rewrapped, 'accessKeys/A'), 'rotate me')
  t.equal(rewrap(after, rewrapped), rewrapped, 'already current: unchanged')
  const onlyNew = await loadMasterKey({ masterKey: newEntry.key, masterKeyId: 'new', dataDir: dir })
  t.equal(open(onlyNew, rewrapped, 'accessKeys/A'), 'rotate me', 'the old key is no longer needed')
  throwsWith(t, () => open(onlyNew, sealed, 'accessKeys/A'), 'INTERNAL')
})

t.test('takes the master key from the environment, with its id or a fingerprint id', async (t) => {
  const dir = await tempDir(t)
  const k = key64()
  const named = await loadMasterKey({ masterKey: k, masterKeyId: 'prod-1', dataDir: dir })
  t.equal(named.source, 'env')
  t.equal(named.current.id, 'prod-1')
  const a = await loadMasterKey({ masterKey: k, dataDir: dir })
  const b = await loadMasterKey({ masterKey: k, dataDir: dir })
  const c = await loadMasterKey({ masterKey: key64(), dataDir: dir })
  t.match(a.current.id, /^mk-[0-9a-f]{12}$/)
  t.equal(a.current.id, b.current.id, 'the same key has the same id on every start')
  t.not(a.current.id, c.current.id)
  await t.rejects(stat(join(dir, MASTER_KEY_FILE)), { code: 'ENOENT' }, 'no key file is written when the key comes from the environment')
})

t.test('refuses master keys that are not Base64 of 32 bytes, and an id without a key', async (t) => {
  const dir = await tempDir(t)
  await rejectsWith(t, loadMasterKey({ masterKey: randomBytes(16).toString('base64'), dataDir: dir }), 'CONFIG_INVALID', /32 bytes/)
  await rejectsWith(t, loadMasterKey({ masterKey: 'not base64!', dataDir: dir }), 'CONFIG_INVALID')
  await rejectsWith(t, loadMasterKey({ masterKey: key64(), masterKeyId: 'bad:id', dataDir: dir }), 'CONFIG_INVALID', /key id/)
  await rejectsWith(t, loadMasterKey({ masterKeyId: 'k', dataDir: dir }), 'CONFIG_INVALID', /without PORTCULLIS_MASTER_KEY/)
})

t.test('generates a 0600 master key file in the data directory on first start and reuses it', async (t) => {
  const dir = await tempDir(t)
  const first = await loadMasterKey({ dataDir: dir })
  t.equal(first.source, 'generated')
  const file = join(dir, MASTER_KEY_FILE)
  t.equal(first.file, file)
  t.equal((await stat(file)).mode & 0o777, 0o600)
  const second = await loadMasterKey({ dataDir: dir })
  t.equal(second.source, 'file')
  t.equal(second.current.id, first.current.id)
  const sealed = seal(first, 'same key', 'aad')
  t.equal(open(second, sealed, 'aad'), 'same key', 'the reused file holds the same key')
  const doc = JSON.parse(await readFile(file, 'utf8')) as { keys: unknown[] }
  t.equal(doc.keys.length, 1)
})

t.test('refuses a world-readable key file, a missing named file and a malformed one', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'keys.json')
  await writeFile(file, JSON.stringify(newKeyFileEntry('k1')), { mode: 0o600 })
  t.equal((await loadMasterKey({ masterKeyFile: file, dataDir: dir })).current.id, 'k1', 'a single {keyId, key} object is a key file too')
  await chmod(file, 0o644)
  await rejectsWith(t, loadMasterKey({ masterKeyFile: file, dataDir: dir }), 'CONFIG_INVALID', /readable by others/)
  await chmod(file, 0o640)
  t.equal((await loadMasterKey({ masterKeyFile: file, dataDir: dir })).current.id, 'k1', 'group read is allowed (Kubernetes fsGroup)')
  await rejectsWith(t, loadMasterKey({ masterKeyFile: join(dir, 'absent.json'), dataDir: dir }), 'CONFIG_INVALID', /cannot read/)
  await writeFile(file, '{"keys": [{"keyId": "a"}]}', { mode: 0o600 })
  await rejectsWith(t, loadMasterKey({ masterKeyFile: file, dataDir: dir }), 'CONFIG_INVALID', /entry 0/)
  await writeFile(file, JSON.stringify({ keys: [newKeyFileEntry('same'), newKeyFileEntry('same')] }), { mode: 0o600 })
  await rejectsWith(t, loadMasterKey({ masterKeyFile: file, dataDir: dir }), 'CONFIG_INVALID', /share the id/)
  await writeFile(file, JSON.stringify({ keys: [] }), { mode: 0o600 })
  await rejectsWith(t, loadMasterKey({ masterKeyFile: file, dataDir: dir }), 'CONFIG_INVALID', /no key/)
})

t.test('an environment key is current and a key file next to it still opens older secrets', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'old-keys.json')
  await writeFile(file, JSON.stringify({ keys: [newKeyFileEntry('old')] }), { mode: 0o600 })
  const old = await loadMasterKey({ masterKeyFile: file, dataDir: dir })
  const sealed = seal(old, 'x', 'aad')
  const ring = await loadMasterKey({ masterKey: key64(), masterKeyId: 'new', masterKeyFile: file, dataDir: dir })
  t.equal(ring.current.id, 'new')
  t.same([...ring.ids].sort(), ['new', 'old'])
  t.equal(open(ring, sealed, 'aad'), 'x')
})
